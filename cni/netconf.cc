#include "cni/netconf.h"

#include <algorithm>
#include <cctype>

namespace shoal::cni {
namespace {

using json = nlohmann::json;

// dump() that never throws: strings from the runtime may hold invalid UTF-8.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

CniError error(ErrorCode code, std::string msg, std::string details = "") {
  return {code, std::move(msg), std::move(details)};
}

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

// The spec's rule for container ids and network names: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
bool valid_identifier(std::string_view s) {
  return !s.empty() && s.size() <= 256 && std::isalnum(static_cast<unsigned char>(s[0])) &&
         std::all_of(s.begin(), s.end(), is_name_char);
}

// What the kernel takes as an interface name.
bool valid_ifname(std::string_view s) {
  return !s.empty() && s.size() < 16 && s != "." && s != ".." &&
         std::none_of(s.begin(), s.end(), [](char c) {
           return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) ||
                  !std::isprint(static_cast<unsigned char>(c));
         });
}

std::optional<Command> parse_command(std::string_view s) {
  if (s == "ADD") return Command::kAdd;
  if (s == "DEL") return Command::kDel;
  if (s == "CHECK") return Command::kCheck;
  if (s == "VERSION") return Command::kVersion;
  if (s == "STATUS") return Command::kStatus;
  if (s == "GC") return Command::kGc;
  return std::nullopt;
}

// "1.0.0" -> comparable number; nullopt unless three dot-separated small numbers.
std::optional<int> version_number(std::string_view v) {
  int parts[3] = {0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    size_t n = 0;
    while (n < v.size() && n < 3 && std::isdigit(static_cast<unsigned char>(v[n]))) ++n;
    if (n == 0) return std::nullopt;
    parts[i] = std::stoi(std::string(v.substr(0, n)));
    v.remove_prefix(n);
    if (i < 2) {
      if (v.empty() || v[0] != '.') return std::nullopt;
      v.remove_prefix(1);
    }
  }
  if (!v.empty()) return std::nullopt;
  return parts[0] * 1000000 + parts[1] * 1000 + parts[2];
}

Result<std::string, CniError> optional_string(const json& conf, const char* key,
                                              std::string fallback) {
  const auto it = conf.find(key);
  if (it == conf.end()) return fallback;
  if (!it->is_string() || it->get_ref<const std::string&>().empty())
    return error(ErrorCode::kInvalidNetworkConfig,
                 std::string("\"") + key + "\" must be a non-empty string");
  return it->get<std::string>();
}

}  // namespace

std::string render_error(const CniError& e, std::string_view cni_version) {
  json out = {
      {"cniVersion", cni_version.empty() ? std::string(kSpecVersion) : std::string(cni_version)},
      {"code", static_cast<int>(e.code)},
      {"msg", e.msg}};
  if (!e.details.empty()) out["details"] = e.details;
  return dump(out) + "\n";
}

const std::vector<std::string>& supported_versions() {
  static const std::vector<std::string> versions = {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
  return versions;
}

std::string render_version_info(std::string_view cni_version) {
  return dump({{"cniVersion",
                cni_version.empty() ? std::string(kSpecVersion) : std::string(cni_version)},
               {"supportedVersions", supported_versions()}}) +
         "\n";
}

Result<Invocation, CniError> read_invocation(GetEnv getenv) {
  auto get = [&](const char* name) {
    const char* v = getenv(name);
    return std::string(v ? v : "");
  };
  Invocation call;
  const std::string command = get("CNI_COMMAND");
  if (command.empty())
    return error(ErrorCode::kInvalidEnvironment, "CNI_COMMAND is not set",
                 "shoal-cni is a CNI plugin: a container runtime runs it. Run `shoal-cni "
                 "--help` to see how to configure one.");
  const auto parsed = parse_command(command);
  if (!parsed)
    return error(ErrorCode::kInvalidEnvironment, "unknown CNI_COMMAND " + dump(command),
                 "expected ADD, DEL, CHECK, VERSION, STATUS or GC");
  call.command = *parsed;
  if (call.command == Command::kVersion) return call;
  call.path = get("CNI_PATH");
  if (call.path.empty())
    return error(ErrorCode::kInvalidEnvironment, "CNI_PATH is not set",
                 "it names the directories that hold the bridge and host-local plugins");
  if (call.command == Command::kStatus || call.command == Command::kGc) return call;
  call.container_id = get("CNI_CONTAINERID");
  call.netns = get("CNI_NETNS");
  call.ifname = get("CNI_IFNAME");
  if (!valid_identifier(call.container_id))
    return error(ErrorCode::kInvalidEnvironment,
                 "CNI_CONTAINERID " + dump(call.container_id) + " is not a valid container id",
                 "it must be letters, digits, '_', '.' and '-', starting with a letter or digit");
  if (!valid_ifname(call.ifname))
    return error(ErrorCode::kInvalidEnvironment,
                 "CNI_IFNAME " + dump(call.ifname) + " is not a valid interface name");
  if (call.netns.empty() && call.command != Command::kDel)
    return error(ErrorCode::kInvalidEnvironment, "CNI_NETNS is not set");
  return call;
}

Result<NetConf, CniError> parse_netconf(std::string_view text, Command command) {
  if (text.size() > kMaxNetConfSize)
    return error(ErrorCode::kDecodeFailure, "the network configuration is over 1 MiB");
  const json conf = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (conf.is_discarded())
    return error(ErrorCode::kDecodeFailure, "the network configuration on stdin is not JSON");
  if (!conf.is_object())
    return error(ErrorCode::kDecodeFailure, "the network configuration is not a JSON object");
  NetConf out;
  const auto version = conf.find("cniVersion");
  if (version == conf.end() || !version->is_string())
    return error(ErrorCode::kInvalidNetworkConfig, "\"cniVersion\" is missing");
  out.cni_version = version->get<std::string>();
  const auto& versions = supported_versions();
  if (std::find(versions.begin(), versions.end(), out.cni_version) == versions.end())
    return error(ErrorCode::kIncompatibleVersion,
                 "CNI version " + dump(out.cni_version) + " is not supported",
                 "shoal-cni speaks " + dump(versions));
  const int number = *version_number(out.cni_version);
  if (command == Command::kCheck && number < 4000)
    return error(ErrorCode::kIncompatibleVersion, "CHECK needs cniVersion 0.4.0 or later");
  if ((command == Command::kStatus || command == Command::kGc) && number < 1001000)
    return error(ErrorCode::kIncompatibleVersion, "STATUS and GC need cniVersion 1.1.0");

  const auto name = conf.find("name");
  if (name == conf.end() || !name->is_string() || !valid_identifier(name->get<std::string>()))
    return error(ErrorCode::kInvalidNetworkConfig,
                 "\"name\" must be a network name: letters, digits, '_', '.' and '-'");
  out.name = name->get<std::string>();

  auto subnet_file = optional_string(conf, "subnetFile", out.subnet_file);
  if (!subnet_file) return subnet_file.error();
  out.subnet_file = *subnet_file;
  auto data_dir = optional_string(conf, "dataDir", out.data_dir);
  if (!data_dir) return data_dir.error();
  out.data_dir = *data_dir;
  if (const auto wait = conf.find("waitSeconds"); wait != conf.end()) {
    if (!wait->is_number_integer() || wait->get<int64_t>() < 0 ||
        wait->get<int64_t>() > kMaxWaitSeconds)
      return error(ErrorCode::kInvalidNetworkConfig,
                   "\"waitSeconds\" must be a whole number of seconds in 0.." +
                       std::to_string(kMaxWaitSeconds));
    out.wait_seconds = static_cast<int>(wait->get<int64_t>());
  }
  if (const auto delegate = conf.find("delegate"); delegate != conf.end()) {
    if (!delegate->is_object())
      return error(ErrorCode::kInvalidNetworkConfig, "\"delegate\" must be a JSON object");
    if (delegate->contains("type") && (*delegate)["type"] != "bridge")
      return error(ErrorCode::kUnsupportedField, "\"delegate.type\" must be \"bridge\"",
                   "shoal-cni configures the bridge plugin; use that plugin's own keys");
    out.delegate = *delegate;
  }
  for (const char* key : {"runtimeConfig", "args", "prevResult"})
    if (const auto it = conf.find(key); it != conf.end()) out.passthrough[key] = *it;

  if (command == Command::kGc) {
    const auto valid = conf.find("cni.dev/valid-attachments");
    if (valid != conf.end()) {
      if (!valid->is_array())
        return error(ErrorCode::kInvalidNetworkConfig,
                     "\"cni.dev/valid-attachments\" must be an array");
      for (const auto& a : *valid) {
        if (!a.is_object() || !a.contains("containerID") || !a["containerID"].is_string() ||
            !a.contains("ifname") || !a["ifname"].is_string())
          return error(ErrorCode::kInvalidNetworkConfig,
                       "each of \"cni.dev/valid-attachments\" needs \"containerID\" and "
                       "\"ifname\" strings");
        out.valid_attachments.push_back(
            {a["containerID"].get<std::string>(), a["ifname"].get<std::string>()});
      }
    }
  }
  return out;
}

std::string delegate_version(std::string_view cni_version) {
  return cni_version == "1.1.0" ? "1.0.0" : std::string(cni_version);
}

nlohmann::json delegate_config(const NetConf& conf, const SubnetEnv& env) {
  json bridge = {
      {"cniVersion", delegate_version(conf.cni_version)},
      {"name", conf.name},
      {"type", "bridge"},
      {"bridge", "cni0"},
      {"isGateway", true},
      {"isDefaultGateway", true},
      {"hairpinMode", true},
      {"ipMasq", !env.ipmasq},
      {"mtu", env.mtu},
      {"ipam",
       {{"type", "host-local"},
        {"ranges", json::array({json::array({{{"subnet", env.subnet.to_string()}}})})},
        // The gateway named: bridge's CHECK compares the routes it finds with the result's,
        // and a route given without one never matches the route via the bridge it installs.
        {"routes",
         json::array({{{"dst", env.network.to_string()}, {"gw", env.gateway.to_string()}}})}}},
  };
  bridge.merge_patch(conf.delegate);
  for (const auto& [key, value] : conf.passthrough.items()) bridge[key] = value;
  return bridge;
}

}  // namespace shoal::cni
