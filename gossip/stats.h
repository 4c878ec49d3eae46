// Counters of one gossip core, for metrics and tests. Monotonic; never reset.
#pragma once

#include <cstdint>

namespace shoal::gossip {

struct Stats {
  uint64_t packets_in = 0, packets_out = 0, bytes_in = 0, bytes_out = 0;
  uint64_t streams_in = 0, streams_out = 0, stream_bytes_in = 0, stream_bytes_out = 0;
  // Dropped input, by reason (see wire.h DropReason) or because it made no sense here.
  uint64_t dropped_empty = 0, dropped_oversized = 0, dropped_bad_version = 0;
  uint64_t dropped_malformed = 0, dropped_invalid = 0, dropped_unknown = 0;
  uint64_t dropped_wrong_target = 0;  // a ping meant for another node id
  uint64_t dropped_stray_ack = 0;     // an ack or nack nobody waits for
  uint64_t probes = 0, probes_failed = 0, indirect_probes_sent = 0, stream_probes_sent = 0;
  uint64_t probes_rescued_by_stream = 0, nacks_received = 0;
  uint64_t suspicions_started = 0, refutations = 0, declared_dead = 0;
  uint64_t stale_accusations = 0;           // accusations of us we had already refuted
  uint64_t suspicion_rechecks = 0;          // probes of a member we had suspected for a while
  uint64_t suspicion_reminders = 0;         // accusations sent again to a member still suspected
  uint64_t accusations_through_relays = 0;  // relays asked to tell a NATed member we hold
                                            // it suspect or dead (we have no way to it)
  uint64_t push_pulls_started = 0, push_pulls_received = 0, reconnect_attempts = 0;
  uint64_t revive_syncs = 0;          // push-pulls with a member we held dead that spoke to us
  uint64_t hint_checks = 0;           // pings to a member's new endpoint while its old one worked
  uint64_t probe_last_looks = 0;      // stretched probes that pinged once more before accusing
  uint64_t heal_syncs = 0;            // push-pulls during and after a burst of revivals (a heal)
  uint64_t doubts_sent = 0;           // suspects and dead members we asked about on our pings
  uint64_t doubts_answered = 0;       // such questions we answered with a newer alive
  uint64_t stale_views_answered = 0;  // pings holding us at an older incarnation: our alive
  uint64_t doubt_pings = 0;           // pings sent only to ask, while Lifeguard slows our probes
  uint64_t state_syncs_started = 0;
  uint64_t updates_received = 0, user_messages_received = 0;
  // Messages written above our newest version, read best-effort (gossip/wire.h): a newer
  // member that had not heard our range yet. Steady growth means it never does.
  uint64_t newer_version_in = 0;
  // Across NATs (membership_paths.cc).
  uint64_t punch_attempts = 0;     // probes sent to more endpoints than the one we reach
  uint64_t punches = 0;            // paths proven on an endpoint other than the address
  uint64_t punch_acks_sent = 0;    // acks sent straight to a prober a helper named
  uint64_t path_moves = 0;         // a member's proven endpoint moved (a NAT remapped)
  uint64_t endpoint_changes = 0;   // our own advertised candidates or NAT verdict changed
  uint64_t mapping_refreshes = 0;  // pings to our relays: keepalives and discovery
  uint64_t mapping_refresh_bytes = 0;
  uint64_t relayed_probes = 0;   // indirect pings we ran for others
  uint64_t probes_in_grace = 0;  // failed probes of a new member never heard (join_grace)
  uint64_t probes_outrun = 0;    // failed probes whose target refuted meanwhile: no accusation

  uint64_t dropped_total() const {
    return dropped_empty + dropped_oversized + dropped_bad_version + dropped_malformed +
           dropped_invalid + dropped_unknown + dropped_wrong_target + dropped_stray_ack;
  }
};

}  // namespace shoal::gossip
