#include <doctest/doctest.h>

#include <set>
#include <string>

#include "node/backend_data.h"
#include "node/drop_reason.h"
#include "proto/shoal.pb.h"

using namespace shoal;
using namespace shoal::node;

TEST_CASE("backend data round-trips") {
  BackendData data;
  data.vtep_mac = Mac{0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  data.tunnel_key = Bytes(32, 7);
  auto decoded = decode_backend_data(encode_backend_data(data));
  REQUIRE(decoded);
  CHECK(*decoded == data);
  CHECK(to_string(*data.vtep_mac) == "02:11:22:33:44:55");
  auto empty = decode_backend_data(encode_backend_data({}));
  REQUIRE(empty);
  CHECK_FALSE(empty->vtep_mac);
}

TEST_CASE("backend data refuses malformed bytes") {
  const Bytes garbage = {0xff, 0xff, 0xff};
  CHECK_FALSE(decode_backend_data(garbage));
  CHECK_FALSE(decode_backend_data(Bytes(kMaxBackendDataBytes + 1, 0)));
  BackendData bad_key;
  bad_key.tunnel_key = Bytes(31, 1);
  CHECK_FALSE(decode_backend_data(encode_backend_data(bad_key)));
  BackendData multicast;
  multicast.vtep_mac = Mac{0x01, 0, 0, 0, 0, 1};
  CHECK_FALSE(decode_backend_data(encode_backend_data(multicast)));
  BackendData zero;
  zero.vtep_mac = Mac{};
  CHECK_FALSE(decode_backend_data(encode_backend_data(zero)));
}

TEST_CASE("backend data names the reason it refused") {
  const Bytes garbage = {0xff, 0xff, 0xff};
  CHECK(decode_backend_data(garbage).error() == DropReason::kMalformed);
  CHECK(decode_backend_data(Bytes(kMaxBackendDataBytes + 1, 0)).error() == DropReason::kTooLarge);
  BackendData bad_key;
  bad_key.tunnel_key = Bytes(31, 1);
  CHECK(decode_backend_data(encode_backend_data(bad_key)).error() == DropReason::kBadTunnelKey);
  BackendData multicast;
  multicast.vtep_mac = Mac{0x01, 0, 0, 0, 0, 1};
  CHECK(decode_backend_data(encode_backend_data(multicast)).error() == DropReason::kBadMac);
  BackendData zero;
  zero.vtep_mac = Mac{};
  CHECK(decode_backend_data(encode_backend_data(zero)).error() == DropReason::kBadMac);
  proto::BackendData short_mac;
  short_mac.set_vtep_mac(std::string(5, '\x02'));
  const std::string bytes = short_mac.SerializeAsString();
  CHECK(decode_backend_data(as_bytes(bytes)).error() == DropReason::kBadMacLength);
}

TEST_CASE("node drop reasons have distinct metrics labels") {
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
