// Encoding and decoding of gossip messages (proto/shoal.proto).
//
// A message is one version byte, kWireVersion, then a serialized proto::Envelope. decode()
// is the only door for untrusted bytes: it never throws, checks the size before parsing and
// every field after (ids are 16 bytes, addresses well formed, names and meta within their
// caps), and says why it refused. Updates are pre-encoded once and appended to packets as
// raw protobuf fields, so a broadcast is serialized once however often it is sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/bytes.h"
#include "common/endpoint.h"
#include "common/node_id.h"
#include "proto/shoal.pb.h"

namespace shoal::gossip {

inline constexpr uint8_t kWireVersion = 1;
// Cap on Ack.state_digest: a summary is a hash, not state.
inline constexpr size_t kMaxStateDigestBytes = 32;

enum class DecodeError : uint8_t {
  kEmpty,       // zero bytes
  kOversized,   // more than the caller's cap
  kBadVersion,  // first byte is not kWireVersion
  kMalformed,   // not a valid protobuf Envelope
  kInvalid,     // valid protobuf, but a field breaks a rule (bad id, address, size)
  kUnknown,     // nothing in it this version understands
};
std::string_view to_string(DecodeError e);

struct DecodeLimits {
  size_t max_bytes;
  size_t max_meta_bytes;
  size_t max_name_bytes;
  size_t max_members;
};

// Parses and validates `bytes` into `out`; nullopt on success.
std::optional<DecodeError> decode(ByteView bytes, const DecodeLimits& limits, proto::Envelope& out);

// Serializes an envelope with the version byte in front.
Bytes encode(const proto::Envelope& envelope);
// Serializes one update for the broadcast queue.
Bytes encode_update(const proto::Update& update);
// Appends a pre-encoded update to an encoded envelope (as field `updates`).
void append_update(Bytes& packet, ByteView encoded_update);
// Bytes append_update adds on top of the update itself.
size_t update_overhead(size_t encoded_size);

void to_proto(const Endpoint& endpoint, proto::Address& out);
std::optional<Endpoint> from_proto(const proto::Address& address);
std::optional<NodeId> node_id_from(const std::string& bytes);
inline std::string to_proto_bytes(const NodeId& id) { return std::string(as_chars(id.view())); }

}  // namespace shoal::gossip
