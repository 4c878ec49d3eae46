// backends/udp/session_policy.h by hand: when a packet is sealed, held or sealed while a
// rekey starts, and which of two fresh sessions both ends seal with after crossing
// initiations (the one the lower node id initiated, at both ends).
#include <doctest/doctest.h>

#include <array>

#include "backends/udp/session_policy.h"

using namespace shoal;
using namespace shoal::udp;
using namespace std::chrono_literals;

namespace {

const SessionLimits kLimits{120s, 60s, 1000};

NodeId node(uint8_t byte) {
  std::array<uint8_t, NodeId::kSize> bytes{};
  bytes[0] = byte;
  return NodeId(bytes);
}

}  // namespace

TEST_CASE("udp.session: a packet waits for a session, then seals, then rekeys, then waits") {
  CHECK(on_send({}, kLimits) == SendDecision::kHoldForHandshake);
  CHECK(on_send({true, 1s, true, 0}, kLimits) == SendDecision::kSeal);
  CHECK(on_send({true, 119s, true, 0}, kLimits) == SendDecision::kSeal);
  CHECK(on_send({true, 121s, true, 0}, kLimits) == SendDecision::kSealAndRekey);
  // Only the initiator rekeys on age; the responder keeps sealing until the key's life ends.
  CHECK(on_send({true, 121s, false, 0}, kLimits) == SendDecision::kSeal);
  CHECK(on_send({true, 181s, false, 0}, kLimits) == SendDecision::kHoldForHandshake);
  CHECK(on_send({true, 181s, true, 0}, kLimits) == SendDecision::kHoldForHandshake);
  // Either end rekeys on the message count.
  CHECK(on_send({true, 1s, false, 1001}, kLimits) == SendDecision::kSealAndRekey);
}

TEST_CASE("udp.session: crossing initiations resolve to the same session at both ends") {
  const NodeId low = node(1), high = node(2);
  const TimePoint t0 = kTimeZero + 100s;
  // Both started a handshake at once. At the low end: its own (initiated) session and the
  // high end's (responded); at the high end, the mirror image.
  const SessionOrigin low_initiated_at_low{t0, true}, high_initiated_at_low{t0 + 5ms, false};
  const SessionOrigin low_initiated_at_high{t0 + 5ms, false}, high_initiated_at_high{t0, true};
  // Whichever completes first, each end ends up sealing with the low end's session.
  CHECK_FALSE(seal_with_fresh(low, high, &low_initiated_at_low, high_initiated_at_low));
  CHECK(seal_with_fresh(low, high, &high_initiated_at_low, low_initiated_at_low));
  CHECK(seal_with_fresh(high, low, &high_initiated_at_high, low_initiated_at_high));
  CHECK_FALSE(seal_with_fresh(high, low, &low_initiated_at_high, high_initiated_at_high));
}

TEST_CASE("udp.session: outside a crossing, the newer session wins") {
  const NodeId low = node(1), high = node(2);
  const TimePoint t0 = kTimeZero + 100s;
  CHECK(seal_with_fresh(low, high, nullptr, {t0, false}));
  // A rekey two minutes later, whoever initiated it.
  const SessionOrigin initiated{t0, true}, responded{t0, false}, retried{t0 + 1s, true};
  CHECK(seal_with_fresh(low, high, &initiated, {t0 + 120s, false}));
  CHECK(seal_with_fresh(high, low, &responded, {t0 + 120s, true}));
  // The same end initiating twice in a row (a retry): the newer.
  CHECK(seal_with_fresh(high, low, &initiated, retried));
  CHECK_FALSE(seal_with_fresh(high, low, &retried, initiated));
}
