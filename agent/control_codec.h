// The control socket's framing and request checks, apart from any I/O so they can be fuzzed.
//
// A frame is a 4-byte big-endian body length followed by the body, one serialized protobuf
// message. Requests are capped at kMaxControlRequest bytes, responses at kMaxControlResponse.
// decode_request accepts only requests the agent can act on: the oneof is set and every
// string is short, printable and well formed (key ids are 8 hex digits).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <variant>

#include "common/bytes.h"
#include "proto/control.pb.h"

namespace shoal::agent {

inline constexpr size_t kControlHeaderSize = 4;
inline constexpr size_t kMaxControlRequest = 64 * 1024;
inline constexpr size_t kMaxControlResponse = 4 * 1024 * 1024;
inline constexpr size_t kMaxControlString = 256;

// Header and serialized message. The caller keeps the message under its cap (ByteSizeLong).
Bytes encode_frame(const google::protobuf::Message& message);

// The request in a frame body, or why it is refused (a sentence for the person at the CLI).
std::variant<proto::ControlRequest, std::string> decode_request_checked(ByteView body);
std::optional<proto::ControlRequest> decode_request(ByteView body);

// Empty if `request` is one the agent can act on, else what is wrong with it.
std::string request_error(const proto::ControlRequest& request);

std::optional<proto::ControlResponse> decode_response(ByteView body);

// Cuts a byte stream, fed in chunks of any size, into frame bodies. A header announcing more
// than `max_body` bytes is an error that sticks: nothing more is read or yielded.
class FrameReader {
 public:
  explicit FrameReader(size_t max_body) : max_body_(max_body) {}

  void feed(ByteView chunk);
  // The next complete body, oldest first.
  std::optional<Bytes> next();

  // Empty while the stream is fine, else what went wrong (a header over the cap).
  const std::string& error() const { return error_; }
  // True when a frame has started but not ended: at end of stream, the peer cut it short.
  bool mid_frame() const { return header_have_ > 0; }

 private:
  size_t max_body_;
  uint8_t header_[kControlHeaderSize] = {};
  size_t header_have_ = 0;
  size_t body_size_ = 0;
  Bytes body_;
  std::deque<Bytes> complete_;
  std::string error_;
};

}  // namespace shoal::agent
