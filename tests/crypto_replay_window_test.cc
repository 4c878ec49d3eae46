// The replay window: in order, reordered, duplicates, too old, a far jump, and the counter
// limit; and, against a plain set, random sequences give the same verdicts.
#include <doctest/doctest.h>

#include <set>

#include "common/rng.h"
#include "crypto/replay_window.h"

using shoal::Rng;
using shoal::crypto::ReplayWindow;

TEST_CASE("replay window: in order and reordered are accepted once; duplicates never") {
  ReplayWindow w;
  for (uint64_t c = 0; c < 1000; ++c) CHECK(w.accept(c));
  for (uint64_t c = 0; c < 1000; ++c) CHECK_FALSE(w.accept(c));
  CHECK(w.next_expected() == 1000);
  // Reordered inside the window: a late packet is fine, once.
  CHECK(w.accept(1005));
  CHECK(w.accept(1002));
  CHECK(w.accept(1001));
  CHECK_FALSE(w.accept(1002));
  CHECK(w.accept(1000));
  CHECK(w.accept(1003));
  CHECK(w.accept(1004));
}

TEST_CASE("replay window: too old is refused; the window edge is exact") {
  ReplayWindow w;
  const uint64_t top = 100000;
  CHECK(w.accept(top));
  // top + 1 - kWindow is the oldest position still inside (counters are shifted by one).
  CHECK(w.accept(top - ReplayWindow::kWindow));
  CHECK_FALSE(w.accept(top - ReplayWindow::kWindow - 1));
  CHECK_FALSE(w.accept(0));
  CHECK(w.accept(top - 1));
}

TEST_CASE("replay window: a far jump forgets the old window entirely") {
  ReplayWindow w;
  for (uint64_t c = 0; c < 64 * 200; ++c) CHECK(w.accept(c));
  const uint64_t far = 1'000'000'000;
  CHECK(w.accept(far));
  // Slots the old counters used are clean for the new ones that map to them.
  for (uint64_t c = far - 100; c < far; ++c) CHECK(w.accept(c));
  CHECK_FALSE(w.accept(64 * 199));  // far too old now
}

TEST_CASE("replay window: counters near the limit are refused, a rekey is due") {
  ReplayWindow w;
  CHECK(w.accept(ReplayWindow::kRejectAfter - 1));
  CHECK_FALSE(w.accept(ReplayWindow::kRejectAfter));
  CHECK_FALSE(w.accept(UINT64_MAX));  // no wrap to zero either
}

TEST_CASE("replay window: random sequences agree with a plain model") {
  Rng rng(42);
  for (int trial = 0; trial < 20; ++trial) {
    ReplayWindow w;
    std::set<uint64_t> seen;
    uint64_t highest = 0;
    bool any = false;
    uint64_t base = rng.below(1u << 20);
    for (int i = 0; i < 20000; ++i) {
      // Mostly forward with jitter, some duplicates, some stragglers, some jumps.
      uint64_t c = base + rng.below(400);
      if (rng.chance(0.05)) c = base > 9000 ? base - 8000 - rng.below(1000) : base;
      if (rng.chance(0.001)) base += 20000;
      base += rng.below(3);
      const bool too_old = any && c + 1 + ReplayWindow::kWindow < highest + 1;
      const bool expected = !too_old && !seen.count(c);
      INFO("trial " << trial << " step " << i << " counter " << c);
      REQUIRE(w.accept(c) == expected);
      if (expected) {
        seen.insert(c);
        highest = any ? std::max(highest, c) : c;
        any = true;
      }
    }
  }
}
