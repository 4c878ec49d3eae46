// The wire versions of the gossip protocol: what this build reads, and the range type a
// member advertises. The rule that uses them (who writes which version, who reads what) is
// in gossip/wire.h. A header of its own so that Config and Member can carry a range
// without pulling in protobuf.
#pragma once

#include <cstdint>

namespace shoal::gossip {

// The versions this build reads and writes. Raise max when a version adds something a
// reader must not miss; raise min only when this build stops reading an old version.
inline constexpr uint8_t kWireVersionMin = 1;
// Version 2 adds what crosses NAT: candidates, the relay flag, observed addresses, punches.
inline constexpr uint8_t kWireVersionMax = 2;

// The versions one member reads, [min, max]. It writes at most max, at least min.
struct VersionRange {
  uint8_t min = kWireVersionMin;
  uint8_t max = kWireVersionMax;

  bool contains(uint8_t v) const { return min <= v && v <= max; }
  friend bool operator==(const VersionRange&, const VersionRange&) = default;
};

}  // namespace shoal::gossip
