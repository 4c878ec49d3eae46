#include "agent/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <map>

#include "agent/config_keys.h"
#include "agent/config_values.h"

namespace shoal::agent {
namespace {

// Where `key` (or the group it belongs to: "SitePools.east.SubnetMin" -> "SitePools") was
// last set; the config's file when nobody set it.
std::string origin_of(const AgentConfig& config, std::string_view key) {
  for (std::string_view k = key; !k.empty();) {
    if (auto it = config.origins.find(k); it != config.origins.end()) return it->second;
    const size_t dot = k.rfind('.');
    k = dot == std::string_view::npos ? std::string_view() : k.substr(0, dot);
  }
  return config.source.empty() ? "configuration" : config.source;
}

// A bad_key error told where the key was set: "shoal.json: \"SubnetLen\": problem", or
// "--subnet-len: problem" when a flag set it. Control bytes in it are escaped.
Status located(const AgentConfig& config, std::string_view key, std::string problem) {
  const std::string origin = origin_of(config, key);
  const Status error = Status::bad_key(std::string(key), std::move(problem));
  if (origin.starts_with("--")) return error.reworded(printable(origin + ": " + error.problem()));
  return error.reworded(printable(origin + ": \"" + std::string(key) + "\": " + error.problem()));
}
Status located(const AgentConfig& config, const Status& error) {
  if (error.key().empty()) return located(config, "Network", error.message());
  return located(config, error.key(), error.problem());
}

// NetworkConfig's errors carry their key; name where it was set.
Status network_error(const AgentConfig& config, const Status& error) {
  if (error.key() == "Network" && config.network_spec.network.empty())
    return located(config, "Network", error.problem() + " in the file or with --network");
  return located(config, error);
}

bool overlaps(const IpAddress& a, const IpAddress& b) {
  return a == b || is_unspecified(a) || is_unspecified(b);
}

Status check_backend(AgentConfig& config) {
  BackendConfig& b = config.backend;
  if (b.fallback && b.type != BackendType::kAuto)
    return located(config, "Backend.Fallback",
                   "is only used with Backend.Type \"auto\" (Type is \"" +
                       std::string(to_string(b.type)) + "\"); remove it");
  const BackendType carrier =
      b.type == BackendType::kAuto ? b.fallback.value_or(BackendType::kVxlan) : b.type;
  if (b.vni && carrier != BackendType::kVxlan)
    return located(config, "Backend.VNI",
                   "only the vxlan backend uses a VNI (traffic goes by " +
                       std::string(to_string(carrier)) + "); remove it");
  if (b.port && b.type == BackendType::kHostGw)
    return located(config, "Backend.Port",
                   "the host-gw backend routes without a tunnel, so it has no port; remove it");
  b.effective_vni = b.vni.value_or(1);
  b.effective_port = b.port.value_or(carrier == BackendType::kVxlan ? kDefaultVxlanPort
                                     : carrier == BackendType::kUdp ? kDefaultUdpPort
                                                                    : 0);
  if (b.type == BackendType::kHostGw) b.effective_port = 0;
  if (b.encrypt && carrier != BackendType::kUdp)
    return located(config, "Backend.Encrypt",
                   "only the udp tunnel encrypts (traffic goes by " +
                       std::string(to_string(carrier)) + "); remove it");
  b.effective_encrypt =
      carrier == BackendType::kUdp && b.encrypt.value_or(!config.key_file.empty());
  if (b.effective_port != 0 && b.effective_port == config.bind.port)
    return located(config, b.port ? "Backend.Port" : "Bind",
                   "UDP port " + std::to_string(b.effective_port) +
                       " is both the backend's and gossip's (Bind); change one");
  return {};
}

Status check_addresses(AgentConfig& config) {
  if (config.metrics_addr && config.metrics_addr->port == config.bind.port &&
      overlaps(config.metrics_addr->address, config.bind.address))
    return located(
        config, "MetricsAddr",
        "TCP port " + std::to_string(config.bind.port) + " is gossip's (Bind); pick another port");
  // The overlay must not swallow the underlay: routes to pod subnets would capture the
  // packets that carry them.
  const Cidr& network = config.network->network();
  for (const auto& [key, address] :
       {std::pair<std::string_view, std::optional<IpAddress>>{"Advertise", config.advertise},
        {"Bind", is_unspecified(config.bind.address) ? std::nullopt
                                                     : std::optional(config.bind.address)}}) {
    if (address && network.contains(*address))
      return located(config, key,
                     address->to_string() + " is inside Network " + network.to_string() +
                         ": the overlay would swallow the underlay; pick a Network that does "
                         "not contain this host's addresses");
  }
  if (config.advertise && !is_unspecified(config.bind.address) &&
      config.advertise->family() != config.bind.address.family())
    return located(config, "Advertise",
                   config.advertise->to_string() + " is not of the same IP family as Bind " +
                       config.bind.to_string());
  return {};
}

Status fill_name(AgentConfig& config) {
  if (!config.name.empty()) return {};
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
    return located(config, "Name", "not given and the host name cannot be read; give --name");
  const ConfigKey* key = find_key("Name");
  if (Status set = key->set(*key, config, ScalarValue(std::string(host))); !set.ok())
    return located(config, "Name",
                   "the host name cannot be used: " + set.problem() + "; give --name");
  return {};
}

std::optional<int64_t> parse_integer(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

Status apply_list_flag(const ConfigKey& key, AgentConfig& config, std::string_view value) {
  // The first --seed replaces the file's seeds; later ones add to it.
  const auto it = config.origins.find(key.json);
  if (it == config.origins.end() || it->second != "--" + std::string(key.flag))
    config.seeds.clear();
  if (value.empty()) return Status::bad_key(std::string(key.json), must_be(key, quoted(value)));
  while (true) {
    const size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (Status set = key.set(key, config, ScalarValue(std::string(item))); !set.ok()) return set;
    if (comma == std::string_view::npos) return {};
    value.remove_prefix(comma + 1);
  }
}

Status apply_value(const ConfigKey& key, AgentConfig& config, std::string_view value) {
  const std::string json(key.json);
  switch (key.kind) {
    case ValueKind::kString:
      return key.set(key, config, ScalarValue(std::string(value)));
    case ValueKind::kInteger: {
      const auto number = parse_integer(value);
      if (!number || *number < key.min || *number > key.max)
        return Status::bad_key(json, must_be(key, quoted(value)));
      return key.set(key, config, ScalarValue(*number));
    }
    case ValueKind::kBool:
      if (value != "true" && value != "false")
        return Status::bad_key(json, must_be(key, quoted(value)));
      return key.set(key, config, ScalarValue(value == "true"));
    case ValueKind::kStringList:
      return apply_list_flag(key, config, value);
    case ValueKind::kSitePools:
      break;  // no flag
  }
  return Status::bad_key(json, "cannot be set by a flag");
}

Status check_and_fill(AgentConfig& config) {
  auto network = lease::NetworkConfig::make(config.network_spec);
  if (!network) return network_error(config, network.error());
  config.network = *network;
  if (config.network->network().prefix() < kShortestNetworkPrefix)
    return located(config, "Network",
                   config.network->network().to_string() +
                       " spans too much: an overlay of at most /" +
                       std::to_string(kShortestNetworkPrefix) +
                       " (16 million addresses) is allowed, and it must leave the underlay out");
  // (stat, not <filesystem>: that brings std::quoted, which ADL would pick over ours.)
  if (struct stat st{}; ::stat(config.subnet_file.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return located(config, "SubnetFile",
                   config.subnet_file + " is a directory; give the path of the file to write");
  }

  if (Status checked = check_backend(config); !checked.ok()) return checked;
  if (Status checked = check_addresses(config); !checked.ok()) return checked;
  auto profile = gossip::Config::profile(config.profile);
  if (!profile) return located(config, "Profile", "unknown profile " + quoted(config.profile));
  config.gossip = *profile;
  config.gossip.keepalive_interval = config.keepalive;
  if (Status filled = fill_name(config); !filled.ok()) return filled;

  const auto& pools = config.network_spec.site_pools;
  if (config.network->candidates(config.site).empty())
    return located(config, config.site.empty() ? "SitePools" : "Site",
                   config.site.empty()
                       ? "the site pools leave no subnet for a host without a Site: set Site, "
                         "or leave part of SubnetMin..SubnetMax outside the pools"
                       : "site " + quoted(config.site) + " has no subnet to claim");
  if (!config.site.empty() && !pools.empty() && !pools.count(config.site))
    config.warnings.push_back(origin_of(config, "Site") + ": site " + quoted(config.site) +
                              " has no pool in SitePools; this host claims outside all pools");
  return {};
}

}  // namespace

std::string_view to_string(BackendType type) {
  switch (type) {
    case BackendType::kVxlan:
      return "vxlan";
    case BackendType::kHostGw:
      return "host-gw";
    case BackendType::kUdp:
      return "udp";
    case BackendType::kAuto:
      return "auto";
  }
  return "?";
}

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return "trace";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

Status apply_flag(AgentConfig& config, std::string_view flag, std::string_view value) {
  while (flag.starts_with('-')) flag.remove_prefix(1);
  const ConfigKey* key = find_flag(flag);
  if (!key) {
    std::vector<std::string_view> flags;
    for (const auto& k : config_keys())
      if (!k.flag.empty()) flags.push_back(k.flag);
    std::string problem = "unknown flag " + quoted("--" + std::string(flag));
    if (auto near = closest_match(flag, flags); !near.empty())
      problem += " (did you mean --" + std::string(near) + "?)";
    return Status::invalid_argument(problem + "; shoal agent --help lists them");
  }
  const std::string name = "--" + std::string(key->flag);
  if (Status applied = apply_value(*key, config, value); !applied.ok())
    return applied.reworded(printable(name + ": " + applied.problem()));
  auto& origin = config.origins[std::string(key->json)];
  // --seed adds up; any other flag given twice is likely a mistake in a unit file or script.
  if (origin == name && key->json != "Seeds")
    config.warnings.push_back(name + " is given more than once; the last value counts");
  origin = name;
  return {};
}

Status finish(AgentConfig& config) { return check_and_fill(config); }

namespace {

// What a flag's value looks like, for --help.
std::string metavar_of(const ConfigKey& key) {
  static const std::map<std::string_view, std::string_view> kMetavars = {
      {"Network", "CIDR"},
      {"SubnetMin", "IP"},
      {"SubnetMax", "IP"},
      {"Backend.Type", "TYPE"},
      {"Backend.Port", "PORT"},
      {"Backend.Fallback", "TYPE"},
      {"Name", "NAME"},
      {"Bind", "IP[:PORT]"},
      {"Advertise", "IP"},
      {"Seeds", "IP[:PORT][,...]"},
      {"Site", "NAME"},
      {"DataDir", "DIR"},
      {"Profile", "lan|wan|local"},
      {"KeyFile", "FILE"},
      {"SubnetFile", "FILE"},
      {"LeaseTTL", "DURATION"},
      {"ControlSocket", "PATH"},
      {"MetricsAddr", "IP:PORT"},
      {"LogLevel", "LEVEL"}};
  if (auto it = kMetavars.find(key.json); it != kMetavars.end()) return std::string(it->second);
  switch (key.kind) {
    case ValueKind::kInteger:
      return "N";
    case ValueKind::kBool:
      return "true|false";
    default:
      return "VALUE";
  }
}

}  // namespace

std::vector<FlagHelp> flag_help() {
  std::vector<FlagHelp> out;
  for (const auto& key : config_keys()) {
    out.push_back({key.flag.empty() ? std::string() : "--" + std::string(key.flag), metavar_of(key),
                   std::string(key.json), std::string(key.default_text), std::string(key.help)});
  }
  return out;
}

}  // namespace shoal::agent
