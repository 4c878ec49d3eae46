// shoal-cni's checks of what the runtime hands it, and the bridge config it builds.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "cni/netconf.h"

namespace shoal::cni {
namespace {

using json = nlohmann::json;

// 198.18.5.0/24 of 198.18.0.0/16, MTU 1450, the agent not masquerading.
SubnetEnv test_env() {
  auto env = parse_subnet_env(
      "FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.5.1/24\nFLANNEL_MTU=1450\n"
      "FLANNEL_IPMASQ=false\n");
  REQUIRE(env);
  return *env;
}

ErrorCode code_of(std::string_view text, Command command = Command::kAdd) {
  auto conf = parse_netconf(text, command);
  REQUIRE_FALSE(conf);
  return conf.error().code;
}

TEST_CASE("cni: the bridge config is flannel's, from subnet.env") {
  auto conf = parse_netconf(R"({"cniVersion": "1.0.0", "name": "shoal", "type": "shoal-cni"})",
                            Command::kAdd);
  REQUIRE(conf);
  CHECK(conf->subnet_file == "/run/shoal/subnet.env");
  CHECK(conf->wait_seconds == 30);
  const json bridge = delegate_config(*conf, test_env());
  CHECK(bridge["type"] == "bridge");
  CHECK(bridge["bridge"] == "cni0");
  CHECK(bridge["isGateway"] == true);
  CHECK(bridge["isDefaultGateway"] == true);
  CHECK(bridge["hairpinMode"] == true);
  CHECK(bridge["ipMasq"] == true);  // FLANNEL_IPMASQ=false: the agent does not, so bridge does
  CHECK(bridge["mtu"] == 1450);
  CHECK(bridge["cniVersion"] == "1.0.0");
  CHECK(bridge["ipam"]["type"] == "host-local");
  CHECK(bridge["ipam"]["ranges"][0][0]["subnet"] == "198.18.5.0/24");
  CHECK(bridge["ipam"]["routes"][0]["dst"] == "198.18.0.0/16");
  CHECK(bridge["ipam"]["routes"][0]["gw"] == "198.18.5.1");

  SubnetEnv masq = test_env();
  masq.ipmasq = true;
  CHECK(delegate_config(*conf, masq)["ipMasq"] == false);
}

TEST_CASE("cni: delegate keys override; runtimeConfig and prevResult pass through; 1.1.0") {
  auto conf = parse_netconf(R"({"cniVersion": "1.1.0", "name": "shoal", "type": "shoal-cni",
      "subnetFile": "/run/flannel/subnet.env", "waitSeconds": 0,
      "delegate": {"bridge": "shoal0", "hairpinMode": false, "ipam": {"dataDir": "/tmp/x"}},
      "runtimeConfig": {"portMappings": []}, "prevResult": {"ips": []}})",
                            Command::kAdd);
  REQUIRE(conf);
  CHECK(conf->subnet_file == "/run/flannel/subnet.env");
  CHECK(conf->wait_seconds == 0);
  const json bridge = delegate_config(*conf, test_env());
  CHECK(bridge["bridge"] == "shoal0");
  CHECK(bridge["hairpinMode"] == false);
  CHECK(bridge["ipam"]["dataDir"] == "/tmp/x");
  CHECK(bridge["ipam"]["type"] == "host-local");  // merged, not replaced
  CHECK(bridge.contains("runtimeConfig"));
  CHECK(bridge.contains("prevResult"));
  CHECK(bridge["cniVersion"] == "1.0.0");  // Debian's bridge speaks up to 1.0.0
}

TEST_CASE("cni: bad configurations get the spec's codes") {
  CHECK(code_of("{\"cniVersion\": ") == ErrorCode::kDecodeFailure);
  CHECK(code_of("[1, 2]") == ErrorCode::kDecodeFailure);
  CHECK(code_of(std::string(kMaxNetConfSize + 1, ' ')) == ErrorCode::kDecodeFailure);
  CHECK(code_of(R"({"name": "shoal"})") == ErrorCode::kInvalidNetworkConfig);
  CHECK(code_of(R"({"cniVersion": "2.0.0", "name": "shoal"})") == ErrorCode::kIncompatibleVersion);
  CHECK(code_of(R"({"cniVersion": "0.3.1", "name": "shoal"})", Command::kCheck) ==
        ErrorCode::kIncompatibleVersion);
  CHECK(code_of(R"({"cniVersion": "1.0.0", "name": "shoal"})", Command::kGc) ==
        ErrorCode::kIncompatibleVersion);
  CHECK(code_of(R"({"cniVersion": "1.0.0", "name": "../etc"})") ==
        ErrorCode::kInvalidNetworkConfig);
  CHECK(code_of(R"({"cniVersion": "1.0.0", "name": "shoal", "waitSeconds": -1})") ==
        ErrorCode::kInvalidNetworkConfig);
  CHECK(code_of(R"({"cniVersion": "1.0.0", "name": "shoal", "waitSeconds": "soon"})") ==
        ErrorCode::kInvalidNetworkConfig);
  CHECK(code_of(R"({"cniVersion": "1.0.0", "name": "shoal", "subnetFile": 7})") ==
        ErrorCode::kInvalidNetworkConfig);
  CHECK(code_of(R"({"cniVersion": "1.0.0", "name": "shoal", "delegate": []})") ==
        ErrorCode::kInvalidNetworkConfig);
  CHECK(code_of(R"({"cniVersion": "1.0.0", "name": "shoal", "delegate": {"type": "macvlan"}})") ==
        ErrorCode::kUnsupportedField);
  CHECK(code_of(R"({"cniVersion": "1.1.0", "name": "shoal",
                    "cni.dev/valid-attachments": [{"containerID": 1}]})",
                Command::kGc) == ErrorCode::kInvalidNetworkConfig);
}

TEST_CASE("cni: GC's valid attachments") {
  auto conf = parse_netconf(R"({"cniVersion": "1.1.0", "name": "shoal",
      "cni.dev/valid-attachments": [{"containerID": "abc", "ifname": "eth0"}]})",
                            Command::kGc);
  REQUIRE(conf);
  REQUIRE(conf->valid_attachments.size() == 1);
  CHECK(conf->valid_attachments[0] == Attachment{"abc", "eth0"});
}

// The environment of a call, as a map.
std::map<std::string, std::string> g_env;
const char* fake_getenv(const char* name) {
  const auto it = g_env.find(name);
  return it == g_env.end() ? nullptr : it->second.c_str();
}

TEST_CASE("cni: the CNI_* environment is checked per command") {
  g_env = {{"CNI_COMMAND", "ADD"},
           {"CNI_CONTAINERID", "c0ffee"},
           {"CNI_NETNS", "/var/run/netns/x"},
           {"CNI_IFNAME", "eth0"},
           {"CNI_PATH", "/usr/lib/cni"}};
  auto call = read_invocation(fake_getenv);
  REQUIRE(call);
  CHECK(call->command == Command::kAdd);
  CHECK(call->container_id == "c0ffee");

  auto refused = [](std::map<std::string, std::string> env) {
    g_env = std::move(env);
    auto c = read_invocation(fake_getenv);
    REQUIRE_FALSE(c);
    return c.error();
  };
  auto base = g_env;
  auto with = [&](const char* key, const char* value) {
    auto e = base;
    if (value)
      e[key] = value;
    else
      e.erase(key);
    return e;
  };
  CHECK(refused(with("CNI_COMMAND", nullptr)).code == ErrorCode::kInvalidEnvironment);
  CHECK(refused(with("CNI_COMMAND", "FROB")).msg.find("FROB") != std::string::npos);
  CHECK(refused(with("CNI_CONTAINERID", "../../etc")).code == ErrorCode::kInvalidEnvironment);
  CHECK(refused(with("CNI_IFNAME", "a-name-far-too-long")).code == ErrorCode::kInvalidEnvironment);
  CHECK(refused(with("CNI_IFNAME", "eth/0")).code == ErrorCode::kInvalidEnvironment);
  CHECK(refused(with("CNI_NETNS", nullptr)).code == ErrorCode::kInvalidEnvironment);
  CHECK(refused(with("CNI_PATH", nullptr)).code == ErrorCode::kInvalidEnvironment);

  g_env = with("CNI_NETNS", nullptr);  // DEL may come after the namespace is gone
  g_env["CNI_COMMAND"] = "DEL";
  CHECK(read_invocation(fake_getenv));
  g_env = {{"CNI_COMMAND", "VERSION"}};  // VERSION needs nothing else
  CHECK(read_invocation(fake_getenv));
}

TEST_CASE("cni: errors and VERSION render as the spec says") {
  const json e = json::parse(
      render_error({ErrorCode::kTryAgainLater, "no subnet yet", "start the agent"}, "1.0.0"));
  CHECK(e["code"] == 11);
  CHECK(e["msg"] == "no subnet yet");
  CHECK(e["details"] == "start the agent");
  CHECK(e["cniVersion"] == "1.0.0");
  // Invalid UTF-8 from the runtime does not make rendering throw.
  CHECK_NOTHROW(render_error({ErrorCode::kInvalidEnvironment, "bad \xff name", ""}, ""));
  const json v = json::parse(render_version_info(""));
  CHECK(v["cniVersion"] == "1.1.0");
  CHECK(v["supportedVersions"].size() == supported_versions().size());
}

}  // namespace
}  // namespace shoal::cni
