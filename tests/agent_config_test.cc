#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <variant>

#include "agent/config.h"
#include "common/file_io.h"
#include "tests/temp_dir.h"

using namespace shoal;
using namespace shoal::agent;
using shoal::test::TempDir;

namespace {

AgentConfig parsed(std::string_view json) {
  auto r = parse_config(json, "shoal.json");
  if (!r) FAIL("unexpected error: " << r.error().to_string());
  return std::move(r).value();
}

std::string parse_error(std::string_view json) {
  auto r = parse_config(json, "shoal.json");
  return r ? std::string("(no error)") : r.error().to_string();
}

// The text of apply_flag's and finish()'s errors; empty when there is none.
std::string flag_text(AgentConfig& c, std::string_view flag, std::string_view value) {
  return apply_flag(c, flag, value).to_string();
}
std::string finish_text(AgentConfig& c) { return finish(c).to_string(); }

AgentConfig finished(std::string_view json) {
  AgentConfig c = parsed(json);
  const std::string error = finish_text(c);
  if (!error.empty()) FAIL("unexpected error: " << error);
  return c;
}

std::string finish_error(std::string_view json) {
  AgentConfig c = parsed(json);
  const std::string error = finish_text(c);
  return error.empty() ? "(no error)" : error;
}

bool has_warning(const AgentConfig& c, std::string_view text) {
  for (const auto& w : c.warnings)
    if (w.find(text) != std::string::npos) return true;
  return false;
}

constexpr std::string_view kFull = R"({
  "Network": "198.18.0.0/16",
  "SubnetLen": 26,
  "SubnetMin": "198.18.1.0",
  "SubnetMax": "198.18.200.192",
  "SitePools": {"east": {"SubnetMin": "198.18.100.0", "SubnetMax": "198.18.150.192"}},
  "Backend": {"Type": "auto", "Fallback": "udp", "Port": 8300},
  "Name": "host-a",
  "Bind": "192.0.2.10:7000",
  "Advertise": "192.0.2.10",
  "Seeds": ["192.0.2.11:7000", "192.0.2.12", "[2001:db8::1]:7001"],
  "Site": "east",
  "DataDir": "/var/lib/shoal-test",
  "Profile": "wan",
  "KeyFile": "/etc/shoal/key",
  "SubnetFile": "/run/shoal-test/subnet.env",
  "LeaseTTL": "1h30m",
  "ControlSocket": "/run/shoal-test/shoal.sock",
  "MetricsAddr": "127.0.0.1:9090",
  "LogLevel": "debug",
  "MTU": 1400,
  "IPMasq": true
})";

}  // namespace

TEST_CASE("a full configuration sets every key") {
  const AgentConfig c = finished(kFull);
  CHECK(c.warnings.empty());
  CHECK(c.network_spec.network == "198.18.0.0/16");
  REQUIRE(c.network);
  CHECK(c.network->subnet_len() == 26);
  CHECK(c.network->subnet_min().to_string() == "198.18.1.0");
  CHECK(c.network->subnet_max().to_string() == "198.18.200.192");
  CHECK(c.network->candidates("east").front().to_string() == "198.18.100.0/26");
  CHECK(c.backend.type == BackendType::kAuto);
  CHECK(c.backend.fallback == BackendType::kUdp);
  CHECK(c.backend.effective_port == 8300);
  CHECK(c.name == "host-a");
  CHECK(c.bind.to_string() == "192.0.2.10:7000");
  CHECK(c.advertise->to_string() == "192.0.2.10");
  REQUIRE(c.seeds.size() == 3);
  CHECK(c.seeds[0].to_string() == "192.0.2.11:7000");
  CHECK(c.seeds[1].to_string() == "192.0.2.12:7946");  // the default gossip port
  CHECK(c.seeds[2].to_string() == "[2001:db8::1]:7001");
  CHECK(c.site == "east");
  CHECK(c.data_dir == "/var/lib/shoal-test");
  CHECK(c.profile == "wan");
  CHECK(c.gossip.probe_interval == gossip::Config::wan().probe_interval);
  CHECK(c.key_file == "/etc/shoal/key");
  CHECK(c.subnet_file == "/run/shoal-test/subnet.env");
  CHECK(c.lease_ttl == std::chrono::minutes(90));
  CHECK(c.control_socket == "/run/shoal-test/shoal.sock");
  CHECK(c.metrics_addr->to_string() == "127.0.0.1:9090");
  CHECK(c.log_level == LogLevel::kDebug);
  CHECK(c.mtu == 1400);
  CHECK(c.ip_masq);
  CHECK(c.origins.at("LeaseTTL") == "shoal.json");
}

TEST_CASE("the full example of docs/config.md is valid") {
  const AgentConfig c = finished(R"({
    "Network": "198.18.0.0/16",
    "SubnetLen": 24,
    "SitePools": {
      "east": {"SubnetMin": "198.18.1.0", "SubnetMax": "198.18.127.0"},
      "west": {"SubnetMin": "198.18.128.0", "SubnetMax": "198.18.255.0"}
    },
    "Backend": {"Type": "auto", "Fallback": "udp"},
    "Name": "host-a",
    "Bind": "0.0.0.0:7946",
    "Advertise": "192.0.2.10",
    "Seeds": ["192.0.2.11", "192.0.2.12:7946"],
    "Site": "east",
    "KeyFile": "/etc/shoal/cluster.key",
    "LeaseTTL": "24h",
    "MetricsAddr": "127.0.0.1:9090",
    "MTU": 0,
    "IPMasq": true
  })");
  CHECK(c.warnings.empty());
  CHECK(c.network->candidates("east").size() == 127);
  CHECK(c.network->candidates("west").size() == 128);
  CHECK(c.backend.effective_port == kDefaultUdpPort);

  const AgentConfig north = finished(R"({"Network": "198.18.0.0/16", "Site": "north",
    "SitePools": {"east": {"SubnetMin": "198.18.1.0", "SubnetMax": "198.18.127.0"}}})");
  CHECK(has_warning(north, R"(shoal.json: site "north" has no pool in SitePools)"));
}

TEST_CASE("flannel's sample net-conf.json parses") {
  // Parse-only: the network is flannel's documented example; nothing is sent anywhere.
  const AgentConfig c = finished(R"({"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}})");
  CHECK(c.network->subnet_len() == 24);
  CHECK(c.backend.type == BackendType::kVxlan);
  CHECK(c.backend.effective_port == kDefaultVxlanPort);
  CHECK(c.backend.effective_vni == 1);
}

TEST_CASE("defaults: only Network is required") {
  const AgentConfig c = finished(R"({"Network": "198.18.0.0/16"})");
  CHECK(c.bind.to_string() == "0.0.0.0:7946");
  CHECK_FALSE(c.advertise);
  CHECK(c.seeds.empty());
  CHECK(c.data_dir == "/var/lib/shoal");
  CHECK(c.subnet_file == "/run/shoal/subnet.env");
  CHECK(c.control_socket == "/run/shoal/shoal.sock");
  CHECK(c.lease_ttl == std::chrono::hours(24));
  CHECK(c.profile == "lan");
  CHECK(c.log_level == LogLevel::kInfo);
  CHECK(c.key_file.empty());
  CHECK_FALSE(c.metrics_addr);
  CHECK(c.mtu == 0);
  CHECK_FALSE(c.ip_masq);
  CHECK(c.backend.type == BackendType::kVxlan);
  char host[256] = {};
  REQUIRE(::gethostname(host, sizeof host - 1) == 0);
  CHECK(c.name == host);
  CHECK(c.network->subnet_min().to_string() == "198.18.1.0");
}

TEST_CASE("flannel keys shoal does not use are accepted with a warning") {
  const AgentConfig c = finished(R"({
    "Network": "198.18.0.0/16", "EnableIPv4": true, "EnableIPv6": false,
    "IPv6Network": "2001:db8::/48", "EnableNFTables": false,
    "Backend": {"Type": "vxlan", "VNI": 4, "DirectRouting": true, "GBP": false}})");
  CHECK(c.backend.effective_vni == 4);
  CHECK(c.warnings.size() == 6);
  CHECK(has_warning(c, "shoal.json: \"EnableIPv6\": ignored (shoal supports IPv4 only)"));
  CHECK(has_warning(c, "\"Backend.DirectRouting\": ignored (Backend.Type \"auto\""));
  CHECK(has_warning(c, "\"Backend.GBP\": ignored"));
  CHECK(has_warning(c, "\"EnableNFTables\": ignored"));
}

TEST_CASE("keys match regardless of case, as in flannel, with a warning") {
  const AgentConfig c = finished(R"({"network": "198.18.0.0/16", "backend": {"type": "udp"}})");
  CHECK(c.backend.type == BackendType::kUdp);
  CHECK(c.backend.effective_port == kDefaultUdpPort);
  CHECK(has_warning(c, "\"network\" read as \"Network\""));
  CHECK(has_warning(c, "\"Backend.type\" read as \"Backend.Type\""));
  // null sets nothing, like Go's encoding/json.
  CHECK(finished(R"({"Network": "198.18.0.0/16", "MTU": null})").mtu == 0);
}

TEST_CASE("each invalid key gives its own error") {
  struct Case {
    const char* json;
    const char* error;
  };
  const Case cases[] = {
      {R"({"Network": 5})",
       R"(shoal.json: "Network": must be an IPv4 network in CIDR form, like "198.18.0.0/16", got 5)"},
      {R"({"SubnetLen": "abc"})",
       R"(shoal.json: "SubnetLen": must be an integer between 0 and 32, got "abc")"},
      {R"({"SubnetLen": 24.5})",
       R"(shoal.json: "SubnetLen": must be an integer between 0 and 32, got 24.5)"},
      {R"({"SubnetLen": -1})",
       R"(shoal.json: "SubnetLen": must be an integer between 0 and 32, got -1)"},
      {R"({"SubnetLen": 1e30})",
       R"(shoal.json: "SubnetLen": must be an integer between 0 and 32, got 1e+30)"},
      {R"({"SubnetMin": 5})",
       R"(shoal.json: "SubnetMin": must be an IPv4 address, like "198.18.1.0", got 5)"},
      {R"({"SubnetMax": true})",
       R"(shoal.json: "SubnetMax": must be an IPv4 address, like "198.18.255.0", got true)"},
      {R"({"Netwrok": "198.18.0.0/16"})",
       R"(shoal.json: unknown key "Netwrok" (did you mean "Network"?); docs/config.md lists the keys)"},
      {R"({"Colour": "blue"})",
       R"(shoal.json: unknown key "Colour"; docs/config.md lists the keys)"},
      {R"({"Backend": "vxlan"})",
       R"(shoal.json: "Backend": must be an object like {"Type": "vxlan"}, got "vxlan")"},
      {R"({"Backend": {"Tpye": "vxlan"}})",
       R"(shoal.json: unknown key "Backend.Tpye" (did you mean "Backend.Type"?); docs/config.md lists the keys)"},
      {R"({"Backend": {"Type": "vxlna"}})",
       R"(shoal.json: "Backend.Type": must be one of "vxlan", "host-gw", "udp", "auto", got "vxlna" (did you mean "vxlan"?))"},
      {R"({"Backend": {"Type": "wireguard"}})",
       R"(shoal.json: "Backend.Type": "wireguard" is a flannel backend that shoal does not have; use "vxlan", "host-gw", "udp" (encrypted when a KeyFile is given) or "auto")"},
      {R"({"Backend": {"VNI": 16777216}})",
       R"(shoal.json: "Backend.VNI": must be an integer between 0 and 16777215, got 16777216)"},
      {R"({"Backend": {"Port": 70000}})",
       R"(shoal.json: "Backend.Port": must be an integer between 0 and 65535, got 70000)"},
      {R"({"Backend": {"Port": "8472"}})",
       R"(shoal.json: "Backend.Port": must be an integer between 0 and 65535, got "8472")"},
      {R"({"Backend": {"Fallback": "host-gw"}})",
       R"(shoal.json: "Backend.Fallback": must be "vxlan" or "udp", got "host-gw")"},
      {R"({"Name": ""})",
       R"(shoal.json: "Name": must be a name of 1 to 128 bytes without control characters, got "")"},
      {R"({"Name": "a\nb"})",
       R"(shoal.json: "Name": must be a name of 1 to 128 bytes without control characters, got "a\x0ab")"},
      {R"({"Bind": "192.0.2.1:99999"})",
       R"(shoal.json: "Bind": must be an address with an optional port, like "192.0.2.1:7946" (host names are not resolved), got "192.0.2.1:99999")"},
      {R"({"Bind": "gossip.example:7946"})",
       R"(shoal.json: "Bind": must be an address with an optional port, like "192.0.2.1:7946" (host names are not resolved), got "gossip.example:7946")"},
      {R"({"Bind": "192.0.2.1:0"})",
       R"(shoal.json: "Bind": must be an address with an optional port, like "192.0.2.1:7946" (host names are not resolved), got "192.0.2.1:0")"},
      {R"({"Advertise": "192.0.2.1:7946"})",
       R"(shoal.json: "Advertise": give only the address ("192.0.2.1:7946" has a port); peers use Bind's port)"},
      {R"({"Advertise": "0.0.0.0"})",
       R"(shoal.json: "Advertise": "0.0.0.0" is the unspecified address; peers need a real one)"},
      {R"({"Advertise": "me"})",
       R"(shoal.json: "Advertise": must be an IP address, like "192.0.2.1", got "me")"},
      {R"({"Seeds": "192.0.2.1"})",
       R"(shoal.json: "Seeds": must be an array of addresses with optional ports, like ["192.0.2.1:7946"] (host names are not resolved), got "192.0.2.1")"},
      {R"({"Seeds": ["192.0.2.1", 7946]})",
       R"(shoal.json: "Seeds[1]": must be a string, like "192.0.2.1:7946", got 7946)"},
      {R"({"Seeds": ["192.0.2.1", "seed.example"]})",
       R"(shoal.json: "Seeds[1]": must be an address with an optional port, like "192.0.2.1:7946" (host names are not resolved), got "seed.example")"},
      {R"({"Seeds": ["0.0.0.0:7946"]})",
       R"(shoal.json: "Seeds[0]": "0.0.0.0:7946" is the unspecified address; give a seed's real address)"},
      {R"({"Site": 1})",
       R"(shoal.json: "Site": must be a site name of at most 64 bytes without control characters, got 1)"},
      {R"({"DataDir": ""})", R"(shoal.json: "DataDir": must be a directory path, got "")"},
      {R"({"Profile": "lann"})",
       R"(shoal.json: "Profile": must be one of "lan", "wan", "local", got "lann" (did you mean "lan"?))"},
      {R"({"KeyFile": false})", R"(shoal.json: "KeyFile": must be a file path, got false)"},
      {R"({"SubnetFile": ""})", R"(shoal.json: "SubnetFile": must be a file path, got "")"},
      {R"({"LeaseTTL": "a day"})",
       R"(shoal.json: "LeaseTTL": must be a duration like "24h", "90m" or "1h30m", from 1m to 8760h, got "a day")"},
      {R"({"LeaseTTL": "30s"})",
       R"(shoal.json: "LeaseTTL": must be a duration like "24h", "90m" or "1h30m", from 1m to 8760h, got "30s")"},
      {R"({"LeaseTTL": 86400})",
       R"(shoal.json: "LeaseTTL": must be a duration like "24h", "90m" or "1h30m", from 1m to 8760h, got 86400)"},
      {R"({"ControlSocket": ""})",
       R"(shoal.json: "ControlSocket": must be a socket path of at most 107 bytes, got "")"},
      {R"({"MetricsAddr": "127.0.0.1"})",
       R"(shoal.json: "MetricsAddr": must be an address and port, like "127.0.0.1:9090", or "" for none, got "127.0.0.1")"},
      {R"({"LogLevel": "verbose"})",
       R"(shoal.json: "LogLevel": must be one of "trace", "debug", "info", "warn", "error", got "verbose")"},
      {R"({"MTU": 100})",
       R"(shoal.json: "MTU": must be 0 (automatic) or an integer from 576 to 9000, got 100)"},
      {R"({"MTU": 9001})",
       R"(shoal.json: "MTU": must be 0 (automatic) or an integer from 576 to 9000, got 9001)"},
      {R"({"IPMasq": "yes"})", R"(shoal.json: "IPMasq": must be true or false, got "yes")"},
      {R"({"SitePools": {"east": {"SubnetMin": "198.18.1.0"}}})",
       R"(shoal.json: "SitePools.east.SubnetMax": missing; a site pool needs both bounds)"},
      {R"({"SitePools": {"east": {"SubnetMin": "198.18.1.0", "SubnetMx": "198.18.2.0"}}})",
       R"(shoal.json: unknown key "SitePools.east.SubnetMx" (did you mean "SitePools.east.SubnetMax"?); docs/config.md lists the keys)"},
      {R"({"SitePools": ["east"]})",
       R"(shoal.json: "SitePools": must be an object like {"east": {"SubnetMin": "198.18.0.0", "SubnetMax": "198.18.127.0"}}, got an array)"},
      {R"({"Network": "198.18.0.0/16", "Network": "198.19.0.0/16"})",
       R"(shoal.json: key "Network" appears twice; keep only one)"},
      {R"({"Network": "198.18.0.0/16", "network": "198.19.0.0/16"})",
       R"(shoal.json: keys "Network" and "network" are the same key; keep only one)"},
  };
  for (const Case& c : cases) {
    const std::string json = c.json;
    CAPTURE(json);
    CHECK(parse_error(c.json) == c.error);
  }
}

TEST_CASE("the whole is checked by finish, naming the key") {
  struct Case {
    const char* json;
    const char* error;
  };
  const Case cases[] = {
      {R"({})",
       R"(shoal.json: "Network": missing; give the overlay network, e.g. "198.18.0.0/16" in the file or with --network)"},
      {R"({"Network": "198.18.0.1/16"})",
       R"(shoal.json: "Network": '198.18.0.1/16' is not a network in CIDR form with its host bits zero (e.g. 198.18.0.0/16))"},
      {R"({"Network": "2001:db8::/48"})",
       R"(shoal.json: "Network": only IPv4 networks are supported for now)"},
      {R"({"Network": "198.18.0.0/29"})",
       R"(shoal.json: "Network": 198.18.0.0/29 is too small; the smallest useful network is a /28)"},
      {R"({"Network": "198.18.0.0/16", "SitePools": {"east": {"SubnetMin": "198.18.1.0", "SubnetMax": "198.18.255.0"}}})",
       R"(shoal.json: "SitePools": the site pools leave no subnet for a host without a Site: set Site, or leave part of SubnetMin..SubnetMax outside the pools)"},
      {R"({"Network": "0.0.0.0/0", "SubnetLen": 24})",
       R"(shoal.json: "Network": 0.0.0.0/0 spans too much: an overlay of at most /8 (16 million addresses) is allowed, and it must leave the underlay out)"},
      {R"({"Network": "198.18.0.0/16", "Bind": "198.18.3.4:7946"})",
       R"(shoal.json: "Bind": 198.18.3.4 is inside Network 198.18.0.0/16: the overlay would swallow the underlay; pick a Network that does not contain this host's addresses)"},
      {R"({"Network": "198.18.0.0/16", "Advertise": "198.18.3.4"})",
       R"(shoal.json: "Advertise": 198.18.3.4 is inside Network 198.18.0.0/16: the overlay would swallow the underlay; pick a Network that does not contain this host's addresses)"},
      {R"({"Network": "198.18.0.0/16", "SubnetFile": "/"})",
       R"(shoal.json: "SubnetFile": / is a directory; give the path of the file to write)"},
      {R"({"Network": "198.18.0.0/16", "SubnetLen": 31})",
       R"(shoal.json: "SubnetLen": /31 is too small; it must be 30 or less)"},
      {R"({"Network": "198.18.0.0/16", "SubnetLen": 17})",
       R"(shoal.json: "SubnetLen": /17 leaves fewer than four subnets in Network 198.18.0.0/16; use /18 or longer)"},
      {R"({"Network": "198.18.0.0/16", "SubnetMin": "198.18.1.128"})",
       R"(shoal.json: "SubnetMin": 198.18.1.128 is not on a SubnetLen (/24) boundary)"},
      {R"({"Network": "198.18.0.0/16", "SubnetMax": "198.19.0.0"})",
       R"(shoal.json: "SubnetMax": 198.19.0.0 is not in the range of the Network 198.18.0.0/16)"},
      {R"({"Network": "198.18.0.0/16", "SitePools": {
           "east": {"SubnetMin": "198.18.10.0", "SubnetMax": "198.18.20.0"},
           "west": {"SubnetMin": "198.18.20.0", "SubnetMax": "198.18.30.0"}}})",
       R"(shoal.json: "SitePools.west": overlaps the pool of site 'east'; site pools must be disjoint)"},
      {R"({"Network": "198.18.0.0/16", "Backend": {"Type": "host-gw", "Port": 8472}})",
       R"(shoal.json: "Backend.Port": the host-gw backend routes without a tunnel, so it has no port; remove it)"},
      {R"({"Network": "198.18.0.0/16", "Backend": {"Type": "udp", "VNI": 2}})",
       R"(shoal.json: "Backend.VNI": only the vxlan backend uses a VNI (traffic goes by udp); remove it)"},
      {R"({"Network": "198.18.0.0/16", "Backend": {"Type": "vxlan", "Fallback": "udp"}})",
       R"(shoal.json: "Backend.Fallback": is only used with Backend.Type "auto" (Type is "vxlan"); remove it)"},
      {R"({"Network": "198.18.0.0/16", "Bind": "192.0.2.1:8472"})",
       R"(shoal.json: "Bind": UDP port 8472 is both the backend's and gossip's (Bind); change one)"},
      {R"({"Network": "198.18.0.0/16", "MetricsAddr": "127.0.0.1:7946"})",
       R"(shoal.json: "MetricsAddr": TCP port 7946 is gossip's (Bind); pick another port)"},
      {R"({"Network": "198.18.0.0/16", "Bind": "192.0.2.1:7946", "Advertise": "2001:db8::1"})",
       R"(shoal.json: "Advertise": 2001:db8::1 is not of the same IP family as Bind 192.0.2.1:7946)"},
  };
  for (const Case& c : cases) {
    const std::string json = c.json;
    CAPTURE(json);
    CHECK(finish_error(c.json) == c.error);
  }
}

TEST_CASE("backend defaults follow the type") {
  auto port_of = [](const char* json) { return finished(json).backend.effective_port; };
  CHECK(port_of(R"({"Network": "198.18.0.0/16", "Backend": {"Type": "udp"}})") == 8285);
  CHECK(port_of(R"({"Network": "198.18.0.0/16", "Backend": {"Type": "host-gw"}})") == 0);
  CHECK(port_of(R"({"Network": "198.18.0.0/16", "Backend": {"Type": "auto"}})") == 8472);
  // flannel's Port 0 means the default.
  CHECK(port_of(R"({"Network": "198.18.0.0/16", "Backend": {"Port": 0}})") == 8472);
  CHECK(port_of(R"({"Network": "198.18.0.0/16", "Backend": {"Type": "vxlan", "Port": 4789}})") ==
        4789);
}

TEST_CASE("flags override the file") {
  AgentConfig c = parsed(kFull);
  CHECK(flag_text(c, "--network", "198.19.0.0/16").empty());
  CHECK(flag_text(c, "subnet-len", "24").empty());  // dashes are optional
  CHECK(flag_text(c, "--subnet-min", "198.19.2.0").empty());
  CHECK(flag_text(c, "--subnet-max", "198.19.9.0").empty());
  CHECK(flag_text(c, "--backend", "vxlan").empty());
  CHECK(flag_text(c, "--vni", "7").empty());
  CHECK(flag_text(c, "--backend-port", "4789").empty());
  // No flag sets these; the file's would not fit the new Network and Type (tested below).
  c.backend.fallback.reset();
  c.network_spec.site_pools.clear();
  CHECK(flag_text(c, "--name", "host-b").empty());
  CHECK(flag_text(c, "--bind", "192.0.2.20").empty());
  CHECK(flag_text(c, "--advertise", "192.0.2.20").empty());
  CHECK(flag_text(c, "--seed", "192.0.2.21").empty());
  CHECK(flag_text(c, "--seed", "192.0.2.22:7000, 192.0.2.23").empty());
  CHECK(flag_text(c, "--site", "").empty());
  CHECK(flag_text(c, "--data-dir", "/tmp/d").empty());
  CHECK(flag_text(c, "--profile", "local").empty());
  CHECK(flag_text(c, "--key-file", "").empty());
  CHECK(flag_text(c, "--subnet-file", "/tmp/subnet.env").empty());
  CHECK(flag_text(c, "--lease-ttl", "2h").empty());
  CHECK(flag_text(c, "--control-socket", "/tmp/s.sock").empty());
  CHECK(flag_text(c, "--metrics-addr", "").empty());
  CHECK(flag_text(c, "--log-level", "warn").empty());
  CHECK(flag_text(c, "--mtu", "0").empty());
  CHECK(flag_text(c, "--ip-masq", "false").empty());
  REQUIRE(finish_text(c) == "");

  CHECK(c.network->network().to_string() == "198.19.0.0/16");
  CHECK(c.network->subnet_len() == 24);
  CHECK(c.network->subnet_min().to_string() == "198.19.2.0");
  CHECK(c.backend.type == BackendType::kVxlan);
  CHECK(c.backend.effective_vni == 7);
  CHECK(c.backend.effective_port == 4789);
  CHECK(c.name == "host-b");
  CHECK(c.bind.to_string() == "192.0.2.20:7946");
  // The first --seed replaced the file's seeds; the second added to it.
  REQUIRE(c.seeds.size() == 3);
  CHECK(c.seeds[0].to_string() == "192.0.2.21:7946");
  CHECK(c.seeds[1].to_string() == "192.0.2.22:7000");
  CHECK(c.seeds[2].to_string() == "192.0.2.23:7946");
  CHECK(c.site.empty());
  CHECK(c.profile == "local");
  CHECK(c.key_file.empty());
  CHECK(c.lease_ttl == std::chrono::hours(2));
  CHECK_FALSE(c.metrics_addr);
  CHECK(c.log_level == LogLevel::kWarn);
  CHECK(c.mtu == 0);
  CHECK_FALSE(c.ip_masq);
  CHECK(c.origins.at("SubnetLen") == "--subnet-len");
}

TEST_CASE("flag errors name the flag") {
  AgentConfig c;
  CHECK(flag_text(c, "--subnet-len", "abc") ==
        R"(--subnet-len: must be an integer between 0 and 32, got "abc")");
  CHECK(flag_text(c, "--subnet-len", "24x") ==
        R"(--subnet-len: must be an integer between 0 and 32, got "24x")");
  CHECK(flag_text(c, "--ip-masq", "yes") == R"(--ip-masq: must be true or false, got "yes")");
  CHECK(
      flag_text(c, "--backend", "ipip") ==
      R"(--backend: "ipip" is a flannel backend that shoal does not have; use "vxlan", "host-gw", "udp" (encrypted when a KeyFile is given) or "auto")");
  CHECK(
      flag_text(c, "--seed", "192.0.2.1,bad") ==
      R"(--seed: must be an address with an optional port, like "192.0.2.1:7946" (host names are not resolved), got "bad")");
  // A socket path too long for sockaddr_un is refused, and the echo is cut short.
  const std::string long_path = "/run/" + std::string(100, 'x') + "/shoal.sock";
  CHECK(flag_text(c, "--control-socket", long_path) ==
        "--control-socket: must be a socket path of at most 107 bytes, got \"/run/" +
            std::string(75, 'x') + "...\"");
  CHECK(flag_text(c, "--netwrok", "198.18.0.0/16") ==
        R"(unknown flag "--netwrok" (did you mean --network?); shoal agent --help lists them)");
  CHECK(flag_text(c, "--sitepools", "x").find("unknown flag") == 0);  // file only

  // An error finish() finds in a value a flag gave names the flag.
  CHECK(flag_text(c, "--network", "198.18.0.0/16").empty());
  CHECK(flag_text(c, "--subnet-min", "198.18.1.128").empty());
  CHECK(finish_text(c) == "--subnet-min: 198.18.1.128 is not on a SubnetLen (/24) boundary");
}

TEST_CASE("a config error carries its key as data, apart from where it was set") {
  AgentConfig c;
  const Status bad = apply_flag(c, "--subnet-len", "abc");
  CHECK(bad.code() == Status::Code::kInvalidArgument);
  CHECK(bad.key() == "SubnetLen");
  CHECK(bad.problem() == R"(must be an integer between 0 and 32, got "abc")");

  // NetworkConfig's errors name their key as data; the agent says which flag or file set it.
  REQUIRE(apply_flag(c, "--network", "198.18.0.0/16").ok());
  REQUIRE(apply_flag(c, "--subnet-min", "198.18.1.128").ok());
  const Status bound = finish(c);
  CHECK(bound.key() == "SubnetMin");
  CHECK(bound.problem() == "198.18.1.128 is not on a SubnetLen (/24) boundary");
  CHECK(bound.to_string() == "--subnet-min: 198.18.1.128 is not on a SubnetLen (/24) boundary");

  auto file = parse_config(R"({"Network": "198.18.0.0/16", "Backend": {"Port": "x"}})", "f.json");
  REQUIRE_FALSE(file);
  CHECK(file.error().key() == "Backend.Port");
  CHECK(file.error().to_string().starts_with(R"(f.json: "Backend.Port": )"));
  AgentConfig pools = parsed(
      R"({"Network": "198.18.0.0/16", "SitePools": {"a": {"SubnetMin": "198.18.1.0", "SubnetMax": "198.18.9.0"},
          "b": {"SubnetMin": "198.18.5.0", "SubnetMax": "198.18.20.0"}}})");
  const Status overlap = finish(pools);
  CHECK(overlap.key().starts_with("SitePools."));
  CHECK(overlap.problem().find("overlaps the pool of site") != std::string::npos);
}

TEST_CASE("flags alone make a configuration") {
  AgentConfig c;
  CHECK(
      finish_text(c) ==
      R"(configuration: "Network": missing; give the overlay network, e.g. "198.18.0.0/16" in the file or with --network)");
  REQUIRE(flag_text(c, "--network", "198.18.0.0/16").empty());
  CHECK(finish_text(c) == "");
  CHECK(c.network->candidates("").size() == 255);
}

TEST_CASE("JSON syntax errors name the file, say syntax, and where") {
  CHECK(parse_error(
            "{\n  \"Network\": \"198.18.0.0/16\",\n  \"SubnetLen\": 24\n  \"Backend\": {}\n}") ==
        "shoal.json: JSON syntax error at line 4, column 3: unexpected string literal; expected "
        "'}'");
  CHECK(parse_error("{\"Network\": }") ==
        "shoal.json: JSON syntax error at line 1, column 13: unexpected '}'; expected '[', '{', "
        "or a literal");
  CHECK(parse_error("{\"Network\": \"198.18.0.0/16\"") ==
        "shoal.json: JSON syntax error at line 1, column 28: unexpected end of input; expected "
        "'}'");
  CHECK(parse_error("{\"Network\": \"198.18") ==
        "shoal.json: JSON syntax error at line 1, column 20: invalid string: missing closing "
        "quote");
  CHECK(parse_error("{\"MTU\": 1e400}") ==
        "shoal.json: JSON syntax error at line 1, column 9: number beyond the range of a double");
  CHECK(parse_error("{\"MTU\": NaN}").find("shoal.json: JSON syntax error at line 1, column 9") ==
        0);
  CHECK(parse_error("{\"MTU\": 0x10}").find("shoal.json: JSON syntax error at line 1, column 10") ==
        0);
  CHECK(parse_error("{\"Network\": \"198.18.0.0/16\"} {}") ==
        "shoal.json: JSON syntax error at line 1, column 30: unexpected '{'; expected end of "
        "input");
}

TEST_CASE("the file is strict JSON: what is not JSON is refused with a line and column") {
  struct Case {
    std::string json;
    const char* error;
  };
  const Case cases[] = {
      {R"({"Network": "198.18.0.0/16",})",
       "shoal.json: JSON syntax error at line 1, column 29: unexpected '}'; expected string "
       "literal"},
      {R"({"Network": '198.18.0.0/16'})",
       "shoal.json: JSON syntax error at line 1, column 13: invalid literal (JSON strings and "
       "keys take double quotes)"},
      {R"({'Network': "198.18.0.0/16"})",
       "shoal.json: JSON syntax error at line 1, column 2: invalid literal; expected string "
       "literal (JSON strings and keys take double quotes)"},
      {R"({Network: "198.18.0.0/16"})",
       "shoal.json: JSON syntax error at line 1, column 2: invalid literal; expected string "
       "literal (keys take double quotes)"},
      {"{\"Network\": \"198.18.0.0/16\",\n  // the overlay\n  \"SubnetLen\": 24}",
       "shoal.json: JSON syntax error at line 2, column 3: invalid literal; expected string "
       "literal (JSON has no comments)"},
      {"{\"Network\": \"198.18.0.0/16\" /* the overlay */}",
       "shoal.json: JSON syntax error at line 1, column 29: invalid literal; expected '}' (JSON "
       "has no comments)"},
      {R"({"MTU": NaN})", "shoal.json: JSON syntax error at line 1, column 9: invalid literal"},
      {R"({"MTU": Infinity})",
       "shoal.json: JSON syntax error at line 1, column 9: invalid literal"},
      {R"({"MTU": -Infinity})",
       "shoal.json: JSON syntax error at line 1, column 10: invalid number; expected digit after "
       "'-'"},
      {R"({"MTU": 9223372036854775808})",
       "shoal.json: JSON syntax error at line 1, column 9: integer 9223372036854775808 is beyond "
       "64 bits"},
      {R"({"MTU": 99999999999999999999999})",
       "shoal.json: JSON syntax error at line 1, column 9: integer 99999999999999999999999 is "
       "beyond 64 bits"},
      {"{\"Network\": \"198.18.0.0/16\",\n \"MTU\": -9223372036854775809\n}",
       "shoal.json: JSON syntax error at line 2, column 9: integer -9223372036854775809 is beyond "
       "64 bits"},
      {"{\"Name\": \"host-\xff\"}",
       "shoal.json: JSON syntax error at line 1, column 16: invalid string: ill-formed UTF-8 "
       "byte"},
      {"{\"Name\": \"host-\xc3\x28\"}",
       "shoal.json: JSON syntax error at line 1, column 17: invalid string: ill-formed UTF-8 "
       "byte"},
      {"{\"Name\": \"\xed\xa0\x80\"}",  // a UTF-16 surrogate, encoded as if it were a character
       "shoal.json: JSON syntax error at line 1, column 12: invalid string: ill-formed UTF-8 "
       "byte"},
      {R"({"Name": "\ud800"})",
       "shoal.json: JSON syntax error at line 1, column 17: invalid string: surrogate "
       "U+D800..U+DBFF must be followed by U+DC00..U+DFFF"},
      {std::string("{\"Network\": \"198.18.0.0/16\"}\0{\"MTU\": 1}", 39),
       "shoal.json: JSON syntax error at line 1, column 29: a NUL byte"},
      {"{\"Name\": \"a\tb\"}",
       "shoal.json: JSON syntax error at line 1, column 12: invalid string: control character "
       "U+0009 (HT) must be escaped to \\u0009 or \\t"},
      {"{\"Network\": \"198.18.0.0/16\"}]",
       "shoal.json: JSON syntax error at line 1, column 29: unexpected ']'; expected end of "
       "input"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.json);
    CHECK(parse_error(c.json) == c.error);
  }

  // A nesting bomb of objects is refused at the first one too deep (of arrays: below).
  std::string objects = "{";
  for (int i = 0; i < 10000; ++i) objects += "\"a\": {";
  CHECK(parse_error(objects) ==
        "shoal.json: at line 1, column 121: objects and arrays nested more than 20 deep; the "
        "configuration needs 3");

  // The largest integers JSON can carry exactly are read as they are, not rounded.
  CHECK(
      parse_error(R"({"MTU": 9223372036854775807})") ==
      R"(shoal.json: "MTU": must be 0 (automatic) or an integer from 576 to 9000, got 9223372036854775807)");
  CHECK(
      parse_error(R"({"MTU": -9223372036854775808})") ==
      R"(shoal.json: "MTU": must be 0 (automatic) or an integer from 576 to 9000, got -9223372036854775808)");
  // A whole number written as a fraction or with an exponent still counts, as before.
  CHECK(parsed(R"({"MTU": 1.4e3})").mtu == 1400);
  CHECK(parsed(R"({"MTU": 1400.0})").mtu == 1400);
  // Escapes and valid UTF-8 go through.
  CHECK(parsed("{\"Name\": \"h\\u00f6st-\xc3\xa9\\\"\"}").name == "h\xc3\xb6st-\xc3\xa9\"");
  // Repeated keys are refused in any object, nested ones too.
  CHECK(parse_error(R"({"Backend": {"Type": "udp", "Type": "vxlan"}})") ==
        R"(shoal.json: key "Type" appears twice; keep only one)");
  CHECK(parse_error(R"({"Seeds": [{"a": 1, "a": 2}]})") ==
        R"(shoal.json: key "a" appears twice; keep only one)");
}

TEST_CASE("odd input is refused cleanly") {
  // Invalid UTF-8: refused, and the message carries no raw bytes.
  const std::string bad_utf8 = parse_error("{\"Name\": \"\xff\xfe\"}");
  CHECK(bad_utf8.find("shoal.json: JSON syntax error") == 0);
  CHECK(bad_utf8.find("ill-formed UTF-8") != std::string::npos);
  CHECK(bad_utf8.find('\xff') == std::string::npos);
  CHECK(
      parse_error("{\"Name\": \"; expected \xff\"}") ==
      "shoal.json: JSON syntax error at line 1, column 22: invalid string: ill-formed UTF-8 byte");
  // Nesting: refused at the first bracket too deep.
  std::string deep = "{\"Backend\": ";
  for (int i = 0; i < 10000; ++i) deep += "[";
  CHECK(parse_error(deep) ==
        "shoal.json: at line 1, column 32: objects and arrays nested more than 20 deep; the "
        "configuration needs 3");
  CHECK(parse_error("") ==
        R"(shoal.json: is empty; it must hold a JSON object like {"Network": "198.18.0.0/16"})");
  CHECK(parse_error("[1]") ==
        R"(shoal.json: must hold a JSON object ({...}), like {"Network": "198.18.0.0/16"})");
  CHECK(parse_error(std::string(kMaxConfigBytes + 1, ' ')) ==
        "shoal.json: too large (65537 bytes, at most 65536)");
  // Integers beyond 2^53 arrive exact (and are out of every range anyway).
  CHECK(
      parse_error(R"({"MTU": 9007199254740993})") ==
      R"(shoal.json: "MTU": must be 0 (automatic) or an integer from 576 to 9000, got 9007199254740993)");
  // A byte order mark is accepted; the lenient forms protobuf's parser took are not.
  CHECK(parsed("\xEF\xBB\xBF{\"Network\": \"198.18.0.0/16\"}").network_spec.network ==
        "198.18.0.0/16");
  CHECK(parse_error("{'Network': '198.18.0.0/16',}")
            .starts_with("shoal.json: JSON syntax error at line 1, column 2: invalid literal"));
  // "\u0000" inside a path is refused, not truncated.
  CHECK(parse_error(R"({"DataDir": "/var/lib/a\u0000b"})") ==
        R"(shoal.json: "DataDir": must be a directory path, got "/var/lib/a\x00b")");
}

TEST_CASE("errors never carry control characters, whoever wrote them") {
  // Through NetworkConfig's own message.
  CHECK(
      finish_error(R"({"Network": "\u001b[31mred"})") ==
      R"(shoal.json: "Network": '\x1b[31mred' is not a network in CIDR form with its host bits zero (e.g. 198.18.0.0/16))");
  // Through a key path built from a site name.
  CHECK(
      parse_error(R"({"SitePools": {"a\nb": {}}})") ==
      R"(shoal.json: "SitePools.a\x0ab": a site name must be 1 to 64 bytes without control characters)");
}

TEST_CASE("load_config reads a file and names it") {
  TempDir dir("shoal-config");
  const std::string path = (dir.path / "shoal.json").string();
  REQUIRE(write_file_atomically(path, R"({"Network": "198.18.0.0/16", "Netwrk": 1})").ok());
  auto r = load_config(path);
  REQUIRE_FALSE(r);
  CHECK(r.error().to_string() ==
        path +
            R"(: unknown key "Netwrk" (did you mean "Network"?); docs/config.md lists the keys)");

  REQUIRE(write_file_atomically(path, R"({"Network": "198.18.0.0/16"})").ok());
  r = load_config(path);
  REQUIRE(r);
  CHECK(r->source == path);

  const std::string missing = (dir.path / "missing.json").string();
  r = load_config(missing);
  REQUIRE_FALSE(r);
  CHECK(r.error().to_string().find(missing) != std::string::npos);

  REQUIRE(write_file_atomically(path, std::string(kMaxConfigBytes + 1, ' ')).ok());
  r = load_config(path);
  REQUIRE_FALSE(r);
  CHECK(r.error().to_string().find("too large") != std::string::npos);

  // A FIFO is refused at once; reading it would wait for a writer forever.
  const std::string fifo = (dir.path / "fifo.json").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  r = load_config(fifo);
  REQUIRE_FALSE(r);
  CHECK(r.error().to_string().find("not a regular file") != std::string::npos);
}

TEST_CASE("durations") {
  auto ttl = [](const char* text) {
    AgentConfig c;
    const std::string error = flag_text(c, "--lease-ttl", text);
    return error.empty() ? c.lease_ttl.count() : int64_t{-1};
  };
  CHECK(ttl("24h") == 86400);
  CHECK(ttl("90m") == 5400);
  CHECK(ttl("1h30m15s") == 5415);
  CHECK(ttl("60s") == 60);
  CHECK(ttl("8760h") == 8760 * 3600);
  for (const char* bad : {"59s", "8761h", "", "24", "h", "1.5h", "-1h", "+1h", "1d", "1h ",
                          "99999999999999999999h"}) {
    CAPTURE(bad);
    CHECK(ttl(bad) == -1);
  }
}

TEST_CASE("flag_help covers every key, and every flag it lists is accepted") {
  const auto help = flag_help();
  std::set<std::string> flags, keys;
  for (const auto& h : help) {
    CHECK_FALSE(h.json_key.empty());
    CHECK_FALSE(h.description.empty());
    CHECK_FALSE(h.default_text.empty());
    CHECK(keys.insert(h.json_key).second);
    if (h.flag.empty()) continue;
    CHECK(flags.insert(h.flag).second);
    AgentConfig c;
    CHECK(flag_text(c, h.flag, "").find("unknown flag") == std::string::npos);
  }
  for (const char* key :
       {"Network",       "SubnetLen",    "SubnetMin", "SubnetMax", "SitePools",  "Backend.Type",
        "Backend.VNI",   "Backend.Port", "Name",      "Bind",      "Advertise",  "Seeds",
        "Site",          "DataDir",      "Profile",   "KeyFile",   "SubnetFile", "LeaseTTL",
        "ControlSocket", "MetricsAddr",  "LogLevel",  "MTU",       "IPMasq"})
    CHECK(keys.count(key) == 1);
  CHECK(flags.count("--seed") == 1);
  CHECK(flags.count("--network") == 1);
}

TEST_CASE("a flag given twice warns; --seed adds up and does not") {
  AgentConfig c = parsed(R"({"Network": "198.18.0.0/16"})");
  REQUIRE(flag_text(c, "--subnet-len", "24") == "");
  REQUIRE(flag_text(c, "--subnet-len", "26") == "");
  REQUIRE(flag_text(c, "--seed", "192.0.2.1") == "");
  REQUIRE(flag_text(c, "--seed", "192.0.2.2") == "");
  REQUIRE(finish_text(c) == "");
  CHECK(has_warning(c, "--subnet-len is given more than once; the last value counts"));
  CHECK_FALSE(has_warning(c, "--seed is given more than once"));
  CHECK(c.seeds.size() == 2);
}

TEST_CASE("the NAT keys: PublicAddress, Relay, KeepaliveSeconds") {
  AgentConfig c = finished(R"({"Network": "198.18.0.0/16", "PublicAddress": "203.0.113.7:40000",
                               "Relay": false, "KeepaliveSeconds": 10})");
  REQUIRE(c.public_address);
  CHECK(c.public_address->to_string() == "203.0.113.7:40000");
  CHECK_FALSE(c.relay);
  CHECK(c.gossip.keepalive_interval == std::chrono::seconds(10));
  // The port defaults to gossip's; "" turns a file's port forward off from the command line.
  CHECK(flag_text(c, "--public-address", "203.0.113.8").empty());
  CHECK(c.public_address->to_string() == "203.0.113.8:7946");
  CHECK(flag_text(c, "--public-address", "").empty());
  CHECK_FALSE(c.public_address);

  const AgentConfig defaults = finished(R"({"Network": "198.18.0.0/16"})");
  CHECK_FALSE(defaults.public_address);
  CHECK(defaults.relay);
  CHECK(defaults.gossip.keepalive_interval == std::chrono::seconds(25));

  CHECK(parse_error(R"({"PublicAddress": "0.0.0.0:1"})").find("unspecified") != std::string::npos);
  CHECK(parse_error(R"({"PublicAddress": "somewhere"})").find("\"PublicAddress\"") !=
        std::string::npos);
  CHECK(parse_error(R"({"Relay": "yes"})").find("true or false") != std::string::npos);
  CHECK(parse_error(R"({"KeepaliveSeconds": 0})").find("between 1 and 3600") != std::string::npos);
}

TEST_CASE("RelayMaxMbps caps relayed tunnel traffic; 0, the default, is no cap") {
  CHECK(finished(R"({"Network": "198.18.0.0/16"})").relay_max_mbps == 0);
  AgentConfig c = finished(R"({"Network": "198.18.0.0/16", "RelayMaxMbps": 250})");
  CHECK(c.relay_max_mbps == 250);
  CHECK(finished(R"({"Network": "198.18.0.0/16", "RelayMaxMbps": 100000})").relay_max_mbps ==
        100000);
  CHECK(flag_text(c, "--relay-max-mbps", "0").empty());
  CHECK(c.relay_max_mbps == 0);
  CHECK(c.origins.at("RelayMaxMbps") == "--relay-max-mbps");

  CHECK(parse_error(R"({"RelayMaxMbps": 100001})") ==
        R"(shoal.json: "RelayMaxMbps": must be an integer between 0 and 100000, got 100001)");
  CHECK(parse_error(R"({"RelayMaxMbps": -1})") ==
        R"(shoal.json: "RelayMaxMbps": must be an integer between 0 and 100000, got -1)");
  CHECK(parse_error(R"({"RelayMaxMbps": "100"})") ==
        R"(shoal.json: "RelayMaxMbps": must be an integer between 0 and 100000, got "100")");
  CHECK(parse_error(R"({"RelayMaxMbps": 1.5})") ==
        R"(shoal.json: "RelayMaxMbps": must be an integer between 0 and 100000, got 1.5)");
  CHECK(flag_text(c, "--relay-max-mbps", "fast") ==
        R"(--relay-max-mbps: must be an integer between 0 and 100000, got "fast")");
  CHECK(flag_text(c, "--relay-max-mbps", "100001") ==
        R"(--relay-max-mbps: must be an integer between 0 and 100000, got "100001")");
  CHECK(c.relay_max_mbps == 0);  // a refused value changes nothing
}
