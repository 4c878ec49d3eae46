// The hashes hosts compare with each other must never change by accident: pinned to the
// published FNV-1a and splitmix64 values.
#include <doctest/doctest.h>

#include <string_view>

#include "common/hash.h"

using namespace shoal;

TEST_CASE("fnv1a and splitmix64 give the published values") {
  CHECK(fnv1a(kFnvOffset, as_bytes(std::string_view(""))) == kFnvOffset);
  CHECK(fnv1a(kFnvOffset, as_bytes(std::string_view("a"))) == 0xaf63dc4c8601ec8cULL);
  // Continuing from a prefix's hash is hashing the whole.
  CHECK(
      fnv1a(fnv1a(kFnvOffset, as_bytes(std::string_view("ab"))), as_bytes(std::string_view("c"))) ==
      fnv1a(kFnvOffset, as_bytes(std::string_view("abc"))));
  uint64_t state = 0;
  CHECK(splitmix64(state) == 0xe220a8397b1dcdafULL);  // the reference generator's first output
  CHECK(state == kGoldenGamma);
}
