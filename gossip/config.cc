#include "gossip/config.h"

#include <algorithm>
#include <cmath>

namespace shoal::gossip {

Config Config::lan() { return Config{}; }

Config Config::wan() {
  Config c;
  c.stream_timeout = 30s;
  c.suspicion_mult = 6;
  c.push_pull_interval = 60s;
  c.probe_timeout = 3s;
  c.probe_interval = 5s;
  c.gossip_nodes = 4;
  c.gossip_interval = 500ms;
  c.gossip_to_the_dead_time = 60s;
  c.reconnect_interval = 3s;
  return c;
}

Config Config::local() {
  Config c;
  c.stream_timeout = 1s;
  c.indirect_checks = 1;
  c.retransmit_mult = 2;
  c.suspicion_mult = 3;
  c.push_pull_interval = 15s;
  c.probe_timeout = 200ms;
  c.probe_interval = 1s;
  c.gossip_interval = 100ms;
  c.gossip_to_the_dead_time = 15s;
  return c;
}

std::optional<Config> Config::profile(std::string_view name) {
  if (name == "lan") return lan();
  if (name == "wan") return wan();
  if (name == "local") return local();
  return std::nullopt;
}

std::string Config::validate() const {
  if (probe_interval <= Duration::zero()) return "probe_interval must be positive";
  if (probe_timeout <= Duration::zero() || probe_timeout >= probe_interval)
    return "probe_timeout must be positive and shorter than probe_interval";
  if (indirect_checks < 0 || indirect_checks > 16) return "indirect_checks must be in 0..16";
  if (awareness_max_multiplier < 1 || awareness_max_multiplier > 64)
    return "awareness_max_multiplier must be in 1..64";
  if (suspicion_mult < 1) return "suspicion_mult must be at least 1";
  if (suspicion_max_timeout_mult < 1) return "suspicion_max_timeout_mult must be at least 1";
  if (gossip_interval <= Duration::zero()) return "gossip_interval must be positive";
  if (gossip_nodes < 1 || gossip_nodes > 64) return "gossip_nodes must be in 1..64";
  if (retransmit_mult < 1) return "retransmit_mult must be at least 1";
  if (push_pull_interval <= Duration::zero()) return "push_pull_interval must be positive";
  if (reconnect_interval <= Duration::zero()) return "reconnect_interval must be positive";
  if (reconnects_per_tick < 1 || reconnects_per_tick > 1024)
    return "reconnects_per_tick must be in 1..1024";
  if (stream_timeout <= Duration::zero()) return "stream_timeout must be positive";
  if (keepalive_interval < 1s || keepalive_interval > 1h)
    return "keepalive_interval must be between 1 s and 1 h";
  if (join_grace < Duration::zero()) return "join_grace must not be negative";
  if (relays_per_member < 1 || relays_per_member > 16) return "relays_per_member must be in 1..16";
  if (max_packet_bytes < 512 || max_packet_bytes > 65000)
    return "max_packet_bytes must be in 512..65000";
  if (max_meta_bytes > max_packet_bytes / 2) return "max_meta_bytes must fit in half a packet";
  if (wire_versions.min < 1 || wire_versions.min > wire_versions.max)
    return "wire_versions must satisfy 1 <= min <= max";
  return {};
}

Duration suspicion_timeout(int suspicion_mult, size_t n, Duration probe_interval) {
  const double node_scale = std::max(1.0, std::log10(std::max<double>(1.0, double(n))));
  return scale(probe_interval, suspicion_mult * node_scale);
}

int retransmit_limit(int retransmit_mult, size_t n) {
  return retransmit_mult * static_cast<int>(std::ceil(std::log10(double(n) + 1.0)));
}

Duration push_pull_scale(Duration interval, size_t n) {
  constexpr size_t kThreshold = 32;
  if (n <= kThreshold) return interval;
  const double multiplier = std::ceil(std::log2(double(n)) - std::log2(double(kThreshold))) + 1.0;
  return scale(interval, multiplier);
}

}  // namespace shoal::gossip
