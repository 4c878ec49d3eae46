// common/byte_order.h: the one place integers become bytes and back.
#include <doctest/doctest.h>

#include "common/byte_order.h"

using namespace shoal;

TEST_CASE("byte order: 16-bit big- and little-endian, round trips") {
  uint8_t b[2] = {};
  put_be16(b, 0x0102);
  CHECK((b[0] == 1 && b[1] == 2));
  CHECK(get_be16(b) == 0x0102);
  put_le16(b, 0x0102);
  CHECK((b[0] == 2 && b[1] == 1));
  CHECK(get_le16(b) == 0x0102);
  put_be16(b, 0xfffe);
  CHECK(get_be16(b) == 0xfffe);
}

TEST_CASE("byte order: big-endian 32 and 64, little-endian 64, round trips") {
  uint8_t b[8] = {};
  put_be32(b, 0x01020304u);
  CHECK((b[0] == 1 && b[1] == 2 && b[2] == 3 && b[3] == 4));
  CHECK(get_be32(b) == 0x01020304u);
  put_be64(b, 0x0102030405060708ull);
  CHECK((b[0] == 1 && b[7] == 8));
  CHECK(get_be64(b) == 0x0102030405060708ull);
  put_le64(b, 0x0102030405060708ull);
  CHECK((b[0] == 8 && b[7] == 1));
  Bytes out{9};
  append_be32(out, 0xa0b0c0d0u);
  CHECK(out == Bytes{9, 0xa0, 0xb0, 0xc0, 0xd0});
}
