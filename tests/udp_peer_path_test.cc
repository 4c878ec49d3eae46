// backends/udp/peer_path.h driven by hand, time made up: a peer is sent to where its
// authenticated packets came from while that is fresh, else to its relay, else to the best
// guess; only heard_direct() moves it; punches back off 2 s -> 32 s and start over when the
// direct path dies or the plan changes; keepalives only when the plan asks for them; data sent
// into kSilence of silence moves traffic to the relay.
#include <doctest/doctest.h>

#include <array>
#include <vector>

#include "backends/udp/peer_path.h"

using namespace shoal;
using namespace shoal::udp;

namespace {

Endpoint lan(uint8_t host) { return {IpAddress::v4(192, 0, 2, host), 8285}; }
Endpoint outside(uint8_t host, uint16_t port) { return {IpAddress::v4(203, 0, 113, host), port}; }
// The relay member's own tunnel endpoint, as the tunnel reaches it.
const Endpoint kRelayAt{IpAddress::v4(198, 51, 100, 7), 8285};

NodeId node(uint8_t byte) {
  std::array<uint8_t, NodeId::kSize> bytes{};
  bytes[0] = byte;
  return NodeId(bytes);
}

const TimePoint kStart = kTimeZero + 1s;
// With keepalives every 10 s a direct endpoint is stale 2 * 10 + 5 = 25 s after it spoke.
constexpr Duration kKeepalive = 10s;

// A peer behind a NAT from us: its LAN address, one reflexive candidate, a relay.
PathPlan natted(bool punch = true) {
  return {.address = lan(2),
          .candidates = {outside(9, 40000)},
          .relay = node(7),
          .punch = punch,
          .keepalive = true};
}

// A peer on our LAN: its address, nothing else.
PathPlan lan_only() {
  PathPlan plan;
  plan.address = lan(2);
  return plan;
}

// The seconds after kStart at which take_punch(), called every second up to `until`, punched.
std::vector<int> punch_rounds(PeerPath& p, int from, int until) {
  std::vector<int> out;
  for (int s = from; s <= until; ++s)
    if (!p.take_punch(kStart + std::chrono::seconds(s)).empty()) out.push_back(s);
  return out;
}

}  // namespace

TEST_CASE("a new peer known only by its address is sent to that address") {
  PeerPath p;
  p.set_plan(lan_only(), kStart);
  CHECK(p.target(kStart, std::nullopt) == SendTarget{lan(2), false});
  // No relay in the plan: a relay endpoint on offer is not used.
  CHECK(p.target(kStart, kRelayAt) == SendTarget{lan(2), false});
  CHECK_FALSE(p.heard_at());
  CHECK_FALSE(p.direct_fresh(kStart));
  CHECK(p.kind(kStart) == PathKind::kUnknown);
  CHECK(p.initiation_endpoints() == std::vector<Endpoint>{lan(2)});
  // Nothing to punch (no relay) and no NAT to keep open.
  CHECK(p.take_punch(kStart).empty());
  CHECK_FALSE(p.take_keepalive(kStart));
}

TEST_CASE("stale_after follows the keepalive interval") {
  CHECK(PeerPath().stale_after() == 55s);  // the default 25 s keepalive
  CHECK(PeerPath(kKeepalive).stale_after() == 25s);
}

TEST_CASE("a fresh direct endpoint is used; once stale, the relay; without one, the best guess") {
  PeerPath p(kKeepalive);
  p.set_plan(natted(), kStart);
  // Nothing heard yet: through the relay, when we reach the relay ourselves...
  CHECK(p.target(kStart, kRelayAt) == SendTarget{kRelayAt, true});
  // ...and the address when we do not: a relay we cannot reach is no use.
  CHECK(p.target(kStart, std::nullopt) == SendTarget{lan(2), false});

  p.heard_direct(outside(9, 40000), kStart);
  CHECK(p.direct_fresh(kStart + 24s));
  CHECK(p.target(kStart + 24s, kRelayAt) == SendTarget{outside(9, 40000), false});
  CHECK_FALSE(p.direct_fresh(kStart + 25s));
  CHECK(p.target(kStart + 25s, kRelayAt) == SendTarget{kRelayAt, true});
  // With the relay out of reach, the best guess is the endpoint heard last, not the address.
  CHECK(p.target(kStart + 25s, std::nullopt) == SendTarget{outside(9, 40000), false});
}

TEST_CASE("a peer on a plain LAN stays at the endpoint it was heard from, however idle") {
  PeerPath p(kKeepalive);
  p.set_plan(lan_only(), kStart);
  p.heard_direct(lan(2), kStart);
  const TimePoint later = kStart + 1h;
  CHECK_FALSE(p.direct_fresh(later));
  CHECK(p.target(later, kRelayAt) == SendTarget{lan(2), false});
  CHECK(p.kind(later) == PathKind::kDirect);
}

TEST_CASE("only heard_direct roams: punched away from the address, direct back at it") {
  PeerPath p(kKeepalive);
  p.set_plan(natted(), kStart);
  p.heard_direct(lan(2), kStart);
  CHECK(p.heard_at() == lan(2));
  CHECK(p.kind(kStart) == PathKind::kDirect);
  CHECK_FALSE(p.heard_direct(lan(2), kStart + 1s));  // the same endpoint again: no move

  // Its NAT remapped, or it moved: the next authenticated packet comes from elsewhere.
  CHECK(p.heard_direct(outside(9, 41000), kStart + 2s));
  CHECK(p.heard_at() == outside(9, 41000));
  CHECK(p.kind(kStart + 2s) == PathKind::kPunched);
  CHECK(p.target(kStart + 2s, kRelayAt) == SendTarget{outside(9, 41000), false});

  // Relayed packets and new plans never move the endpoint.
  p.heard_relayed(kStart + 3s);
  PathPlan moved = natted();
  moved.address = lan(3);
  moved.candidates = {outside(10, 50000)};
  p.set_plan(moved, kStart + 3s);
  CHECK(p.heard_at() == outside(9, 41000));
  CHECK(p.target(kStart + 3s, kRelayAt) == SendTarget{outside(9, 41000), false});

  CHECK(p.heard_direct(lan(3), kStart + 4s));  // now at the new plan's address: direct
  CHECK(p.kind(kStart + 4s) == PathKind::kDirect);
}

TEST_CASE("kind: relayed while relayed packets come and the direct path is stale") {
  PeerPath p(kKeepalive);
  p.set_plan(natted(), kStart);
  CHECK(p.kind(kStart) == PathKind::kUnknown);
  p.heard_relayed(kStart);
  CHECK(p.kind(kStart) == PathKind::kRelayed);
  CHECK(p.kind(kStart + 24s) == PathKind::kRelayed);
  CHECK(p.kind(kStart + 25s) == PathKind::kUnknown);  // the relayed packets went stale too

  // Upgraded: a packet straight from its candidate.
  p.heard_relayed(kStart + 30s);
  p.heard_direct(outside(9, 40000), kStart + 30s);
  CHECK(p.kind(kStart + 30s) == PathKind::kPunched);
  CHECK(p.target(kStart + 30s, kRelayAt) == SendTarget{outside(9, 40000), false});

  // The hole closes; relayed packets still come: back through the relay.
  p.heard_relayed(kStart + 50s);
  CHECK(p.kind(kStart + 55s) == PathKind::kRelayed);
  CHECK(p.target(kStart + 55s, kRelayAt) == SendTarget{kRelayAt, true});
}

TEST_CASE("kind: relayed packets from a peer whose plan names no relay") {
  PeerPath p(kKeepalive);
  p.set_plan(lan_only(), kStart);
  p.heard_relayed(kStart);
  CHECK(p.kind(kStart) == PathKind::kRelayed);
  CHECK(p.kind(kStart + 25s) == PathKind::kUnknown);
}

TEST_CASE("initiations go to the endpoint heard last, the address and the candidates, once each") {
  PeerPath p(kKeepalive);
  PathPlan plan = natted();
  plan.candidates = {outside(9, 40000), lan(2), outside(9, 40000), {lan(4).address, 0}};
  p.set_plan(plan, kStart);
  // Duplicates and port 0 (nothing answers there) are left out.
  CHECK(p.initiation_endpoints() == std::vector<Endpoint>{lan(2), outside(9, 40000)});
  p.heard_direct(outside(9, 41000), kStart);
  CHECK(p.initiation_endpoints() ==
        std::vector<Endpoint>{outside(9, 41000), lan(2), outside(9, 40000)});
  p.heard_direct(lan(2), kStart + 1s);  // heard at the address: listed once, first
  CHECK(p.initiation_endpoints() == std::vector<Endpoint>{lan(2), outside(9, 40000)});
}

TEST_CASE("initiations go to at most kMaxTargets endpoints, the first ones kept") {
  PeerPath p;
  PathPlan plan = lan_only();
  for (uint8_t i = 0; i < 10; ++i)
    plan.candidates.push_back(outside(static_cast<uint8_t>(i + 1), 40000));
  p.set_plan(plan, kStart);
  p.heard_direct(outside(99, 40000), kStart);
  const std::vector<Endpoint> endpoints = p.initiation_endpoints();
  REQUIRE(endpoints.size() == PeerPath::kMaxTargets);
  CHECK(endpoints[0] == outside(99, 40000));
  CHECK(endpoints[1] == lan(2));
  CHECK(endpoints[2] == outside(1, 40000));
  CHECK(endpoints.back() == outside(static_cast<uint8_t>(PeerPath::kMaxTargets - 2), 40000));
}

TEST_CASE("a private address across a NAT gets no initiation, no punch, no data") {
  PeerPath p(kKeepalive);
  PathPlan plan = natted();
  plan.address_works = false;
  p.set_plan(plan, kStart);
  CHECK(p.initiation_endpoints() == std::vector<Endpoint>{outside(9, 40000)});
  CHECK(p.target(kStart, std::nullopt) == SendTarget{outside(9, 40000), false});
  CHECK(p.take_punch(kStart) == std::vector<Endpoint>{outside(9, 40000)});
  // Authenticated packets from there prove it after all.
  p.heard_direct(lan(2), kStart + 1s);
  CHECK(p.initiation_endpoints() == std::vector<Endpoint>{lan(2), outside(9, 40000)});
  CHECK(p.target(kStart + 1s, kRelayAt) == SendTarget{lan(2), false});
}

TEST_CASE("punches go to the initiation endpoints, backing off from 2 s to 32 s") {
  PeerPath p(kKeepalive);
  p.set_plan(natted(), kStart);
  CHECK(p.take_punch(kStart) == std::vector<Endpoint>{lan(2), outside(9, 40000)});
  // Then 2, 4, 8, 16 s apart, and 32 s from there on: two rounds a minute at most.
  CHECK(punch_rounds(p, 1, 200) == std::vector<int>{2, 6, 14, 30, 62, 94, 126, 158, 190});
}

TEST_CASE("no punching without a relay, without punch, or while the direct path is fresh") {
  // Each gets the one punch a newly published candidate always gets, and no rounds after it.
  PathPlan no_relay = natted();
  no_relay.relay.reset();
  PeerPath a(kKeepalive);
  a.set_plan(no_relay, kStart);
  CHECK(a.take_punch(kStart) == std::vector<Endpoint>{outside(9, 40000)});
  CHECK(punch_rounds(a, 1, 100).empty());

  PeerPath b(kKeepalive);
  b.set_plan(natted(/*punch=*/false), kStart);
  CHECK(b.take_punch(kStart) == std::vector<Endpoint>{outside(9, 40000)});
  CHECK(punch_rounds(b, 1, 100).empty());

  PeerPath c(kKeepalive);
  c.set_plan(natted(), kStart);
  c.heard_direct(outside(9, 40000), kStart);
  CHECK(c.take_punch(kStart) == std::vector<Endpoint>{outside(9, 40000)});
  CHECK(punch_rounds(c, 1, 24).empty());
}

TEST_CASE("a newly published candidate gets one punch, even while the direct path is fresh") {
  PeerPath p(kKeepalive);
  p.set_plan(natted(), kStart);
  p.heard_direct(outside(9, 40000), kStart);
  p.take_punch(kStart);  // the first plan's candidate: new too
  REQUIRE(punch_rounds(p, 1, 10).empty());

  // Its NAT remapped: the peer publishes its new mapping beside the old one.
  PathPlan remapped = natted();
  remapped.candidates = {outside(9, 40000), outside(9, 40001)};
  p.set_plan(remapped, kStart + 11s);
  CHECK(p.direct_fresh(kStart + 11s));
  CHECK(p.take_punch(kStart + 11s) == std::vector<Endpoint>{outside(9, 40001)});
  CHECK(punch_rounds(p, 12, 24).empty());  // once

  // Not the endpoint it is heard from already (it roamed there before publishing it)...
  p.heard_direct(outside(9, 40002), kStart + 25s);
  remapped.candidates = {outside(9, 40002)};
  p.set_plan(remapped, kStart + 25s);
  CHECK(p.take_punch(kStart + 25s).empty());

  // ...and at most kMaxTargets of them.
  PathPlan many = natted();
  many.candidates.clear();
  for (uint16_t port = 50000; port < 50010; ++port) many.candidates.push_back(outside(9, port));
  p.set_plan(many, kStart + 26s);
  const std::vector<Endpoint> punched = p.take_punch(kStart + 26s);
  REQUIRE(punched.size() == PeerPath::kMaxTargets);
  CHECK(punched.front() == outside(9, 50000));
}

TEST_CASE("punching starts again from 2 s when the direct path dies") {
  PeerPath p(kKeepalive);
  p.set_plan(natted(), kStart);
  REQUIRE(punch_rounds(p, 0, 62) == std::vector<int>{0, 2, 6, 14, 30, 62});  // next: 94
  // A hole opens at 63 s and carries traffic until 70 s; it is stale from 95 s.
  for (int s = 63; s <= 94; ++s) {
    const TimePoint t = kStart + std::chrono::seconds(s);
    if (s <= 70) p.heard_direct(outside(9, 40000), t);
    CHECK(p.take_punch(t).empty());
  }
  // It died: punch at once, then 2 s, 4 s, ... apart again, not 32 s.
  CHECK(punch_rounds(p, 95, 110) == std::vector<int>{95, 97, 101, 109});
}

TEST_CASE("a new plan restarts punching from 2 s; the same plan again does not") {
  PeerPath p(kKeepalive);
  p.set_plan(natted(), kStart);
  REQUIRE(punch_rounds(p, 0, 30) == std::vector<int>{0, 2, 6, 14, 30});  // next: 62
  p.set_plan(natted(), kStart + 31s);
  CHECK(punch_rounds(p, 31, 50).empty());

  PathPlan remapped = natted();
  remapped.candidates = {outside(9, 40001)};
  p.set_plan(remapped, kStart + 51s);
  CHECK(p.plan() == remapped);
  CHECK(p.take_punch(kStart + 51s) == std::vector<Endpoint>{lan(2), outside(9, 40001)});
  CHECK(punch_rounds(p, 52, 61) == std::vector<int>{53, 57});
}

TEST_CASE("keepalives only when the plan asks, one per interval") {
  PeerPath p(kKeepalive);
  PathPlan relayed_only = lan_only();
  relayed_only.relay = node(7);
  p.set_plan(relayed_only, kStart);
  CHECK_FALSE(p.take_keepalive(kStart));
  CHECK_FALSE(p.take_keepalive(kStart + 1h));

  p.set_plan(natted(), kStart + 1h);
  TimePoint t = kStart + 1h;
  CHECK(p.take_keepalive(t));
  CHECK_FALSE(p.take_keepalive(t));
  CHECK_FALSE(p.take_keepalive(t + 9s));
  CHECK(p.take_keepalive(t + 10s));
  CHECK_FALSE(p.take_keepalive(t + 19s));
  CHECK(p.take_keepalive(t + 20s));
  // Late ticks do not make up for missed ones: the next is an interval after the last sent.
  CHECK(p.take_keepalive(t + 45s));
  CHECK_FALSE(p.take_keepalive(t + 54s));
  CHECK(p.take_keepalive(t + 55s));
}

TEST_CASE("data sent into silence kills the direct path within kSilence, not stale_after") {
  PeerPath p(kKeepalive);
  p.set_plan(natted(), kStart);
  p.heard_direct(outside(9, 40000), kStart);
  CHECK(p.take_direct_lost(kStart) == false);
  // A working path: data goes out and the peer's passive keepalives come back.
  for (int s = 1; s <= 5; ++s) {
    p.sent_data(kStart + std::chrono::seconds(s));
    p.heard_direct(outside(9, 40000), kStart + std::chrono::seconds(s));
  }
  const TimePoint quiet_from = kStart + 5s;
  CHECK(p.direct_fresh(quiet_from + 20s));  // merely idle: fresh until stale_after (25 s)
  // Now the peer's NAT remaps: we keep sending, nothing comes back.
  for (int ms = 100; ms <= 3000; ms += 100) {
    const TimePoint t = quiet_from + std::chrono::milliseconds(ms);
    p.sent_data(t);
    CHECK(p.direct_fresh(t));  // within kSilence: a keepalive may still be on its way
    CHECK(p.take_direct_lost(t) == false);
  }
  const TimePoint dead = quiet_from + PeerPath::kSilence + 200ms;
  p.sent_data(dead);
  CHECK_FALSE(p.direct_fresh(dead));
  CHECK(p.target(dead, kRelayAt) == SendTarget{kRelayAt, true});
  CHECK(p.take_direct_lost(dead));  // reported once
  CHECK_FALSE(p.take_direct_lost(dead + 1s));
  CHECK(p.take_punch(dead) == p.initiation_endpoints());  // punch again at once
  // A punch answered: direct again.
  p.heard_direct(outside(9, 40001), dead + 2s);
  CHECK(p.direct_fresh(dead + 2s));
  CHECK(p.target(dead + 2s, kRelayAt) == SendTarget{outside(9, 40001), false});
}

TEST_CASE("the first packet heard is no roam; a later move is") {
  PeerPath p(kKeepalive);
  p.set_plan(natted(), kStart);
  CHECK_FALSE(p.heard_direct(outside(9, 40000), kStart));
  CHECK_FALSE(p.heard_direct(outside(9, 40000), kStart + 1s));
  CHECK(p.heard_direct(outside(9, 40007), kStart + 2s));
}

TEST_CASE("fresh candidates are deduplicated and bounded") {
  PeerPath p(kKeepalive);
  PathPlan plan = natted();
  p.set_plan(plan, kStart);
  p.heard_direct(outside(9, 40000), kStart);
  (void)p.take_punch(kStart);
  // Many plan changes while no punch is taken (no session yet): each new endpoint once.
  for (uint16_t port = 1; port <= 20; ++port) {
    plan.candidates = {outside(9, static_cast<uint16_t>(41000 + port % 3))};
    p.set_plan(plan, kStart + 1s);
  }
  const std::vector<Endpoint> punched = p.take_punch(kStart + 1s);
  CHECK(punched.size() == 3);
  CHECK(punched.size() <= PeerPath::kMaxTargets);
}
