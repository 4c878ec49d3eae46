#include <doctest/doctest.h>

#include "common/time.h"

using namespace shoal;
using std::chrono::milliseconds;

TEST_CASE("signed_seconds: a sign always, the millisecond when there is one, no trailing zeros") {
  CHECK(signed_seconds(milliseconds(300000)) == "+300 s");
  CHECK(signed_seconds(milliseconds(-1500)) == "-1.5 s");
  CHECK(signed_seconds(milliseconds(250)) == "+0.25 s");
  CHECK(signed_seconds(milliseconds(-7)) == "-0.007 s");
  CHECK(signed_seconds(milliseconds(0)) == "+0 s");
  CHECK(signed_seconds(milliseconds(-31622400000)) == "-31622400 s");  // the codec's limit
}
