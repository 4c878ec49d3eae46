#include "backends/udp/session_policy.h"

namespace shoal::udp {

SendDecision on_send(const CurrentSession& current, const SessionLimits& limits) {
  if (!current.exists || current.age > limits.rekey_after + limits.reject_extra)
    return SendDecision::kHoldForHandshake;
  if ((current.age > limits.rekey_after && current.we_initiated) ||
      current.sealed > limits.rekey_after_messages)
    return SendDecision::kSealAndRekey;
  return SendDecision::kSeal;
}

bool seal_with_fresh(const NodeId& self, const NodeId& peer, const SessionOrigin* current,
                     const SessionOrigin& fresh) {
  if (current == nullptr) return true;
  const Duration apart = fresh.created > current->created ? fresh.created - current->created
                                                          : current->created - fresh.created;
  if (apart <= kCrossingWindow && fresh.we_initiated != current->we_initiated) {
    // Crossing: the session the lower id initiated wins, at both ends.
    const bool we_are_lower = self < peer;
    return fresh.we_initiated == we_are_lower;
  }
  return current->created <= fresh.created;
}

}  // namespace shoal::udp
