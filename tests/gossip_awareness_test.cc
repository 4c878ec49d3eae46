#include <doctest/doctest.h>

#include "gossip/awareness.h"

using namespace shoal;

TEST_CASE("Awareness clamps its score and scales timeouts by score + 1") {
  gossip::Awareness a(8);
  CHECK(a.score() == 0);
  CHECK(a.scale(500ms) == 500ms);
  a.apply_delta(-3);
  CHECK(a.score() == 0);
  a.apply_delta(2);
  CHECK(a.scale(500ms) == 1500ms);
  a.apply_delta(100);
  CHECK(a.score() == 7);
  CHECK(a.scale(1s) == 8s);
}
