// Encoding and decoding of gossip messages (proto/shoal.proto).
//
// A message is one version byte, the version it was written at, then a serialized
// proto::Envelope. decode() is the only door for untrusted bytes: it never throws, checks
// the size before parsing and every field after (ids are 16 bytes, addresses well formed,
// names and meta within their caps), and says why it refused. Updates are pre-encoded once
// and appended to packets as raw protobuf fields, so a broadcast is serialized once however
// often it is sent.
//
// Versions (memberlist's ProtocolVersionMin/Max, for rolling upgrades). A version only
// appends message kinds, fields and enum values, never renumbers or removes one, so a
// message written at v is a message of every earlier version too, minus what an older
// reader does not know (protobuf skips unknown fields). The rule:
//  - Each member reads a range [min, max] (Config::wire_versions; this build's is
//    [kWireVersionMin, kWireVersionMax], gossip/version.h) and gossips it with its Alive
//    and in push-pull member lists.
//  - It writes at the cluster version: the lowest max among the members it believes alive
//    or suspect, itself included, and never below its own min. While it knows no other
//    live member (a join: the seeds' ranges are unknown) it writes at its own min. So a
//    cluster keeps writing the old version until its last old member is gone, then moves
//    up by itself; a rolling upgrade needs no flag day.
//  - A reader with range [min, max] given a message at version v:
//      v < min   refuses it (kBadVersion): it no longer reads that version;
//      v <= max  decodes it;
//      v > max   decodes it best-effort (what it does not know is skipped) if the sender
//                reads a version the reader writes (Envelope.sender_version_min <= max):
//                the sender just has not heard the reader's range yet (the answer to a
//                join, the ack to a first ping; or the reader was rolled back to an
//                older build) and will write down to it. Otherwise kBadVersion: that
//                member could never understand our answers.
// The additions of version 2 that cross NATs (candidates, relay, observed, punch) are
// written at every version: a reader of version 1 skips them without misreading anything, and
// a member passing an alive on at version 1 must not strip them, or its copy would win at the
// same incarnation.
// A member whose range misses the cluster version entirely is not refused at join, unlike
// memberlist: its messages and ours are dropped and counted as bad_version.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/bytes.h"
#include "common/endpoint.h"
#include "common/node_id.h"
#include "common/status.h"
#include "gossip/path.h"
#include "gossip/version.h"
#include "proto/shoal.pb.h"

namespace shoal::gossip {

// Cap on Ack.state_digest: a summary is a hash, not state.
inline constexpr size_t kMaxStateDigestBytes = 32;
// Cap on Ping.doubts: a prober asks about a suspect and a dead member at most.
inline constexpr size_t kMaxDoubts = 2;

enum class DropReason : uint8_t {
  kEmpty,       // zero bytes
  kOversized,   // more than the caller's cap
  kBadVersion,  // a version the reader does not read (see the rule above)
  kMalformed,   // not a valid protobuf Envelope
  kInvalid,     // valid protobuf, but a field breaks a rule (bad id, address, size)
  kUnknown,     // nothing in it this version understands
  kCount
};
std::string_view to_string(DropReason reason);

struct DecodeLimits {
  size_t max_bytes;
  size_t max_meta_bytes;
  size_t max_name_bytes;
  size_t max_members;
  VersionRange versions = {};  // the reader's own range
};

// Parses and validates `bytes` into `out`. Refusals are counted by reason, so the error is
// the reason itself. On success `out` may hold a message written above limits.versions.max
// (see the rule above): bytes[0] says which.
Result<void, DropReason> decode(ByteView bytes, const DecodeLimits& limits, proto::Envelope& out);

// Serializes an envelope with the version byte in front: the version the caller writes at
// (the core: its cluster version), whose additions it alone knows to leave out.
Bytes encode(const proto::Envelope& envelope, uint8_t version = kWireVersionMax);
// Serializes one update for the broadcast queue.
Bytes encode_update(const proto::Update& update);
// Appends a pre-encoded update to an encoded envelope (as field `updates`).
void append_update(Bytes& packet, ByteView encoded_update);
// Bytes append_update adds on top of the update itself.
size_t update_overhead(size_t encoded_size);

void to_proto(const Endpoint& endpoint, proto::Address& out);
std::optional<Endpoint> from_proto(const proto::Address& address);
std::optional<NodeId> node_id_from(const std::string& bytes);
// The range an Alive or MemberState advertises (decode() checked it); both fields 0, from a
// member older than version ranges, means version 1 only.
VersionRange versions_from(uint32_t min, uint32_t max);
inline std::string to_proto_bytes(const NodeId& id) { return std::string(as_chars(id.view())); }

}  // namespace shoal::gossip
