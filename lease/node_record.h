// NodeRecord is one node's entry in the lease table: who it is, where to reach it, and the
// subnets it claims. Single writer: only the node itself creates new versions, and every
// new version has a higher `version` than any before it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/bytes.h"
#include "common/cidr.h"
#include "common/endpoint.h"
#include "common/hlc.h"
#include "common/node_id.h"
#include "common/status.h"

namespace shoal::proto {
class LeaseRecord;
}

namespace shoal::lease {

struct Claim {
  Cidr subnet;
  HlcStamp claimed_at;  // when this node first claimed it; kept across renewals
  bool operator==(const Claim&) const = default;
};

struct NodeRecord {
  NodeId id;
  uint64_t version = 0;
  std::string name;
  IpAddress underlay;
  std::string site;
  Bytes backend_data;  // opaque here: the backends' business
  std::vector<Claim> claims;
  WallTime renewed_at{};
  bool released = false;

  bool operator==(const NodeRecord&) const = default;
};

// What a renewal keeps: a record and its renewals differ only in version and renewed_at.
// LeaseCore's renews() compares these fields and Table's content hash hashes them, in this
// order, so a field added here is in both.
inline auto content_of(const NodeRecord& r) {
  return std::tie(r.released, r.underlay, r.name, r.site, r.backend_data, r.claims);
}

struct RecordLimits {
  size_t max_name_bytes = 128;
  size_t max_site_bytes = 64;
  size_t max_backend_bytes = 256;
  size_t max_claims = 8;
};

// Why a record from a peer or the store was refused: one value per check, counted per
// reason. to_string() gives the snake_case metrics label ("name_too_long", ...).
enum class DropReason : uint8_t {
  kTooLarge,             // encoded record over 64 KiB (decode_record)
  kMalformed,            // not a protobuf LeaseRecord (decode_record)
  kBadNodeId,            // not a node id, or the all-zero id
  kBadUnderlay,          // the underlay is not a 4- or 16-byte IP address
  kZeroVersion,          // version 0: a node's versions start at 1
  kNameTooLong,          // over RecordLimits::max_name_bytes
  kSiteTooLong,          // over RecordLimits::max_site_bytes
  kBackendDataTooLarge,  // over RecordLimits::max_backend_bytes
  kTooManyClaims,        // over RecordLimits::max_claims
  kBadClaimAddress,      // a claim's network is not a 4- or 16-byte IP address
  kBadClaimSubnet,       // a claim's prefix is longer than its address, or host bits are set
  kCount
};
std::string_view to_string(DropReason reason);

void to_proto(const NodeRecord& record, proto::LeaseRecord& out);
// Validates every field against `limits`; on the first one that is off, the reason (never
// an exception, never a partial record).
Result<NodeRecord, DropReason> from_proto(const proto::LeaseRecord& in, const RecordLimits& limits);
Bytes encode(const NodeRecord& record);
// Parses untrusted bytes (at most 64 KiB) and validates them as from_proto() does.
Result<NodeRecord, DropReason> decode_record(ByteView bytes, const RecordLimits& limits);

// True when `a` should replace `b` for the same node: higher version, or at equal versions
// a deterministic order on the content, so every host keeps the same copy.
bool supersedes(const NodeRecord& a, const NodeRecord& b);

}  // namespace shoal::lease
