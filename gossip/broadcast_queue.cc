#include "gossip/broadcast_queue.h"

#include <algorithm>

namespace shoal::gossip {

void BroadcastQueue::push(std::optional<BroadcastKey> key, Bytes encoded) {
  smallest_ = std::min(smallest_, encoded.size());
  auto it = items_.insert(Item{0, next_id_++, key, std::move(encoded)}).first;
  if (!key) return;
  auto [slot, fresh] = by_key_.try_emplace(*key, it);
  if (!fresh) {
    items_.erase(*slot);  // the older item about the same thing
    *slot = it;
  }
}

size_t BroadcastQueue::take(size_t budget, int limit, size_t (*overhead)(size_t),
                            const std::function<void(ByteView)>& emit) {
  constexpr int kMaxMisses = 8;
  size_t used = 0;
  int misses = 0;
  std::vector<Items::node_type> sent;
  for (auto it = items_.begin(); it != items_.end() && misses < kMaxMisses;) {
    if (budget - used < smallest_) break;  // nothing queued can fit any more
    const size_t cost = it->encoded.size() + overhead(it->encoded.size());
    if (used + cost > budget) {
      ++it;
      ++misses;
      continue;
    }
    used += cost;
    emit(it->encoded);
    sent.push_back(items_.extract(it++));
  }
  // Re-file what was sent under its new count; node handles move without reallocating.
  for (auto& node : sent) {
    const std::optional<BroadcastKey> key = node.value().key;
    if (++node.value().transmits >= limit) {  // sent often enough: drop it
      if (key) by_key_.erase(*key);
      continue;
    }
    auto pos = items_.insert(std::move(node)).position;
    if (key) *by_key_.find(*key) = pos;
  }
  if (items_.empty()) smallest_ = SIZE_MAX;
  return used;
}

}  // namespace shoal::gossip
