// A hybrid logical clock (Kulkarni et al.): stamps that follow wall time closely but never
// go backwards and always exceed every stamp this node has seen, so "claimed first" is
// well defined across hosts whose clocks disagree a little. Sans-IO: the wall time is
// passed in, never read.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>

namespace shoal {

// Wall-clock time in milliseconds since the Unix epoch (the driver reads the real clock).
using WallTime = std::chrono::sys_time<std::chrono::milliseconds>;

struct HlcStamp {
  int64_t wall_ms = 0;   // physical part: milliseconds since the Unix epoch
  uint32_t logical = 0;  // tie-breaker within one millisecond
  auto operator<=>(const HlcStamp&) const = default;
};

class Hlc {
 public:
  // A stamp for a local event, later than every stamp issued or observed so far.
  HlcStamp now(WallTime wall);
  // Takes note of a stamp from a peer so later local stamps order after it. Stamps more
  // than `max_drift` ahead of our wall clock are ignored (a peer's broken clock must not
  // drag ours into the future); returns false then.
  bool observe(HlcStamp remote, WallTime wall,
               std::chrono::milliseconds max_drift = std::chrono::minutes(5));

 private:
  HlcStamp last_;
};

}  // namespace shoal
