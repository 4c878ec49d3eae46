#include "gossip/awareness.h"

#include <algorithm>

namespace shoal::gossip {

void Awareness::apply_delta(int delta) { score_ = std::clamp(score_ + delta, 0, max_ - 1); }

}  // namespace shoal::gossip
