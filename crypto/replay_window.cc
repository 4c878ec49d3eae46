#include "crypto/replay_window.h"

#include <algorithm>

namespace shoal::crypto {

bool ReplayWindow::accept(uint64_t counter) {
  if (counter >= kRejectAfter) return false;
  const uint64_t position = counter + 1;        // shifted by one: top_ == 0 means "nothing yet"
  if (position + kWindow < top_) return false;  // too old: behind the window
  const uint64_t block = position / kBlockBits;
  if (position > top_) {
    // Moving forward: clear the blocks between the old top and the new one (at most the
    // whole ring), which the new positions will use.
    const uint64_t current = top_ / kBlockBits;
    const uint64_t clear = std::min<uint64_t>(block - current, kRingBlocks);
    for (uint64_t i = 1; i <= clear; ++i) ring_[(current + i) % kRingBlocks] = 0;
    top_ = position;
  }
  uint64_t& bits = ring_[block % kRingBlocks];
  const uint64_t bit = uint64_t{1} << (position % kBlockBits);
  if (bits & bit) return false;  // seen
  bits |= bit;
  return true;
}

}  // namespace shoal::crypto
