// Tuning of the SWIM core. Profiles carry memberlist's defaults for a LAN, a WAN and a
// single machine (loopback); every field can be overridden after picking a profile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/time.h"
#include "gossip/version.h"

namespace shoal::gossip {

struct Config {
  // Failure detection.
  Duration probe_interval = 1s;
  Duration probe_timeout = 500ms;     // wait this long for a direct ack before asking others
  int indirect_checks = 3;            // k members asked to probe on our behalf
  bool stream_fallback_probe = true;  // also ping over the stream transport (memberlist's TCP ping)
  int awareness_max_multiplier = 8;   // Lifeguard: probe up to this much slower when unhealthy
  int suspicion_mult = 4;             // suspicion timeout = mult * log10(n) * probe_interval ...
  int suspicion_max_timeout_mult = 6;  // ... shrinking from mult*that as confirmations arrive

  // Dissemination.
  Duration gossip_interval = 200ms;
  int gossip_nodes = 3;                    // fanout per gossip round
  int retransmit_mult = 4;                 // each update sent about mult * ceil(log10(n+1)) times
  Duration gossip_to_the_dead_time = 30s;  // keep gossiping to a dead member this long
  Duration push_pull_interval = 30s;       // anti-entropy; scaled up for clusters over 32 members
  // Healing: each tick a member tries at most one dead member, so that the cluster as a
  // whole makes about min(dead, reconnects_per_tick) tries per tick, however long they
  // have been dead (membership_sync.cc, reconnect()).
  Duration reconnect_interval = 1s;
  int reconnects_per_tick = 4;
  Duration stream_timeout = 10s;   // for drivers: give up on a stream after this long
  Duration dead_reap_after = 24h;  // forget dead and left members after this long

  // Across NATs.
  Duration keepalive_interval = 25s;  // a member behind NAT pings its relays this often
  int relays_per_member = 3;          // relays each member behind NAT keeps a mapping open to
  Duration join_grace = 30s;          // a new member that never answered is not accused yet

  // Limits.
  size_t max_packet_bytes = 1400;  // plaintext datagram budget; the agent subtracts AEAD overhead
  size_t max_meta_bytes = 512;
  size_t max_name_bytes = 128;
  size_t max_stream_bytes = 16 << 20;  // one push-pull message, user state included
  size_t max_members = 65536;          // a push-pull listing more is refused

  // The wire versions this member reads and advertises (the rule: gossip/wire.h). Leave it
  // at the build's range. Tests set a max above kWireVersionMax to pose as a newer build:
  // this build's messages then stand for a newer version's that add nothing old readers
  // need, which is what the version rule must carry through a rolling upgrade.
  VersionRange wire_versions;

  // memberlist's DefaultLANConfig.
  static Config lan();
  // memberlist's DefaultWANConfig: slower probes, more patience.
  static Config wan();
  // memberlist's DefaultLocalConfig: one machine, fast and impatient.
  static Config local();
  // "lan", "wan" or "local"; nullopt for anything else.
  static std::optional<Config> profile(std::string_view name);

  // Empty when the values make sense together, else what is wrong, naming the field.
  std::string validate() const;
};

// memberlist's scaling helpers, shared with tests and benchmarks.
// Suspicion timeout before confirmations: mult * max(1, log10(n)) * interval.
Duration suspicion_timeout(int suspicion_mult, size_t n, Duration probe_interval);
// How many times each update is sent: mult * ceil(log10(n + 1)).
int retransmit_limit(int retransmit_mult, size_t n);
// Push-pull interval for n members: unchanged up to 32, then grows with log2(n / 32).
Duration push_pull_scale(Duration interval, size_t n);

}  // namespace shoal::gossip
