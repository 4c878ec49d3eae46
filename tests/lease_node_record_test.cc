// A lease record's encoding: what a node writes reads back the same; what a peer or the store
// sends that breaks a rule is refused, and the refusal names the rule (lease::DropReason).
#include <doctest/doctest.h>

#include <array>
#include <set>
#include <string>
#include <string_view>

#include "lease/node_record.h"
#include "proto/shoal.pb.h"

using namespace shoal;
using namespace shoal::lease;

namespace {

NodeRecord sample() {
  NodeRecord r;
  std::array<uint8_t, NodeId::kSize> id{};
  id[0] = 7;
  r.id = NodeId(id);
  r.version = 3;
  r.name = "host-7";
  r.underlay = IpAddress::v4(192, 0, 2, 7);
  r.site = "rack-1";
  r.backend_data = Bytes(32, 9);
  r.claims = {{*Cidr::make(IpAddress::v4(198, 18, 7, 0), 24), HlcStamp{1767225600000, 1}}};
  r.renewed_at = WallTime(std::chrono::milliseconds(1767225600000));
  return r;
}

proto::LeaseRecord sample_proto() {
  proto::LeaseRecord message;
  to_proto(sample(), message);
  return message;
}

// The reason `message` is refused for, or kCount when it is not refused.
DropReason refusal(const proto::LeaseRecord& message, const RecordLimits& limits = {}) {
  const auto r = from_proto(message, limits);
  return r ? DropReason::kCount : r.error();
}

}  // namespace

TEST_CASE("lease record: encode and decode round-trip") {
  const NodeRecord record = sample();
  const auto decoded = decode_record(encode(record), {});
  REQUIRE(decoded);
  CHECK(*decoded == record);
  const auto from = from_proto(sample_proto(), {});
  REQUIRE(from);
  CHECK(*from == record);
}

TEST_CASE("lease record: each refusal names its reason") {
  CHECK(decode_record(Bytes(64 * 1024 + 1, 0), {}).error() == DropReason::kTooLarge);
  const Bytes truncated = {0x0a, 0x10, 0x07};  // field 1 says 16 bytes, one follows
  CHECK(!decode_record(truncated, {}));
  CHECK(decode_record(truncated, {}).error() == DropReason::kMalformed);

  proto::LeaseRecord m = sample_proto();
  CHECK(refusal(m) == DropReason::kCount);

  m = sample_proto();
  m.set_node("short");
  CHECK(refusal(m) == DropReason::kBadNodeId);
  m.set_node(std::string(NodeId::kSize, '\0'));  // the zero id
  CHECK(refusal(m) == DropReason::kBadNodeId);

  m = sample_proto();
  m.set_underlay("abc");
  CHECK(refusal(m) == DropReason::kBadUnderlay);

  m = sample_proto();
  m.set_version(0);
  CHECK(refusal(m) == DropReason::kZeroVersion);

  const RecordLimits limits;
  m = sample_proto();
  m.set_name(std::string(limits.max_name_bytes + 1, 'n'));
  CHECK(refusal(m) == DropReason::kNameTooLong);
  m.set_name(std::string(limits.max_name_bytes, 'n'));
  CHECK(refusal(m) == DropReason::kCount);

  m = sample_proto();
  m.set_site(std::string(limits.max_site_bytes + 1, 's'));
  CHECK(refusal(m) == DropReason::kSiteTooLong);

  m = sample_proto();
  m.set_backend_data(std::string(limits.max_backend_bytes + 1, 'b'));
  CHECK(refusal(m) == DropReason::kBackendDataTooLarge);

  m = sample_proto();
  for (size_t i = 0; i < limits.max_claims; ++i) *m.add_claims() = m.claims(0);
  CHECK(refusal(m) == DropReason::kTooManyClaims);

  m = sample_proto();
  m.mutable_claims(0)->mutable_subnet()->set_network("xy");
  CHECK(refusal(m) == DropReason::kBadClaimAddress);

  m = sample_proto();
  m.mutable_claims(0)->mutable_subnet()->set_length(33);  // longer than an IPv4 address
  CHECK(refusal(m) == DropReason::kBadClaimSubnet);
  m.mutable_claims(0)->mutable_subnet()->set_length(256 + 24);  // would wrap to 24 as a byte
  CHECK(refusal(m) == DropReason::kBadClaimSubnet);
  m.mutable_claims(0)->mutable_subnet()->set_length(16);  // 198.18.7.0/16: host bits set
  CHECK(refusal(m) == DropReason::kBadClaimSubnet);

  // decode_record refuses for the same reasons as from_proto.
  m = sample_proto();
  m.set_version(0);
  const std::string bytes = m.SerializeAsString();
  CHECK(decode_record(as_bytes(bytes), {}).error() == DropReason::kZeroVersion);
}

TEST_CASE("lease drop reasons have distinct metrics labels") {
  std::set<std::string_view> labels;
  for (size_t i = 0; i < static_cast<size_t>(DropReason::kCount); ++i) {
    const std::string_view label = to_string(static_cast<DropReason>(i));
    CHECK(!label.empty());
    CHECK(label != "unknown");
    CHECK(label.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string_view::npos);
    labels.insert(label);
  }
  CHECK(labels.size() == static_cast<size_t>(DropReason::kCount));
}
