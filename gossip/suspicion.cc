#include "gossip/suspicion.h"

#include <algorithm>
#include <cmath>

namespace shoal::gossip {

Suspicion::Suspicion(const NodeId& from, int expected_confirmations, Duration min_timeout,
                     Duration max_timeout, TimePoint start)
    : k_(expected_confirmations),
      min_(min_timeout),
      max_(max_timeout),
      start_(start),
      next_reminder_(start + min_timeout / 2) {
  // With nobody expected to confirm there is nothing to wait for: use the minimum at once.
  if (k_ < 1) max_ = min_;
  accusers_.insert(from);
}

bool Suspicion::confirm(const NodeId& from) {
  if (confirmations_ >= k_) return false;
  if (!accusers_.insert(from).second) return false;
  ++confirmations_;
  return true;
}

bool Suspicion::take_recheck(TimePoint now) {
  if (rechecked_ || now < start_ + min_ / 2) return false;
  rechecked_ = true;
  return true;
}

bool Suspicion::take_reminder(TimePoint now, Duration period) {
  if (now < next_reminder_) return false;
  next_reminder_ = now + period;
  return true;
}

TimePoint Suspicion::deadline() const {
  if (k_ < 1) return start_ + min_;
  const double fraction = std::log(confirmations_ + 1.0) / std::log(k_ + 1.0);
  const double max_s = to_seconds(max_), min_s = to_seconds(min_);
  // Rounded down to whole milliseconds, as memberlist does, so replays match exactly.
  const auto ms = static_cast<int64_t>(std::floor(1000.0 * (max_s - fraction * (max_s - min_s))));
  return start_ + std::max<Duration>(min_, std::chrono::milliseconds(ms));
}

}  // namespace shoal::gossip
