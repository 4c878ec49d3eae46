#include <doctest/doctest.h>

#include <vector>

#include "common/rng.h"

TEST_CASE("Rng is deterministic per seed") {
  shoal::Rng a(7), b(7), c(8);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next();
    CHECK(x == b.next());
    differs |= x != c.next();
  }
  CHECK(differs);
}

TEST_CASE("Rng::below stays in range and covers it") {
  shoal::Rng rng(1);
  std::vector<int> hits(10, 0);
  for (int i = 0; i < 10000; ++i) {
    const uint64_t v = rng.below(10);
    REQUIRE(v < 10);
    hits[v]++;
  }
  for (int h : hits) CHECK(h > 800);  // expected 1000 each; a loose bound, not a timing
  for (int i = 0; i < 1000; ++i) {
    const double u = rng.unit();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
  }
}
