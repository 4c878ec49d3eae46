// The udp tunnel's session decisions, sans-IO (ages, counters and ids passed in, no clock, no
// lock), as WireGuard's timers are: when a packet may be sealed, when to start a handshake,
// and which of two fresh sessions to seal with. The tunnel's threads only carry them out.
//
// Promises:
//  - A session older than rekey_after + reject_extra is never sealed with: the packet waits
//    for a handshake (handshake_pending) rather than use a key past its life.
//  - Only the end that initiated a session rekeys it on age (so two ends do not race to
//    replace the same session); either end rekeys on the message count.
//  - Crossing initiations (both ends start a handshake at once, which hole punching does on
//    purpose) complete two sessions. Both ends then seal with the same one, the one the lower
//    node id initiated; the other stays valid for receiving until it is retired, so nothing
//    is dropped while the ends agree.
#pragma once

#include <cstdint>

#include "common/node_id.h"
#include "common/time.h"

namespace shoal::udp {

// Two sessions completed this close together came from crossing initiations.
inline constexpr Duration kCrossingWindow = std::chrono::seconds(2);

enum class SendDecision : uint8_t {
  kSeal,             // seal with the current session
  kSealAndRekey,     // seal, and start a handshake for its successor
  kHoldForHandshake  // no usable session: start a handshake, drop the packet
};

struct CurrentSession {
  bool exists = false;
  Duration age{};
  bool we_initiated = false;
  uint64_t sealed = 0;  // messages sealed with it so far
};

struct SessionLimits {
  Duration rekey_after{};
  Duration reject_extra{};
  uint64_t rekey_after_messages = 0;
};

SendDecision on_send(const CurrentSession& current, const SessionLimits& limits);

// A session just completed (`fresh`); `current` is the one we seal with now, if any. True
// when we should seal with `fresh` from now on.
struct SessionOrigin {
  TimePoint created;
  bool we_initiated = false;
};
bool seal_with_fresh(const NodeId& self, const NodeId& peer, const SessionOrigin* current,
                     const SessionOrigin& fresh);

}  // namespace shoal::udp
