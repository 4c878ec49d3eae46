// What the core asks its driver to send. Datagrams are best-effort (UDP); streams are
// reliable, ordered conversations (TCP) that the driver opens, numbers and closes.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>

#include "common/bytes.h"
#include "common/endpoint.h"

namespace shoal::gossip {

// Names one stream on one member. The driver picks the numbers, for streams the core asked
// it to open and for streams it accepted; the core only echoes them back.
struct StreamId {
  uint64_t value = 0;
  auto operator<=>(const StreamId&) const = default;
};

struct Transmit {
  enum class Kind : uint8_t { kDatagram, kStream };

  Kind kind = Kind::kDatagram;
  Endpoint to;
  // kStream only: nullopt asks for a new stream to `to`; a value writes on that stream.
  std::optional<StreamId> stream;
  // kStream only: the core expects nothing more on this stream; close it once written.
  // An empty payload with close set means: just close it.
  bool close = false;
  Bytes payload;
};

}  // namespace shoal::gossip
