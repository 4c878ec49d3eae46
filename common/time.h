// Time inside the sans-IO cores. A TimePoint is an instant on some monotonic clock the
// driver chooses (the agent: steady_clock; the simulator: virtual time from zero). The
// cores never read a clock: every instant is handed to them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace shoal {

using Duration = std::chrono::microseconds;

// Tag clock: only names the epoch of TimePoint; it has no now().
struct MonotonicTag {
  using duration = Duration;
  using rep = Duration::rep;
  using period = Duration::period;
  using time_point = std::chrono::time_point<MonotonicTag, Duration>;
  static constexpr bool is_steady = true;
};
using TimePoint = MonotonicTag::time_point;

inline constexpr TimePoint kTimeZero{};
inline constexpr TimePoint kTimeNever = TimePoint::max();

using namespace std::chrono_literals;

inline double to_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }
inline double to_seconds(TimePoint t) { return to_seconds(t.time_since_epoch()); }

// Scales a duration by a real factor, rounding to the clock's resolution.
inline Duration scale(Duration d, double factor) {
  return Duration(static_cast<Duration::rep>(static_cast<double>(d.count()) * factor));
}

}  // namespace shoal
