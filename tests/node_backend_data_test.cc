#include <doctest/doctest.h>

#include "node/backend_data.h"

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
