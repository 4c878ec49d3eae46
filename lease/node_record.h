// NodeRecord is one node's entry in the lease table: who it is, where to reach it, and the
// subnets it claims. Single writer: only the node itself creates new versions, and every
// new version has a higher `version` than any before it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/cidr.h"
#include "common/endpoint.h"
#include "common/hlc.h"
#include "common/node_id.h"

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

struct RecordLimits {
  size_t max_name_bytes = 128;
  size_t max_site_bytes = 64;
  size_t max_backend_bytes = 256;
  size_t max_claims = 8;
};

void to_proto(const NodeRecord& record, proto::LeaseRecord& out);
// Validates every field; nullopt (never an exception) when anything is off.
std::optional<NodeRecord> from_proto(const proto::LeaseRecord& in, const RecordLimits& limits);
Bytes encode(const NodeRecord& record);
std::optional<NodeRecord> decode_record(ByteView bytes, const RecordLimits& limits);

// True when `a` should replace `b` for the same node: higher version, or at equal versions
// a deterministic order on the content, so every host keeps the same copy.
bool supersedes(const NodeRecord& a, const NodeRecord& b);

}  // namespace shoal::lease
