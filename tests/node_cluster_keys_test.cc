// The cluster keyring register: newest (stamp, origin) wins, versions only grow, and the
// bytes that carry it (gossip user messages, member meta) decode back or are refused.
#include <doctest/doctest.h>

#include "node/cluster_keys.h"
#include "node/drop_reason.h"
#include "node/nat_view.h"
#include "proto/shoal.pb.h"

using namespace shoal;
using namespace shoal::node;
using namespace std::chrono_literals;

namespace {

const WallTime kWall0{std::chrono::milliseconds(1767225600000)};

NodeId id(uint8_t b) {
  std::array<uint8_t, NodeId::kSize> bytes{};
  bytes[0] = b;
  return NodeId(bytes);
}

}  // namespace

TEST_CASE("cluster keys: a change is newer than everything seen; the newest offer wins") {
  ClusterKeys a(std::nullopt), b(std::nullopt);
  CHECK_FALSE(a.version());
  const auto v1 = a.publish(kWall0, id(1), "keyring one");
  REQUIRE(v1);
  CHECK(b.offer(*v1, kWall0));
  CHECK_FALSE(b.offer(*v1, kWall0));  // the same again: nothing to apply
  // b's clock is behind a's stamp; its change must still order after it.
  const auto v2 = b.publish(kWall0 - 10s, id(2), "keyring two");
  REQUIRE(v2);
  CHECK(v2->version > v1->version);
  CHECK(a.offer(*v2, kWall0));
  CHECK(a.held()->keyring == "keyring two");
  CHECK_FALSE(a.offer(*v1, kWall0 + 1h));  // an older value never comes back
  CHECK(a.held()->keyring == "keyring two");
  // Equal stamps: the origin decides, the same way everywhere.
  KeysValue x{{{5, 0}, id(1)}, "x"}, y{{{5, 0}, id(2)}, "y"};
  ClusterKeys c(std::nullopt), d(std::nullopt);
  CHECK(c.offer(x, kWall0));
  CHECK(c.offer(y, kWall0));
  CHECK(d.offer(y, kWall0));
  CHECK_FALSE(d.offer(x, kWall0));
  CHECK(c.held()->keyring == d.held()->keyring);
  // Too large to travel: refused, nothing changes.
  CHECK_FALSE(a.publish(kWall0, id(1), std::string(kMaxKeyringText + 1, 'k')));
  CHECK(a.held()->keyring == "keyring two");
}

TEST_CASE("cluster keys: a host that restarts holding a version keeps ordering after it") {
  ClusterKeys restarted(KeysValue{{{kWall0.time_since_epoch().count() + 60000, 3}, id(9)}, "old"});
  const auto next = restarted.publish(kWall0, id(1), "new");  // its clock says earlier
  REQUIRE(next);
  CHECK(next->version.stamp.wall_ms == kWall0.time_since_epoch().count() + 60000);
  CHECK(next->version.stamp.logical == 4);
}

TEST_CASE("cluster keys: the user message and the meta round-trip; bad bytes are refused") {
  const KeysValue value{{{1767225600123, 2}, id(7)}, "# keys\nAAAA\n"};
  const Bytes message = encode_keys_update(value);
  CHECK(is_keys_update(message));
  const auto decoded = decode_keys_update(message);
  REQUIRE(decoded);
  CHECK(decoded->version == value.version);
  CHECK(decoded->keyring == value.keyring);
  CHECK_FALSE(is_keys_update(Bytes{0x0a, 0x00}));  // a lease record's tag
  CHECK_FALSE(is_keys_update(Bytes{}));
  CHECK_FALSE(decode_keys_update(Bytes{0x1a, 0x05, 0x01}));  // truncated
  Bytes huge = encode_keys_update({value.version, std::string(kMaxKeyringText, 'k')});
  CHECK(decode_keys_update(huge));
  huge = encode_keys_update({value.version, std::string(kMaxKeyringText + 1, 'k')});
  CHECK_FALSE(decode_keys_update(huge));

  const MemberMeta meta{{}, value.version};
  const auto back = decode_member_meta(encode_member_meta(meta));
  REQUIRE(back);
  CHECK(*back == meta);
  CHECK(value.version.to_string() == "1767225600123.2@" + id(7).short_hex());
}

TEST_CASE("cluster keys: refusals name their reason") {
  const KeysValue value{{{1767225600123, 2}, id(7)}, "# keys\nAAAA\n"};
  CHECK(decode_keys_update(Bytes{0x1a, 0x05, 0x01}).error() == DropReason::kMalformed);
  CHECK(decode_keys_update(Bytes(kMaxKeyringText + 129, 0)).error() == DropReason::kTooLarge);
  proto::LeaseUpdate no_keys;
  no_keys.mutable_eviction();
  const std::string eviction = no_keys.SerializeAsString();
  CHECK(decode_keys_update(as_bytes(eviction)).error() == DropReason::kNotKeysUpdate);
  const Bytes huge = encode_keys_update({value.version, std::string(kMaxKeyringText + 1, 'k')});
  CHECK(decode_keys_update(huge).error() == DropReason::kKeyringTooLarge);

  proto::ClusterKeys keys;
  to_proto(value, keys);
  REQUIRE(from_proto(keys));
  keys.set_origin("abc");  // not a node id
  CHECK(from_proto(keys).error() == DropReason::kBadOrigin);
  keys.set_keyring(std::string(kMaxKeyringText + 1, 'k'));
  CHECK(from_proto(keys).error() == DropReason::kKeyringTooLarge);
}
