// What the others tell us our address looks like from where they are, and what we make of
// it: our server-reflexive address (STUN without a STUN server), whether a NAT is in the way,
// and whether that NAT is symmetric (a new port per destination, so no hole can be punched).
//
// Observations come only from acks to our own fresh probes (Ack.observed), so only members
// holding the cluster key, answering a sequence number we just chose, feed it. Promises:
//  - one vote per observer (its latest), over the last kWindow observers outside (and,
//    apart, the last kWindow that saw us at our own address: a busy LAN must not push the
//    outside votes out);
//  - a reflexive address needs two observers that agree, or one anchor (a seed, which the
//    operator named, or a relay, found public): one ordinary member cannot move it;
//  - symmetric needs three outside observers that all disagree, or two whose different
//    views of us held at the same time for kOverlap (a remap is a change, not an overlap);
//  - "behind a NAT" is remembered for kNatMemory after the last outside observation, so a
//    burst of observations from our own LAN does not make a NATed member think it is public;
//  - neighbours on our LAN see us at our own address too, so "public" also needs an anchor
//    to have seen us there (within kNatMemory): a seed (everyone reached it to join) or a
//    relay (a member already found public), whenever we know of one.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>

#include "common/endpoint.h"
#include "common/node_id.h"
#include "common/time.h"

namespace shoal::gossip {

class ReflexiveTracker {
 public:
  static constexpr size_t kWindow = 8;
  static constexpr Duration kNatMemory = std::chrono::minutes(10);
  static constexpr Duration kOverlap = std::chrono::seconds(1);

  explicit ReflexiveTracker(Endpoint address) : address_(address) {}

  // `observer` saw our probe come from `seen`; `by_anchor`: the observer is a seed or a relay.
  // Returns true when a verdict below changed.
  bool observe(const NodeId& observer, const Endpoint& seen, bool by_anchor, TimePoint now);

  std::optional<Endpoint> reflexive() const { return reflexive_; }
  bool symmetric() const { return symmetric_; }
  bool behind_nat(TimePoint now) const {
    return last_outside_ != kTimeNever && now - last_outside_ < kNatMemory;
  }
  // Two observers saw us at our own address, one of them an anchor where we know any, and
  // nobody lately elsewhere: others reach us with no NAT in the way, so we can relay for them.
  bool public_reachable(TimePoint now, bool anchors_exist) const {
    const bool anchored = last_anchor_ != kTimeNever && now - last_anchor_ < kNatMemory;
    return !behind_nat(now) && local_.size() >= 2 && (anchored || !anchors_exist);
  }
  // We know what we are (we stop asking relays for extra probes).
  bool settled(TimePoint now, bool anchors_exist) const {
    return reflexive_ || symmetric_ || public_reachable(now, anchors_exist);
  }

 private:
  struct Seen {
    NodeId observer;
    Endpoint at;
    bool by_anchor;
    TimePoint since;  // this observer's first sighting of us at `at`, in a row
    TimePoint last;   // and its latest
  };
  void decide();

  Endpoint address_;
  std::deque<Seen> outside_;  // newest last, one per observer
  std::deque<NodeId> local_;  // observers that saw us at address_, newest last
  std::optional<Endpoint> reflexive_;
  bool symmetric_ = false;
  TimePoint last_anchor_ = kTimeNever;  // an anchor saw us at our own address
  TimePoint last_outside_ = kTimeNever;
};

}  // namespace shoal::gossip
