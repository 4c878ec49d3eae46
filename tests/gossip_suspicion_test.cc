#include <doctest/doctest.h>

#include "common/rng.h"
#include "gossip/suspicion.h"

using namespace shoal;

TEST_CASE("Suspicion starts at max and shrinks to min with k confirmations") {
  Rng rng(3);
  const NodeId a = NodeId::random(rng), b = NodeId::random(rng), c = NodeId::random(rng);
  const TimePoint start = kTimeZero + 10s;
  gossip::Suspicion s(a, 2, 2s, 30s, start);
  CHECK(s.deadline() == start + 30s);
  CHECK_FALSE(s.confirm(a));  // the first accuser does not confirm itself
  CHECK(s.confirm(b));
  const TimePoint after_one = s.deadline();
  CHECK(after_one < start + 30s);
  CHECK(after_one > start + 2s);
  CHECK_FALSE(s.confirm(b));  // not independent
  CHECK(s.confirm(c));
  CHECK(s.deadline() == start + 2s);
  CHECK_FALSE(s.confirm(NodeId::random(rng)));  // k reached: nothing more to gain
}

TEST_CASE("Suspicion with no expected confirmations uses the minimum") {
  Rng rng(4);
  gossip::Suspicion s(NodeId::random(rng), 0, 5s, 30s, kTimeZero);
  CHECK(s.deadline() == kTimeZero + 5s);
  CHECK_FALSE(s.confirm(NodeId::random(rng)));
}

TEST_CASE("Suspicion asks for one recheck, at half its minimum timeout") {
  Rng rng(5);
  gossip::Suspicion s(NodeId::random(rng), 2, 4s, 24s, kTimeZero);
  CHECK_FALSE(s.take_recheck(kTimeZero + 1999ms));
  CHECK(s.take_recheck(kTimeZero + 2s));
  CHECK_FALSE(s.take_recheck(kTimeZero + 3s));  // once
}

TEST_CASE("Suspicion asks for reminders from half its minimum timeout on, each period") {
  Rng rng(9);
  gossip::Suspicion s(NodeId::random(rng), 2, 8s, 48s, kTimeZero);
  CHECK_FALSE(s.take_reminder(kTimeZero + 3999ms, 2s));
  CHECK(s.take_reminder(kTimeZero + 4s, 2s));
  CHECK_FALSE(s.take_reminder(kTimeZero + 5s, 2s));
  CHECK(s.take_reminder(kTimeZero + 6s, 2s));
  CHECK(s.take_reminder(kTimeZero + 9s, 2s));  // late: the next one counts from now
  CHECK_FALSE(s.take_reminder(kTimeZero + 10s, 2s));
}
