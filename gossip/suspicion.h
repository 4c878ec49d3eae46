// One suspicion of one member (Lifeguard's dynamic suspicion timeout). It starts at its
// maximum and shrinks towards its minimum as independent members confirm it: with k
// expected confirmations and c received, the timeout is
//   max - (max - min) * log(c + 1) / log(k + 1), never below min.
// Pure: it holds the start time and computes the deadline; it never reads a clock.
#pragma once

#include <unordered_set>

#include "common/node_id.h"
#include "common/time.h"

namespace shoal::gossip {

class Suspicion {
 public:
  // `from` is the first accuser; its word does not count as a confirmation.
  Suspicion(const NodeId& from, int expected_confirmations, Duration min_timeout,
            Duration max_timeout, TimePoint start);

  // Records an accusation; true when it is a new, independent confirmation (which moved the
  // deadline closer and is worth re-gossiping).
  bool confirm(const NodeId& from);
  TimePoint deadline() const;
  int confirmations() const { return confirmations_; }
  // True once, when half the minimum timeout has passed: by then a live member's refutation
  // has normally reached everyone, so whoever still holds the suspicion should look for
  // itself (a missed refutation otherwise becomes a false death). See Membership.
  bool take_recheck(TimePoint now);
  // True at half the minimum timeout and each `period` after, while the suspicion lasts:
  // time to send the accusation to the member once more. The recheck may have fallen
  // inside the partition that caused the suspicion; after the heal, when nobody else holds
  // it, only our own word brings the accusation to a member that missed it, and a refutation
  // we missed is not sent again unless the member is accused again.
  bool take_reminder(TimePoint now, Duration period);

 private:
  int k_;
  Duration min_, max_;
  TimePoint start_;
  int confirmations_ = 0;
  bool rechecked_ = false;
  TimePoint next_reminder_;
  std::unordered_set<NodeId> accusers_;
};

}  // namespace shoal::gossip
