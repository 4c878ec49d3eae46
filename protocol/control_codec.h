// The control socket's framing and request checks, apart from any I/O so they can be fuzzed.
//
// A frame (common/frame_reader.h) is a 4-byte big-endian body length followed by the body,
// one serialized protobuf message. Requests are capped at kMaxControlRequest bytes, responses at
// kMaxControlResponse. decode_request accepts only requests the agent can act on: the oneof is set
// and every string is short, printable and well formed (key ids are 8 hex digits).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/frame_reader.h"
#include "common/status.h"
#include "proto/control.pb.h"

namespace shoal::protocol {

inline constexpr size_t kMaxControlRequest = 64 * 1024;
inline constexpr size_t kMaxControlResponse = 4 * 1024 * 1024;
inline constexpr size_t kMaxControlString = 256;
// `shoal fault`: peers per fault, and the longest a fault may last before it expires.
inline constexpr size_t kMaxFaultPeers = 64;
inline constexpr uint32_t kMaxFaultSeconds = 3600;
// A clock fault moves the agent's wall clock by at most this much, either way: a year, so a
// test can bring a host back long after every lease it knew has expired.
inline constexpr int64_t kMaxClockOffsetMs = int64_t{366} * 24 * 3600 * 1000;

// Header and serialized message. The caller keeps the message under its cap (ByteSizeLong).
Bytes encode_frame(const google::protobuf::Message& message);

// The request in a frame body, or why it is refused (a sentence for the person at the CLI).
Result<proto::ControlRequest> decode_request(ByteView body);

// Ok if `request` is one the agent can act on, else what is wrong with it.
Status request_error(const proto::ControlRequest& request);

// The response in a frame body, or why it is refused.
Result<proto::ControlResponse> decode_response(ByteView body);

}  // namespace shoal::protocol
