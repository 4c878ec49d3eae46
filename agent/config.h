// AgentConfig is everything the agent daemon is told: flannel's net-conf.json keys
// (Network, SubnetLen, SubnetMin, SubnetMax, Backend) plus shoal's own, read from a JSON
// file and then overridden by command-line flags.
//
// Use: parse_config() or load_config(), then apply_flag() once per flag, then finish(),
// which checks the whole and fills the derived fields. Every error is a sentence that
// names the file or the flag, the key and what is wrong ("shoal.json: \"SubnetLen\": must
// be an integer between 0 and 32, got \"abc\""); nothing throws. flannel keys that shoal
// does not use are accepted and reported in `warnings`; unknown keys are errors, with a
// suggestion when one is close. docs/config.md lists every key.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/endpoint.h"
#include "common/status.h"
#include "gossip/config.h"
#include "lease/network_config.h"

namespace shoal::agent {

enum class BackendType { kVxlan, kHostGw, kUdp, kAuto };
enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError };

inline constexpr uint16_t kDefaultGossipPort = 7946;
inline constexpr uint16_t kDefaultVxlanPort = 8472;  // the Linux kernel's (and flannel's)
inline constexpr uint16_t kDefaultUdpPort = 8285;    // flannel's udp backend
inline constexpr const char* kDefaultControlSocket = "/run/shoal/shoal.sock";
inline constexpr size_t kMaxConfigBytes = 64 * 1024;
// No overlay may span more than a /8: 0.0.0.0/0 would take every address (and 300 MB of
// allocator state), and any overlay must leave the underlay out.
inline constexpr int kShortestNetworkPrefix = 8;

std::string_view to_string(BackendType type);
std::string_view to_string(LogLevel level);

struct BackendConfig {  // JSON "Backend": {...}
  BackendType type = BackendType::kVxlan;
  std::optional<uint32_t> vni;   // vxlan only; unset: 1, like flannel
  std::optional<uint16_t> port;  // unset: the backend's default (see kDefault*Port)
  // With Type "auto": what carries traffic to peers off our L2 segment (vxlan or udp).
  std::optional<BackendType> fallback;
  // vxlan: false turns the device's tx checksum offload off (the VXLAN checksum bug of
  // older kernels; flannel's documented ethtool workaround, built in).
  bool tx_checksum_offload = true;
  // udp: seal every packet (X25519 handshake, AEAD). Unset: on when the cluster has a key
  // (KeyFile), so a cluster that encrypts gossip also encrypts pod traffic.
  std::optional<bool> encrypt;
  // udp, encrypted: a new session (fresh ephemeral keys) after this long, as WireGuard's 120 s.
  std::chrono::seconds rekey_after{120};

  // Filled by finish(): whether the udp tunnel seals packets.
  bool effective_encrypt = false;

  // Filled by finish(): the UDP port the backend listens on (0 for host-gw) and the VNI.
  uint16_t effective_port = 0;
  uint32_t effective_vni = 1;
};

struct AgentConfig {
  // flannel's keys. Validation happens in finish(), through lease::NetworkConfig::make.
  lease::NetworkSpec network_spec;  // Network, SubnetLen, SubnetMin, SubnetMax, SitePools
  BackendConfig backend;

  // shoal's own keys.
  std::string name;  // empty: finish() uses the host name
  Endpoint bind{IpAddress(), kDefaultGossipPort};
  std::optional<IpAddress> advertise;  // unset: the agent guesses from the bind address
  std::vector<Endpoint> seeds;
  // Across NATs (docs/sites.md): a port forward to this host, whether it relays for others,
  // and how often a host behind NAT pings its relays to keep its mapping open.
  std::optional<Endpoint> public_address;
  bool relay = true;
  uint32_t relay_max_mbps = 0;  // udp tunnel traffic relayed for others; 0: no cap
  std::chrono::seconds keepalive = std::chrono::seconds(25);
  std::string site;
  std::string data_dir = "/var/lib/shoal";
  std::string profile = "lan";  // gossip::Config::profile name
  std::string key_file;         // empty: gossip and tunnels run in plaintext
  std::string subnet_file = "/run/shoal/subnet.env";
  std::chrono::seconds lease_ttl = std::chrono::hours(24);
  std::string control_socket = kDefaultControlSocket;
  std::optional<Endpoint> metrics_addr;  // unset: no metrics endpoint
  LogLevel log_level = LogLevel::kInfo;
  int mtu = 0;  // 0: derived from the underlay device's MTU (node::plan); caps it otherwise
  bool ip_masq = false;
  bool allow_faults = false;  // `shoal fault` (agent/faults.h): for partition tests only

  // Filled by finish().
  std::optional<lease::NetworkConfig> network;
  gossip::Config gossip;

  // Accepted but unused keys and other things a person should hear about.
  std::vector<std::string> warnings;
  // For error messages: the file the config came from, and where each key was last set
  // ("shoal.json" or "--subnet-len"), keyed by JSON key ("SubnetLen", "Backend.Port").
  std::string source;
  std::map<std::string, std::string, std::less<>> origins;
};

// Parses the JSON text of a config file. `source` names it in errors (usually its path).
// Errors about one key are Status::bad_key: key() names it, the message says where.
Result<AgentConfig> parse_config(std::string_view json, std::string_view source);
// Reads (at most kMaxConfigBytes) and parses the file at `path`.
Result<AgentConfig> load_config(const std::string& path);

// Applies one `--flag value` ("--subnet-len", "24"; the dashes are optional). Flags replace
// file values; --seed adds to the seeds given by earlier --seed flags and replaces the
// file's. Boolean flags take "true" or "false". Errors name the flag (and carry its key).
Status apply_flag(AgentConfig& config, std::string_view flag, std::string_view value);

// Checks the whole configuration (flannel's Network rules, backend and port coherence,
// profile) and fills the derived fields: network, gossip, backend.effective_*, and name
// when it was left empty. Errors carry the key, and name it and where it was set.
Status finish(AgentConfig& config);

struct FlagHelp {
  std::string flag;          // "--subnet-len"; empty for keys only a file can set
  std::string metavar;       // what the value looks like: "N", "CIDR", "IP[:PORT]"
  std::string json_key;      // "SubnetLen"
  std::string default_text;  // "24", or how the default is found
  std::string description;   // one line
};
// Every key and flag, in the order `shoal agent --help` should print them.
std::vector<FlagHelp> flag_help();

}  // namespace shoal::agent
