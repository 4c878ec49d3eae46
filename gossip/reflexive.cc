#include "gossip/reflexive.h"

#include <algorithm>
#include <tuple>
#include <vector>

namespace shoal::gossip {

bool ReflexiveTracker::observe(const NodeId& observer, const Endpoint& seen, bool by_anchor,
                               TimePoint now) {
  auto verdict = [&] {
    return std::make_tuple(reflexive_, symmetric_, behind_nat(now), local_.size() >= 2,
                           last_anchor_ == kTimeNever);
  };
  const auto before = verdict();
  const auto earlier = std::find_if(outside_.begin(), outside_.end(),
                                    [&](const Seen& s) { return s.observer == observer; });
  if (earlier != outside_.end() && seen != address_ && earlier->at != seen) {
    // One observer sees us elsewhere than it did: our NAT remapped us (a router restart),
    // so every vote for the old endpoint is stale. Left in, they outvote the new one until
    // as many observers have seen it: 4 probe intervals and more, while everyone's probes to
    // the old port fail. The new endpoint still needs its two votes (or an anchor's), so one
    // member cannot move us, only make us wait for a second.
    const Endpoint stale = earlier->at;
    std::erase_if(outside_, [&](const Seen& s) { return s.at == stale; });
  }
  // The same view again keeps the time this observer first saw us there.
  const TimePoint since = earlier != outside_.end() && earlier->at == seen ? earlier->since : now;
  std::erase_if(outside_, [&](const Seen& s) { return s.observer == observer; });
  std::erase(local_, observer);
  if (seen == address_) {
    local_.push_back(observer);
    if (local_.size() > kWindow) local_.pop_front();
    if (by_anchor) last_anchor_ = now;
  } else {
    outside_.push_back(Seen{observer, seen, by_anchor, since, now});
    if (outside_.size() > kWindow) outside_.pop_front();
    last_outside_ = now;
  }
  decide();
  return before != verdict();
}

void ReflexiveTracker::decide() {
  // Votes per outside endpoint; on a tie the one seen last wins (a remap: the new mapping).
  // An anchor's word counts twice: it alone makes an address.
  std::vector<std::pair<Endpoint, size_t>> votes;
  for (const Seen& s : outside_) {
    const size_t weight = s.by_anchor ? 2 : 1;
    auto it =
        std::find_if(votes.begin(), votes.end(), [&](const auto& v) { return v.first == s.at; });
    if (it == votes.end()) {
      votes.emplace_back(s.at, weight);
    } else {
      it->second += weight;
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
  // Symmetric: three outside observers, no two of them agreeing (one observer, one entry of
  // outside_, so as many endpoints as observers); or two that kept seeing us at different
  // endpoints at the same time. A site with two public members gives a member behind a
  // symmetric NAT only two outside observers: without the second rule it took each one's
  // view in turn as its address, readvertised it every second, and each readvertisement
  // made the other relay drop its path to the member (a false suspicion now and then, the
  // failure of homelab-nat's short form). A remap is no such overlap: the old endpoint's
  // last sighting comes before the new one's first, and a datagram in flight through the
  // old mapping is far shorter than kOverlap.
  auto overlap = [](const Seen& a, const Seen& b) {
    return a.at != b.at && std::min(a.last, b.last) - std::max(a.since, b.since) >= kOverlap;
  };
  bool concurrent = false;
  for (size_t i = 0; i < outside_.size() && !concurrent; ++i)
    for (size_t j = i + 1; j < outside_.size() && !concurrent; ++j)
      concurrent = overlap(outside_[i], outside_[j]);
  symmetric_ = concurrent || (votes.size() >= 3 && votes.size() == outside_.size());
  if (symmetric_) {
    reflexive_.reset();
  } else if (best && best_votes >= 2) {
    reflexive_ = *best;
  }
}

}  // namespace shoal::gossip
