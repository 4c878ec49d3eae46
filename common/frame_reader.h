// shoal's one length-prefixed framing: a frame is a 4-byte big-endian body length, then the
// body. The control socket carries one protobuf message per frame; gossip streams carry
// sealed chunks (protocol/sealed_frames.h).
//
// FrameReader cuts a byte stream, fed in chunks of any size, into bodies. It holds at most
// one partial frame plus the complete bodies not yet taken, and never allocates for a body
// before its header is checked: a header announcing more than `max_body` bytes is an error
// that sticks, and nothing more is read or yielded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "common/bytes.h"
#include "common/status.h"

namespace shoal {

inline constexpr size_t kFrameHeaderSize = 4;

// Appends [length][body] to `out`.
void append_frame(Bytes& out, ByteView body);

class FrameReader {
 public:
  explicit FrameReader(size_t max_body) : max_body_(max_body) {}

  void feed(ByteView chunk);
  // The next complete body, oldest first.
  std::optional<Bytes> next();

  // Ok while the stream is fine, else what went wrong (a header over the cap).
  const Status& error() const { return error_; }
  // True when a frame has started but not ended: at end of stream, the peer cut it short.
  bool mid_frame() const { return header_have_ > 0; }
  // Bytes held: the partial frame and the complete bodies not yet taken.
  size_t buffered() const;

 private:
  size_t max_body_;
  uint8_t header_[kFrameHeaderSize] = {};
  size_t header_have_ = 0;
  size_t body_size_ = 0;
  Bytes body_;
  std::deque<Bytes> complete_;
  Status error_;
};

}  // namespace shoal
