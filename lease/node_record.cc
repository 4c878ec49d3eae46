#include "lease/node_record.h"

#include "proto/shoal.pb.h"

namespace shoal::lease {
namespace {

std::string bytes_of(ByteView v) { return std::string(as_chars(v)); }

constexpr size_t kMaxRecordBytes = 64 * 1024;

}  // namespace

std::string_view to_string(DropReason reason) {
  switch (reason) {
    case DropReason::kTooLarge:
      return "too_large";
    case DropReason::kMalformed:
      return "malformed";
    case DropReason::kBadNodeId:
      return "bad_node_id";
    case DropReason::kBadUnderlay:
      return "bad_underlay";
    case DropReason::kZeroVersion:
      return "zero_version";
    case DropReason::kNameTooLong:
      return "name_too_long";
    case DropReason::kSiteTooLong:
      return "site_too_long";
    case DropReason::kBackendDataTooLarge:
      return "backend_data_too_large";
    case DropReason::kTooManyClaims:
      return "too_many_claims";
    case DropReason::kBadClaimAddress:
      return "bad_claim_address";
    case DropReason::kBadClaimSubnet:
      return "bad_claim_subnet";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

void to_proto(const NodeRecord& r, proto::LeaseRecord& out) {
  out.set_node(bytes_of(r.id.view()));
  out.set_version(r.version);
  out.set_name(r.name);
  out.set_underlay(bytes_of(r.underlay.view()));
  out.set_site(r.site);
  out.set_backend_data(bytes_of(r.backend_data));
  for (const Claim& c : r.claims) {
    auto* claim = out.add_claims();
    claim->mutable_subnet()->set_network(bytes_of(c.subnet.network().view()));
    claim->mutable_subnet()->set_length(c.subnet.prefix());
    claim->set_claimed_wall_ms(c.claimed_at.wall_ms);
    claim->set_claimed_logical(c.claimed_at.logical);
  }
  out.set_renewed_at_ms(r.renewed_at.time_since_epoch().count());
  out.set_released(r.released);
}

Result<NodeRecord, DropReason> from_proto(const proto::LeaseRecord& in,
                                          const RecordLimits& limits) {
  NodeRecord r;
  auto id = NodeId::from_bytes(as_bytes(in.node()));
  if (!id || id->is_zero()) return DropReason::kBadNodeId;
  auto underlay = IpAddress::from_bytes(as_bytes(in.underlay()));
  if (!underlay) return DropReason::kBadUnderlay;
  if (in.version() == 0) return DropReason::kZeroVersion;
  if (in.name().size() > limits.max_name_bytes) return DropReason::kNameTooLong;
  if (in.site().size() > limits.max_site_bytes) return DropReason::kSiteTooLong;
  if (in.backend_data().size() > limits.max_backend_bytes) return DropReason::kBackendDataTooLarge;
  if (static_cast<size_t>(in.claims_size()) > limits.max_claims) return DropReason::kTooManyClaims;
  r.id = *id;
  r.version = in.version();
  r.name = in.name();
  r.underlay = *underlay;
  r.site = in.site();
  r.backend_data.assign(in.backend_data().begin(), in.backend_data().end());
  for (const auto& c : in.claims()) {
    auto network = IpAddress::from_bytes(as_bytes(c.subnet().network()));
    if (!network) return DropReason::kBadClaimAddress;
    // Cidr::make takes a uint8_t: a length over 128 must not wrap into a valid one.
    if (c.subnet().length() > 128) return DropReason::kBadClaimSubnet;
    auto subnet = Cidr::make(*network, static_cast<uint8_t>(c.subnet().length()));
    if (!subnet) return DropReason::kBadClaimSubnet;
    r.claims.push_back(Claim{*subnet, HlcStamp{c.claimed_wall_ms(), c.claimed_logical()}});
  }
  r.renewed_at = WallTime(std::chrono::milliseconds(in.renewed_at_ms()));
  r.released = in.released();
  return r;
}

Bytes encode(const NodeRecord& record) {
  proto::LeaseRecord message;
  to_proto(record, message);
  Bytes out(message.ByteSizeLong());
  message.SerializeWithCachedSizesToArray(out.data());
  return out;
}

Result<NodeRecord, DropReason> decode_record(ByteView bytes, const RecordLimits& limits) {
  if (bytes.size() > kMaxRecordBytes) return DropReason::kTooLarge;
  proto::LeaseRecord message;
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return DropReason::kMalformed;
  return from_proto(message, limits);
}

bool supersedes(const NodeRecord& a, const NodeRecord& b) {
  if (a.version != b.version) return a.version > b.version;
  if (a == b) return false;  // the common case: the same record heard twice
  // Equal versions with different content only happen after a node lost its state and
  // reused a version; any fixed order works as long as every host uses the same one.
  // Protobuf serialization of our own messages is deterministic (fields in number order).
  return encode(a) > encode(b);
}

}  // namespace shoal::lease
