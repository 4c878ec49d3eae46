// Lifeguard's local health awareness: a score that rises when our own probes go unanswered
// in ways that suggest *we* are the slow one (missed nacks, refuting suspicions about
// ourselves) and falls with every successful probe. Timeouts are scaled by score + 1, so an
// unhealthy member probes slower and waits longer before it suspects anyone.
#pragma once

#include "common/time.h"

namespace shoal::gossip {

class Awareness {
 public:
  explicit Awareness(int max_multiplier) : max_(max_multiplier) {}

  // Adds delta, clamped to [0, max_multiplier - 1].
  void apply_delta(int delta);
  int score() const { return score_; }
  Duration scale(Duration d) const { return d * (score_ + 1); }

 private:
  int max_;
  int score_ = 0;
};

}  // namespace shoal::gossip
