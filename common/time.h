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

// "+300 s", "-1.5 s", "+0.25 s": a signed offset (the clock fault's) as people write it,
// to the millisecond, without trailing zeros.
inline std::string signed_seconds(std::chrono::milliseconds offset) {
  const int64_t ms = offset.count();
  const int64_t magnitude = ms < 0 ? -ms : ms;
  std::string text = (ms < 0 ? "-" : "+") + std::to_string(magnitude / 1000);
  if (const int64_t rest = magnitude % 1000; rest != 0) {
    std::string digits = std::to_string(1000 + rest).substr(1);
    while (digits.back() == '0') digits.pop_back();
    text += "." + digits;
  }
  return text + " s";
}

}  // namespace shoal
