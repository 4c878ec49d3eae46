#include "agent/config_keys.h"

#include <algorithm>
#include <cctype>

#include "agent/config_values.h"
#include "common/unix_socket.h"
#include "lease/node_record.h"

namespace shoal::agent {
namespace {

const std::string& text_of(const ScalarValue& v) { return std::get<std::string>(v); }
int64_t integer_of(const ScalarValue& v) { return std::get<int64_t>(v); }

Status bad(const ConfigKey& key, std::string problem) {
  return Status::bad_key(std::string(key.json), std::move(problem));
}

Status set_string(std::string& out, const ScalarValue& v) {
  out = text_of(v);
  return {};
}

Status set_path(const ConfigKey& key, std::string& out, const ScalarValue& v, bool may_be_empty,
                size_t max_bytes = 4096) {
  const std::string& path = text_of(v);
  if ((path.empty() && !may_be_empty) || path.size() > max_bytes ||
      path.find('\0') != std::string::npos)
    return bad(key, must_be(key, quoted(path)));
  out = path;
  return {};
}

template <typename E>
using Names = std::span<const std::pair<std::string_view, E>>;

template <typename E>
Status set_enum(const ConfigKey& key, Names<E> names, const ScalarValue& v, E& out) {
  const std::string& text = text_of(v);
  for (const auto& [name, value] : names) {
    if (name == text) {
      out = value;
      return {};
    }
  }
  std::vector<std::string_view> candidates;
  for (const auto& entry : names) candidates.push_back(entry.first);
  std::string problem = must_be(key, quoted(text));
  if (auto near = closest_match(text, candidates); !near.empty())
    problem += " (did you mean \"" + std::string(near) + "\"?)";
  return bad(key, std::move(problem));
}

constexpr std::pair<std::string_view, BackendType> kBackendNames[] = {
    {"vxlan", BackendType::kVxlan},
    {"host-gw", BackendType::kHostGw},
    {"udp", BackendType::kUdp},
    {"auto", BackendType::kAuto}};
constexpr std::pair<std::string_view, BackendType> kFallbackNames[] = {
    {"vxlan", BackendType::kVxlan}, {"udp", BackendType::kUdp}};
constexpr std::pair<std::string_view, LogLevel> kLogLevelNames[] = {{"trace", LogLevel::kTrace},
                                                                    {"debug", LogLevel::kDebug},
                                                                    {"info", LogLevel::kInfo},
                                                                    {"warn", LogLevel::kWarn},
                                                                    {"error", LogLevel::kError}};
constexpr std::pair<std::string_view, int> kProfileNames[] = {{"lan", 0}, {"wan", 1}, {"local", 2}};
// flannel backends shoal does not have: say so instead of "unknown".
constexpr std::string_view kFlannelOnlyBackends[] = {
    "ipip",    "ipsec", "wireguard", "alloc",  "extension",
    "aws-vpc", "gce",   "ali-vpc",   "alivpc", "tencent-vpc"};

Status set_backend_type(const ConfigKey& key, AgentConfig& c, const ScalarValue& v) {
  if (std::find(std::begin(kFlannelOnlyBackends), std::end(kFlannelOnlyBackends), text_of(v)) !=
      std::end(kFlannelOnlyBackends))
    return bad(key, quoted(text_of(v)) +
                        " is a flannel backend that shoal does not have; use \"vxlan\", "
                        "\"host-gw\", \"udp\" (encrypted when a KeyFile is given) or \"auto\"");
  return set_enum<BackendType>(key, kBackendNames, v, c.backend.type);
}

Status set_name(const ConfigKey& key, AgentConfig& c, const ScalarValue& v) {
  const std::string& name = text_of(v);
  if (name.empty() || name.size() > lease::RecordLimits{}.max_name_bytes || has_control_chars(name))
    return bad(key, must_be(key, quoted(name)));
  c.name = name;
  return {};
}

Status set_site(const ConfigKey& key, AgentConfig& c, const ScalarValue& v) {
  const std::string& site = text_of(v);
  if (site.size() > lease::RecordLimits{}.max_site_bytes || has_control_chars(site))
    return bad(key, must_be(key, quoted(site)));
  c.site = site;
  return {};
}

Status set_endpoint(const ConfigKey& key, const ScalarValue& v,
                    std::optional<uint16_t> default_port, Endpoint& out) {
  auto e = parse_endpoint(text_of(v), default_port);
  if (!e || e->port == 0) return bad(key, must_be(key, quoted(text_of(v))));
  out = *e;
  return {};
}

constexpr std::string_view kAddressWithPort =
    "an address with an optional port, like \"192.0.2.1:7946\" (host names are not resolved)";

Status add_seed(const ConfigKey& key, AgentConfig& c, const ScalarValue& v) {
  auto parsed = parse_endpoint(text_of(v), kDefaultGossipPort);
  if (!parsed || parsed->port == 0)
    return bad(key, "must be " + std::string(kAddressWithPort) + ", got " + quoted(text_of(v)));
  const Endpoint seed = *parsed;
  if (is_unspecified(seed.address))
    return bad(key, quoted(text_of(v)) + " is the unspecified address; give a seed's real address");
  if (std::find(c.seeds.begin(), c.seeds.end(), seed) == c.seeds.end()) c.seeds.push_back(seed);
  return {};
}

Status set_advertise(const ConfigKey& key, AgentConfig& c, const ScalarValue& v) {
  if (parse_endpoint(text_of(v), std::nullopt) && !IpAddress::parse(text_of(v)))
    return bad(key, "give only the address (" + quoted(text_of(v)) +
                        " has a port); peers use Bind's port");
  auto ip = IpAddress::parse(text_of(v));
  if (!ip) return bad(key, must_be(key, quoted(text_of(v))));
  if (is_unspecified(*ip))
    return bad(key, quoted(text_of(v)) + " is the unspecified address; peers need a real one");
  c.advertise = *ip;
  return {};
}

Status set_metrics(const ConfigKey& key, AgentConfig& c, const ScalarValue& v) {
  if (text_of(v).empty()) {  // lets a flag turn off what the file turned on
    c.metrics_addr.reset();
    return {};
  }
  Endpoint e;
  if (Status set = set_endpoint(key, v, std::nullopt, e); !set.ok()) return set;
  c.metrics_addr = e;
  return {};
}

Status set_lease_ttl(const ConfigKey& key, AgentConfig& c, const ScalarValue& v) {
  auto ttl = parse_duration(text_of(v));
  if (!ttl || *ttl < std::chrono::minutes(1) || *ttl > std::chrono::hours(8760))
    return bad(key, must_be(key, quoted(text_of(v))));
  c.lease_ttl = *ttl;
  return {};
}

Status set_mtu(const ConfigKey& key, AgentConfig& c, const ScalarValue& v) {
  const int64_t mtu = integer_of(v);
  if (mtu != 0 && mtu < 576) return bad(key, must_be(key, std::to_string(mtu)));
  c.mtu = static_cast<int>(mtu);
  return {};
}

const ConfigKey kKeys[] = {
    {"Network", "network", ValueKind::kString, 0, 0,
     "an IPv4 network in CIDR form, like \"198.18.0.0/16\"", "(required)",
     "the overlay network all pod subnets come from (flannel)",
     [](const ConfigKey&, AgentConfig& c, const ScalarValue& v) {
       return set_string(c.network_spec.network, v);
     }},
    {"SubnetLen", "subnet-len", ValueKind::kInteger, 0, 32, "", "24 (Network+2 below a /22)",
     "prefix length of each host's subnet; 0 means the default (flannel)",
     [](const ConfigKey&, AgentConfig& c, const ScalarValue& v) {
       const auto len = integer_of(v);
       c.network_spec.subnet_len =
           len == 0 ? std::nullopt : std::optional<unsigned>(static_cast<unsigned>(len));
       return Status();
     }},
    {"SubnetMin", "subnet-min", ValueKind::kString, 0, 0, "an IPv4 address, like \"198.18.1.0\"",
     "the second subnet", "first subnet hosts may claim (flannel)",
     [](const ConfigKey&, AgentConfig& c, const ScalarValue& v) {
       c.network_spec.subnet_min = text_of(v);
       return Status();
     }},
    {"SubnetMax", "subnet-max", ValueKind::kString, 0, 0, "an IPv4 address, like \"198.18.255.0\"",
     "the last subnet", "last subnet hosts may claim (flannel)",
     [](const ConfigKey&, AgentConfig& c, const ScalarValue& v) {
       c.network_spec.subnet_max = text_of(v);
       return Status();
     }},
    {"SitePools", "", ValueKind::kSitePools, 0, 0,
     "an object like {\"east\": {\"SubnetMin\": \"198.18.0.0\", \"SubnetMax\": \"198.18.127.0\"}}",
     "none", "per-site subnet ranges, so sites never compete for subnets", nullptr},
    {"Backend.Type", "backend", ValueKind::kString, 0, 0,
     "one of \"vxlan\", \"host-gw\", \"udp\", \"auto\"", "vxlan",
     "how pod traffic crosses the underlay; auto: host-gw on the same L2 segment",
     set_backend_type},
    {"Backend.VNI", "vni", ValueKind::kInteger, 0, 16777215, "", "1",
     "VXLAN network identifier (device shoal.<VNI>)",
     [](const ConfigKey&, AgentConfig& c, const ScalarValue& v) {
       c.backend.vni = static_cast<uint32_t>(integer_of(v));
       return Status();
     }},
    {"Backend.Port", "backend-port", ValueKind::kInteger, 0, 65535, "", "8472 (vxlan), 8285 (udp)",
     "UDP port of the vxlan or udp backend; 0 means the default",
     [](const ConfigKey&, AgentConfig& c, const ScalarValue& v) {
       const auto port = integer_of(v);
       c.backend.port =
           port == 0 ? std::nullopt : std::optional<uint16_t>(static_cast<uint16_t>(port));
       return Status();
     }},
    {"Backend.TxChecksumOffload", "tx-checksum-offload", ValueKind::kBool, 0, 0, "true or false",
     "true",
     "false: compute the vxlan device's tx checksums in software (old kernels' VXLAN "
     "checksum bug)",
     [](const ConfigKey&, AgentConfig& c, const ScalarValue& v) {
       c.backend.tx_checksum_offload = std::get<bool>(v);
       return Status();
     }},
    {"Backend.Encrypt", "encrypt", ValueKind::kBool, 0, 0, "true or false",
     "true when KeyFile is set",
     "udp: encrypt pod traffic between hosts (false: plaintext, for "
     "trusted links and measuring)",
     [](const ConfigKey&, AgentConfig& c, const ScalarValue& v) {
       c.backend.encrypt = std::get<bool>(v);
       return Status();
     }},
    {"Backend.RekeySeconds", "rekey-seconds", ValueKind::kInteger, 10, 86400, "", "120",
     "udp, encrypted: start a new session (fresh keys) after this long",
     [](const ConfigKey&, AgentConfig& c, const ScalarValue& v) {
       c.backend.rekey_after = std::chrono::seconds(integer_of(v));
       return Status();
     }},
    {"Backend.Fallback", "backend-fallback", ValueKind::kString, 0, 0, "\"vxlan\" or \"udp\"",
     "vxlan", "with Type auto: the backend for peers off our L2 segment",
     [](const ConfigKey& key, AgentConfig& c, const ScalarValue& v) {
       BackendType fallback{};
       auto problem = set_enum<BackendType>(key, kFallbackNames, v, fallback);
       if (problem.ok()) c.backend.fallback = fallback;
       return problem;
     }},
    {"Name", "name", ValueKind::kString, 0, 0,
     "a name of 1 to 128 bytes without control characters", "the host name",
     "this host's name in the cluster", set_name},
    {"Bind", "bind", ValueKind::kString, 0, 0, kAddressWithPort, "0.0.0.0:7946",
     "address and port for gossip (UDP and TCP)",
     [](const ConfigKey& key, AgentConfig& c, const ScalarValue& v) {
       return set_endpoint(key, v, kDefaultGossipPort, c.bind);
     }},
    {"Advertise", "advertise", ValueKind::kString, 0, 0, "an IP address, like \"192.0.2.1\"",
     "Bind's address, or guessed", "the address peers should use to reach this host",
     set_advertise},
    {"PublicAddress", "public-address", ValueKind::kString, 0, 0, kAddressWithPort, "none",
     "a port forward to this host (its router's address and port), advertised to peers",
     [](const ConfigKey& key, AgentConfig& c, const ScalarValue& v) {
       if (text_of(v).empty()) {
         c.public_address.reset();
         return Status();
       }
       Endpoint e;
       if (Status set = set_endpoint(key, v, kDefaultGossipPort, e); !set.ok()) return set;
       if (is_unspecified(e.address))
         return bad(key, quoted(text_of(v)) + " is the unspecified address; give the router's");
       c.public_address = e;
       return Status();
     }},
    {"Relay", "relay", ValueKind::kBool, 0, 0, "true or false", "true",
     "when others reach this host with no NAT in between, relay gossip probes and udp "
     "tunnel traffic for hosts behind NAT (end-to-end sealed: a relay cannot read it)",
     [](const ConfigKey&, AgentConfig& c, const ScalarValue& v) {
       c.relay = std::get<bool>(v);
       return Status();
     }},
    {"RelayMaxMbps", "relay-max-mbps", ValueKind::kInteger, 0, 100000, "", "0",
     "the most udp tunnel traffic this host relays for others, in Mbit/s (0: no cap)",
     [](const ConfigKey&, AgentConfig& c, const ScalarValue& v) {
       c.relay_max_mbps = static_cast<uint32_t>(integer_of(v));
       return Status();
     }},
    {"KeepaliveSeconds", "keepalive-seconds", ValueKind::kInteger, 1, 3600, "", "25",
     "across a NAT: how often to ping the relays and tunnel peers, to keep the NAT's mapping "
     "open",
     [](const ConfigKey&, AgentConfig& c, const ScalarValue& v) {
       c.keepalive = std::chrono::seconds(integer_of(v));
       return Status();
     }},
    {"Seeds", "seed", ValueKind::kStringList, 0, 0,
     "an array of addresses with optional ports, like [\"192.0.2.1:7946\"] (host names are "
     "not resolved)",
     "none", "hosts to join through; --seed may repeat or list several, comma-separated", add_seed},
    {"Site", "site", ValueKind::kString, 0, 0,
     "a site name of at most 64 bytes without control characters", "none",
     "this host's site (for SitePools)", set_site},
    {"DataDir", "data-dir", ValueKind::kString, 0, 0, "a directory path", "/var/lib/shoal",
     "where the SQLite database lives",
     [](const ConfigKey& key, AgentConfig& c, const ScalarValue& v) {
       return set_path(key, c.data_dir, v, false);
     }},
    {"Profile", "profile", ValueKind::kString, 0, 0, "one of \"lan\", \"wan\", \"local\"", "lan",
     "gossip timing: lan, wan (slower, more patient) or local (one machine)",
     [](const ConfigKey& key, AgentConfig& c, const ScalarValue& v) {
       int unused = 0;
       auto problem = set_enum<int>(key, kProfileNames, v, unused);
       if (problem.ok()) c.profile = text_of(v);
       return problem;
     }},
    {"KeyFile", "key-file", ValueKind::kString, 0, 0, "a file path", "none (plaintext)",
     "cluster key file; without one gossip and tunnels are not encrypted",
     [](const ConfigKey& key, AgentConfig& c, const ScalarValue& v) {
       return set_path(key, c.key_file, v, true);
     }},
    {"SubnetFile", "subnet-file", ValueKind::kString, 0, 0, "a file path", "/run/shoal/subnet.env",
     "where to write flannel's subnet.env",
     [](const ConfigKey& key, AgentConfig& c, const ScalarValue& v) {
       return set_path(key, c.subnet_file, v, false);
     }},
    {"LeaseTTL", "lease-ttl", ValueKind::kString, 0, 0,
     "a duration like \"24h\", \"90m\" or \"1h30m\", from 1m to 8760h", "24h",
     "a subnet lease not renewed for this long is free again", set_lease_ttl},
    {"ControlSocket", "control-socket", ValueKind::kString, 0, 0,
     "a socket path of at most 107 bytes", kDefaultControlSocket,
     "Unix socket for shoal members/leases/status",
     [](const ConfigKey& key, AgentConfig& c, const ScalarValue& v) {
       return set_path(key, c.control_socket, v, false, kMaxUnixPath);
     }},
    {"MetricsAddr", "metrics-addr", ValueKind::kString, 0, 0,
     "an address and port, like \"127.0.0.1:9090\", or \"\" for none", "none",
     "serve Prometheus metrics over HTTP here", set_metrics},
    {"LogLevel", "log-level", ValueKind::kString, 0, 0,
     "one of \"trace\", \"debug\", \"info\", \"warn\", \"error\"", "info", "least severe logged",
     [](const ConfigKey& key, AgentConfig& c, const ScalarValue& v) {
       return set_enum<LogLevel>(key, kLogLevelNames, v, c.log_level);
     }},
    {"MTU", "mtu", ValueKind::kInteger, 0, 9000, "0 (automatic) or an integer from 576 to 9000",
     "0 (automatic)", "MTU of the overlay, written to subnet.env", set_mtu},
    {"IPMasq", "ip-masq", ValueKind::kBool, 0, 0, "true or false", "false",
     "masquerade traffic leaving the overlay (written to subnet.env)",
     [](const ConfigKey&, AgentConfig& c, const ScalarValue& v) {
       c.ip_masq = std::get<bool>(v);
       return Status();
     }},
    {"AllowFaults", "allow-faults", ValueKind::kBool, 0, 0, "true or false", "false",
     "FOR TESTS: let `shoal fault` drop or lose this host's traffic to given peers (root or "
     "the agent's user only; every fault expires). Never on a host that carries real traffic",
     [](const ConfigKey&, AgentConfig& c, const ScalarValue& v) {
       c.allow_faults = std::get<bool>(v);
       return Status();
     }},
};

constexpr IgnoredKey kIgnored[] = {
    {"EnableIPv4", "shoal always runs IPv4"},
    {"EnableIPv6", "shoal supports IPv4 only"},
    {"IPv6Network", "shoal supports IPv4 only"},
    {"IPv6SubnetLen", "shoal supports IPv4 only"},
    {"IPv6SubnetMin", "shoal supports IPv4 only"},
    {"IPv6SubnetMax", "shoal supports IPv4 only"},
    {"Networks", "shoal uses the single Network"},
    {"IPv6Networks", "shoal supports IPv4 only"},
    {"EnableNFTables", "shoal leaves masquerading rules to the CNI plugin"},
    {"Backend.DirectRouting", "Backend.Type \"auto\" does this in shoal"},
    {"Backend.GBP", "shoal does not use VXLAN group policy"},
    {"Backend.Learning", "shoal programs VXLAN neighbours itself"},
    {"Backend.MacPrefix", "shoal derives VTEP MACs itself"},
    {"Backend.MTU", "use the top-level MTU key"},
};

// Optimal string alignment distance (a swap of neighbours counts once), case ignored.
size_t edit_distance(std::string_view a, std::string_view b) {
  auto low = [](char ch) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  };
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = low(a[i - 1]) == low(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && low(a[i - 1]) == low(b[j - 2]) && low(a[i - 2]) == low(b[j - 1]))
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::span<const ConfigKey> config_keys() { return kKeys; }

const ConfigKey* find_key(std::string_view json_path) {
  for (const auto& key : kKeys)
    if (key.json == json_path) return &key;
  return nullptr;
}

const ConfigKey* find_flag(std::string_view flag) {
  for (const auto& key : kKeys)
    if (!key.flag.empty() && key.flag == flag) return &key;
  return nullptr;
}

const IgnoredKey* find_ignored(std::string_view json_path) {
  for (const auto& key : kIgnored)
    if (key.json == json_path) return &key;
  return nullptr;
}

std::vector<std::string_view> ignored_keys_under(std::string_view prefix) {
  std::vector<std::string_view> out;
  for (const auto& key : kIgnored) {
    if (!key.json.starts_with(prefix)) continue;
    std::string_view rest = key.json.substr(prefix.size());
    if (rest.find('.') == std::string_view::npos) out.push_back(rest);
  }
  return out;
}

std::string_view closest_match(std::string_view word,
                               std::span<const std::string_view> candidates) {
  if (word.size() > 64) return {};
  std::string_view best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;  // farther is not a typo
  for (std::string_view candidate : candidates) {
    const size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) best = candidate, best_distance = distance;
  }
  return best;
}

std::string must_be(const ConfigKey& key, std::string_view shown) {
  std::string expected(key.expected);
  if (key.kind == ValueKind::kInteger && expected.empty())
    expected = "an integer between " + std::to_string(key.min) + " and " + std::to_string(key.max);
  return "must be " + expected + ", got " + std::string(shown);
}

}  // namespace shoal::agent
