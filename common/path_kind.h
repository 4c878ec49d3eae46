// How datagrams reach one peer across NATs, in the words `shoal leases` and the metrics use.
// Shared by gossip's paths (gossip/path.h) and the udp tunnel's (backends/udp/peer_path.h),
// so the two planes describe a peer the same way.
#pragma once

#include <cstdint>
#include <string_view>

namespace shoal {

enum class PathKind : uint8_t {
  kUnknown,  // nothing has answered yet
  kDirect,   // the peer's advertised address answers
  kPunched,  // another endpoint of it answers: a candidate, or a NAT's mapping reached by a hole
  kRelayed,  // only a member relaying for it reaches it
};

constexpr std::string_view to_string(PathKind kind) {
  switch (kind) {
    case PathKind::kUnknown:
      return "unknown";
    case PathKind::kDirect:
      return "direct";
    case PathKind::kPunched:
      return "punched";
    case PathKind::kRelayed:
      return "relayed";
  }
  return "unknown";
}

}  // namespace shoal
