#include "common/hlc.h"

namespace shoal {

HlcStamp Hlc::now(WallTime wall) {
  const int64_t physical = wall.time_since_epoch().count();
  if (physical > last_.wall_ms) {
    last_ = HlcStamp{physical, 0};
  } else {
    last_.logical++;
  }
  return last_;
}

bool Hlc::observe(HlcStamp remote, WallTime wall, std::chrono::milliseconds max_drift) {
  if (remote.wall_ms > wall.time_since_epoch().count() + max_drift.count()) return false;
  if (remote > last_) last_ = remote;
  return true;
}

}  // namespace shoal
