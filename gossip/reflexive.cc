#include "gossip/reflexive.h"

#include <algorithm>
#include <tuple>
#include <vector>

namespace shoal::gossip {

bool ReflexiveTracker::observe(const NodeId& observer, const Endpoint& seen, bool by_anchor,
                               TimePoint now) {
  const auto before = std::make_tuple(reflexive_, symmetric_, behind_nat(now), at_local_ >= 2,
                                      last_anchor_ == kTimeNever);
  std::erase_if(recent_, [&](const Seen& s) { return s.observer == observer; });
  recent_.push_back(Seen{observer, seen, by_anchor});
  if (recent_.size() > kWindow) recent_.pop_front();
  if (seen != local_) last_outside_ = now;
  if (seen == local_ && by_anchor) last_anchor_ = now;
  decide();
  return before != std::make_tuple(reflexive_, symmetric_, behind_nat(now), at_local_ >= 2,
                                   last_anchor_ == kTimeNever);
}

void ReflexiveTracker::decide() {
  at_local_ = static_cast<size_t>(
      std::count_if(recent_.begin(), recent_.end(), [&](const Seen& s) { return s.at == local_; }));
  // Votes per outside endpoint; on a tie the one seen last wins (a remap: the new mapping).
  std::vector<std::pair<Endpoint, size_t>> votes;
  for (const Seen& s : recent_) {
    if (s.at == local_) continue;
    auto it =
        std::find_if(votes.begin(), votes.end(), [&](const auto& v) { return v.first == s.at; });
    if (it == votes.end()) {
      votes.emplace_back(s.at, 1);
    } else {
      it->second++;
      std::rotate(it, it + 1, votes.end());  // most recently seen last
    }
  }
  const Endpoint* best = nullptr;
  size_t best_votes = 0;
  for (const auto& [at, n] : votes) {
    if (n >= best_votes) {
      best = &at;
      best_votes = n;
    }
  }
  symmetric_ = votes.size() >= 3 && best_votes == 1;
  if (symmetric_) {
    reflexive_.reset();
  } else if (best && best_votes >= 2) {
    reflexive_ = *best;
  }
}

}  // namespace shoal::gossip
