// Crossing NATs in the gossip core: the path to a member (gossip/path.h), what the others
// tell us about our own address (gossip/reflexive.h), and the messages that punch holes,
// driven by hand. Whole sites behind simulated NATs are in sim_nat_test.cc.
#include <doctest/doctest.h>

#include <map>

#include "gossip/membership.h"
#include "gossip/path.h"
#include "gossip/reflexive.h"
#include "gossip/wire.h"
#include "tests/test_endpoints.h"

using namespace shoal;
using namespace shoal::gossip;

namespace {

using testing::ep;
using testing::outside;

// One core ("us", at kUs) and the envelopes it answers, fed as if from member `from`.
struct Driver {
  Rng rng{21};
  NodeId us = NodeId::random(rng), a = NodeId::random(rng), b = NodeId::random(rng);
  Endpoint kUs = ep(1);
  uint64_t us_incarnation = 0;
  Membership core{Config::lan(), LocalNode{us, "us", kUs, {}, us_incarnation}, 7, kTimeZero};
  TimePoint now = kTimeZero + 1ms;

  std::vector<Transmit> drain() {
    std::vector<Transmit> out;
    while (auto t = core.poll_transmit()) out.push_back(std::move(*t));
    return out;
  }
  std::vector<Transmit> feed(const NodeId& sender, const Endpoint& from, proto::Envelope e) {
    e.set_sender(to_proto_bytes(sender));
    core.handle_packet(now, from, encode(e));
    return drain();
  }
  // The alive of `node` at `address`, with `candidates`, as a peer would gossip it.
  void learn(const NodeId& node, const Endpoint& address, std::vector<Endpoint> candidates = {},
             bool relay = false) {
    proto::Envelope e;
    *e.add_updates()->mutable_alive() = alive_of(node, 1, address, candidates);
    e.mutable_updates(0)->mutable_alive()->set_relay(relay);
    feed(node, address, e);
  }
  static proto::Alive alive_of(const NodeId& node, uint64_t incarnation, const Endpoint& address,
                               const std::vector<Endpoint>& candidates = {}) {
    proto::Alive alive;
    alive.set_node(to_proto_bytes(node));
    alive.set_incarnation(incarnation);
    to_proto(address, *alive.mutable_addr());
    alive.set_name("peer");
    for (const Endpoint& c : candidates) to_proto(c, *alive.add_candidates());
    return alive;
  }
  // Runs timers (20 s at most), acking every ping to `helper` at `helper_at`, until we ask
  // it to ping `target` with an accusation (IndirectPing.accused_at); returns that request.
  std::optional<proto::Envelope> next_accusation_through(const NodeId& helper,
                                                         const Endpoint& helper_at,
                                                         const NodeId& target) {
    for (int step = 0; step < 200; ++step) {
      now += 100ms;
      core.handle_timeout(now);
      for (const Transmit& t : drain()) {
        if (t.kind != Transmit::Kind::kDatagram || t.to != helper_at) continue;
        const proto::Envelope e = decoded(t);
        if (e.has_ping() && e.ping().target() == to_proto_bytes(helper))
          feed(helper, helper_at, ack(e.ping().seq()));
        if (e.has_indirect_ping() && e.indirect_ping().target() == to_proto_bytes(target) &&
            e.indirect_ping().has_accused_at())
          return e;
      }
    }
    return std::nullopt;
  }
  static proto::Envelope decoded(const Transmit& t) {
    proto::Envelope e;
    REQUIRE(decode(t.payload, {65507, 512, 128, 1000}, e));
    return e;
  }
  // Runs timers until the core pings `target`; returns those pings (bounded: 5 s).
  std::vector<Transmit> next_pings_to(const NodeId& target) {
    std::vector<Transmit> pings;
    for (int step = 0; step < 50 && pings.empty(); ++step) {
      now += 100ms;
      core.handle_timeout(now);
      for (Transmit& t : drain()) {
        if (t.kind != Transmit::Kind::kDatagram) continue;
        const proto::Envelope e = decoded(t);
        if (e.has_ping() && e.ping().target() == to_proto_bytes(target)) pings.push_back(t);
      }
    }
    return pings;
  }
  proto::Envelope ack(uint32_t seq, std::optional<Endpoint> observed = std::nullopt) {
    proto::Envelope e;
    e.mutable_ack()->set_seq(seq);
    if (observed) to_proto(*observed, *e.mutable_ack()->mutable_observed());
    return e;
  }
};

}  // namespace

TEST_CASE("path: probe endpoints start with reach, hold each once, and shrink once proven") {
  Path p;
  p.reach = ep(2);
  const std::vector<Endpoint> candidates{outside(9, 20000), ep(2), outside(9, 20000)};
  p.set_hint(outside(9, 30000));
  auto all = probe_endpoints(p, ep(2), candidates);
  CHECK(all == std::vector<Endpoint>{ep(2), outside(9, 20000), outside(9, 30000)});
  CHECK(path_kind(p, ep(2)) == PathKind::kUnknown);

  CHECK(p.prove(outside(9, 20000)));  // moved off the address: a punched path
  CHECK(path_kind(p, ep(2)) == PathKind::kPunched);
  CHECK(probe_endpoints(p, ep(2), candidates) == std::vector<Endpoint>{outside(9, 20000)});

  p.direct_failed(/*answered_by_helper=*/true);
  CHECK(path_kind(p, ep(2)) == PathKind::kRelayed);
  CHECK(probe_endpoints(p, ep(2), candidates).size() > 1);  // tries everything again
  p.readvertised(ep(2), candidates, false);
  CHECK(p.reach == ep(2));
  CHECK_FALSE(p.proven);

  // A working punched path stays while the member still advertises it, and goes once its
  // router restarted and it advertises new ports only: the old hole leads nowhere.
  Path punched;
  punched.reach = ep(2);
  REQUIRE(punched.prove(outside(9, 20000)));
  REQUIRE(punched.works());
  punched.readvertised(ep(2), {outside(9, 20000), outside(9, 7946)}, false);
  CHECK(punched.works());
  // Behind a symmetric NAT our way in is never advertised: a readvertisement keeps it.
  Path only_ours = punched;
  only_ours.readvertised(ep(2), {}, /*symmetric_nat=*/true);
  CHECK(only_ours.works());
  punched.readvertised(ep(2), {outside(9, 31000)}, false);
  CHECK_FALSE(punched.works());
  CHECK(punched.reach == ep(2));
  CHECK(probe_endpoints(punched, ep(2), {outside(9, 31000)}).size() == 2);
}

TEST_CASE("reflexive: two observers that agree make an address; one liar does not") {
  Rng rng(3);
  const NodeId o1 = NodeId::random(rng), o2 = NodeId::random(rng), o3 = NodeId::random(rng);
  ReflexiveTracker t(ep(1));
  const TimePoint now = kTimeZero + 1s;
  CHECK(t.observe(o1, outside(5, 20000), false, now));  // behind a NAT now
  CHECK_FALSE(t.reflexive());
  CHECK(t.behind_nat(now));
  t.observe(o2, outside(5, 20000), false, now);
  REQUIRE(t.reflexive());
  CHECK(*t.reflexive() == outside(5, 20000));
  t.observe(o3, outside(6, 1), false, now);  // a liar, or a stale view
  CHECK(*t.reflexive() == outside(5, 20000));
  CHECK_FALSE(t.symmetric());
  CHECK(t.behind_nat(now + ReflexiveTracker::kNatMemory - 1s));
  CHECK_FALSE(t.behind_nat(now + ReflexiveTracker::kNatMemory));
}

TEST_CASE("reflexive: an anchor (a seed or a relay) alone makes an address") {
  Rng rng(6);
  ReflexiveTracker t(ep(1));
  t.observe(NodeId::random(rng), outside(5, 20000), /*by_anchor=*/true, kTimeZero);
  REQUIRE(t.reflexive());
  CHECK(*t.reflexive() == outside(5, 20000));
  // A remap: the anchor sees a new port, and its word moves the address again.
  Rng again(6);
  t.observe(NodeId::random(again), outside(5, 20001), true, kTimeZero + 1s);
  CHECK(*t.reflexive() == outside(5, 20001));
}

TEST_CASE("reflexive: a remap that one observer sees is adopted on a second's word") {
  Rng rng(7);
  std::vector<NodeId> observers;
  for (size_t i = 0; i < ReflexiveTracker::kWindow; ++i) observers.push_back(NodeId::random(rng));
  ReflexiveTracker t(ep(1));
  for (const NodeId& o : observers) t.observe(o, outside(5, 20000), false, kTimeZero);
  REQUIRE(*t.reflexive() == outside(5, 20000));
  // Our router restarted: the first observer to see the new port does not move us alone...
  t.observe(observers[0], outside(5, 31000), false, kTimeZero + 1s);
  CHECK(*t.reflexive() == outside(5, 20000));
  // ...but its changed view makes the old port's seven votes stale, so a second agreeing
  // observer is enough (it used to take four, while probes to the old port failed).
  CHECK(t.observe(observers[1], outside(5, 31000), false, kTimeZero + 2s));
  CHECK(*t.reflexive() == outside(5, 31000));
  CHECK_FALSE(t.symmetric());
  // A newcomer's differing view is no remap: it had no earlier one.
  t.observe(NodeId::random(rng), outside(6, 1), false, kTimeZero + 3s);
  CHECK(*t.reflexive() == outside(5, 31000));
}

TEST_CASE("reflexive: three outside observers that all disagree mean a symmetric NAT") {
  Rng rng(4);
  ReflexiveTracker t(ep(1));
  for (uint16_t port : {20000, 20001, 20002})
    t.observe(NodeId::random(rng), outside(5, port), false, kTimeZero);
  CHECK(t.symmetric());
  CHECK_FALSE(t.reflexive());
  CHECK(t.settled(kTimeZero, true));
}

TEST_CASE("reflexive: two anchors that keep seeing us at different ports mean a symmetric NAT") {
  // homelab-nat's short form: two public members, the only outside observers a member behind
  // a symmetric NAT has. Each anchor's word alone made an address, so ours flipped between
  // their two views every second.
  Rng rng(8);
  const NodeId a = NodeId::random(rng), b = NodeId::random(rng);
  ReflexiveTracker t(ep(1));
  t.observe(a, outside(5, 20000), true, kTimeZero);
  t.observe(b, outside(5, 20001), true, kTimeZero + 500ms);
  CHECK_FALSE(t.symmetric());  // so far it could be a remap between the two sightings
  t.observe(a, outside(5, 20000), true, kTimeZero + 1s);
  CHECK_FALSE(t.symmetric());  // a's view holds since 0 s and b's since 0.5 s...
  t.observe(b, outside(5, 20001), true, kTimeZero + 2s);
  CHECK_FALSE(t.symmetric());  // ...both at once from 0.5 s to 1 s only
  CHECK(t.observe(a, outside(5, 20000), true, kTimeZero + 3s));
  CHECK(t.symmetric());  // from 0.5 s to 2 s: kOverlap
  CHECK_FALSE(t.reflexive());
  // It stays so while they keep seeing us there: no more readvertising.
  CHECK_FALSE(t.observe(b, outside(5, 20001), true, kTimeZero + 4s));
  CHECK_FALSE(t.observe(a, outside(5, 20000), true, kTimeZero + 5s));
  CHECK(t.symmetric());
}

TEST_CASE("reflexive: a cone NAT's remap seen by two anchors in turn is no symmetric NAT") {
  Rng rng(9);
  const NodeId a = NodeId::random(rng), b = NodeId::random(rng);
  ReflexiveTracker t(ep(1));
  for (int i = 0; i < 5; ++i) {
    t.observe(a, outside(5, 20000), true, kTimeZero + std::chrono::seconds(2 * i));
    t.observe(b, outside(5, 20000), true, kTimeZero + std::chrono::seconds(2 * i + 1));
  }
  REQUIRE(*t.reflexive() == outside(5, 20000));
  // The router restarts at 10 s: b sees the new port for seconds before a looks again.
  for (int s = 11; s <= 20; ++s)
    t.observe(b, outside(5, 31000), true, kTimeZero + std::chrono::seconds(s));
  CHECK_FALSE(t.symmetric());
  CHECK(*t.reflexive() == outside(5, 31000));
  t.observe(a, outside(5, 31000), true, kTimeZero + 21s);
  CHECK_FALSE(t.symmetric());
  CHECK(*t.reflexive() == outside(5, 31000));
}

TEST_CASE("reflexive: our own LAN alone does not make us public while anchors exist") {
  Rng rng(5);
  const NodeId lan1 = NodeId::random(rng), lan2 = NodeId::random(rng), seed = NodeId::random(rng);
  ReflexiveTracker t(ep(1));
  t.observe(lan1, ep(1), false, kTimeZero);
  t.observe(lan2, ep(1), false, kTimeZero);
  CHECK_FALSE(t.public_reachable(kTimeZero, /*anchors_exist=*/true));
  CHECK(t.public_reachable(kTimeZero, /*anchors_exist=*/false));  // the first members
  t.observe(seed, ep(1), /*by_anchor=*/true, kTimeZero);
  CHECK(t.public_reachable(kTimeZero, true));
  CHECK(t.settled(kTimeZero, true));
}

TEST_CASE("an ack says where the ping came from") {
  Driver d;
  proto::Envelope ping;
  ping.mutable_ping()->set_seq(5);
  ping.mutable_ping()->set_target(to_proto_bytes(d.us));
  const auto out = d.feed(d.a, outside(7, 40000), ping);
  REQUIRE(out.size() == 1);
  const proto::Envelope ack = Driver::decoded(out[0]);
  CHECK(ack.ack().seq() == 5);
  CHECK(from_proto(ack.ack().observed()) == outside(7, 40000));
}

TEST_CASE("a packet from a new endpoint earns one try; only an ack to our fresh probe moves us") {
  Driver d;
  d.learn(d.a, ep(2));
  // An authenticated ping of a's arrives from elsewhere: a roamed a, or a replay.
  proto::Envelope ping;
  ping.mutable_ping()->set_seq(1);
  ping.mutable_ping()->set_target(to_proto_bytes(d.us));
  d.feed(d.a, outside(8, 50000), ping);
  CHECK(d.core.find(d.a)->path.reach == ep(2));

  // Our next probe of a goes to its address and, once, to where that ping came from.
  const auto pings = d.next_pings_to(d.a);
  REQUIRE(pings.size() == 2);
  CHECK(pings[0].to == ep(2));
  CHECK(pings[1].to == outside(8, 50000));
  const uint32_t seq = Driver::decoded(pings[0]).ping().seq();

  // An ack with another sequence number (replayed, forged) moves nothing.
  d.feed(d.a, outside(8, 50000), d.ack(seq + 100));
  CHECK(d.core.find(d.a)->path.reach == ep(2));
  CHECK_FALSE(d.core.find(d.a)->path.proven);
  // Nor does the right one from another member.
  d.feed(d.b, outside(8, 50000), d.ack(seq));
  CHECK_FALSE(d.core.find(d.a)->path.proven);
}

TEST_CASE("the fresh ack proves the path it came on, and tells us our address") {
  Driver d;
  d.learn(d.a, ep(2), {outside(8, 50000)});
  const auto pings = d.next_pings_to(d.a);
  REQUIRE(pings.size() == 2);  // its address and its candidate
  const uint32_t seq = Driver::decoded(pings[0]).ping().seq();
  d.feed(d.a, outside(8, 50000), d.ack(seq, outside(9, 61000)));
  const Member* a = d.core.find(d.a);
  CHECK(a->path.reach == outside(8, 50000));
  CHECK(path_kind(a->path, a->address) == PathKind::kPunched);
  CHECK(a->path.sees_us_at == outside(9, 61000));
  CHECK(d.core.stats().punches == 1);
  CHECK(d.core.reflexive().behind_nat(d.now));
  // Once proven, pings go to that endpoint alone.
  const auto later = d.next_pings_to(d.a);
  REQUIRE_FALSE(later.empty());
  for (const Transmit& t : later) CHECK(t.to == outside(8, 50000));
}

TEST_CASE("a member that works pings us from a new endpoint: one check there moves it") {
  Driver d;
  d.learn(d.a, ep(2), {outside(8, 50000)});
  const auto first = d.next_pings_to(d.a);
  REQUIRE_FALSE(first.empty());
  d.feed(d.a, outside(8, 50000), d.ack(Driver::decoded(first[0]).ping().seq()));
  REQUIRE(d.core.find(d.a)->path.works());
  // a's router restarted and mapped it elsewhere; its next ping to us comes from there.
  auto ping_from = [&](const Endpoint& at) {
    proto::Envelope ping;
    ping.mutable_ping()->set_seq(9);
    ping.mutable_ping()->set_target(to_proto_bytes(d.us));
    std::vector<Transmit> checks;
    for (Transmit& t : d.feed(d.a, at, ping))
      if (Driver::decoded(t).has_ping()) checks.push_back(t);
    return checks;
  };
  const auto checks = ping_from(outside(8, 50001));
  REQUIRE(checks.size() == 1);
  CHECK(checks[0].to == outside(8, 50001));
  CHECK(d.core.find(d.a)->path.reach == outside(8, 50000));  // not moved by its ping alone
  // More pings from other endpoints within the probe interval buy no more checks.
  CHECK(ping_from(outside(8, 50002)).empty());
  // The check's ack, from there, moves the path.
  d.feed(d.a, outside(8, 50001), d.ack(Driver::decoded(checks[0]).ping().seq()));
  CHECK(d.core.find(d.a)->path.reach == outside(8, 50001));
  CHECK(d.core.find(d.a)->path.works());
  CHECK(d.core.stats().hint_checks == 1);
}

TEST_CASE("a ping that holds us at an older incarnation gets our alive in its ack") {
  // Across NATs gossip may never bring our new advertisement (a relay flag, new candidates)
  // to a member we cannot reach; its probes of us say what it holds, and the ack tells it.
  Driver d{.us_incarnation = 5};
  auto ping_at = [&](std::optional<uint64_t> known) {
    proto::Envelope ping;
    ping.mutable_ping()->set_seq(9);
    ping.mutable_ping()->set_target(to_proto_bytes(d.us));
    if (known) ping.mutable_ping()->set_known_incarnation(*known);
    const auto out = d.feed(d.a, ep(2), ping);
    REQUIRE(out.size() == 1);
    int alives_of_us = 0;
    const proto::Envelope ack = Driver::decoded(out[0]);
    for (const auto& u : ack.updates())
      if (u.has_alive() && u.alive().node() == to_proto_bytes(d.us)) ++alives_of_us;
    return alives_of_us;
  };
  // Our own announcement rides on our first packets; spend its retransmits first.
  for (int i = 0; i < 20 && ping_at(std::nullopt) > 0; ++i) {
  }
  REQUIRE(ping_at(std::nullopt) == 0);
  CHECK(ping_at(4) == 1);
  CHECK(ping_at(5) == 0);             // up to date
  CHECK(ping_at(std::nullopt) == 0);  // an older prober asks nothing
  CHECK(d.core.stats().stale_views_answered == 1);
  // And our own probes say what we hold.
  d.learn(d.a, ep(2));
  const auto pings = d.next_pings_to(d.a);
  REQUIRE_FALSE(pings.empty());
  CHECK(Driver::decoded(pings[0]).ping().known_incarnation() == 1);
}

TEST_CASE(
    "a member behind NAT that we hold suspect or dead, with no way to it, hears it via a relay") {
  // Our reminders of a suspicion go to the suspect, and nothing at all goes to a member we
  // declared dead in a partition that nobody else did: behind its NAT it never hears, and
  // it refutes only once a relay carries our word to it (a reminder, or a reconnect try).
  Driver d;
  const Endpoint relay_at = ep(3);
  d.learn(d.b, relay_at, {}, /*relay=*/true);  // b: public and a relay
  d.learn(d.a, ep(2), {outside(9, 20000)});    // a: behind a NAT
  proto::Envelope accusation;
  MemberState held = MemberState::kSuspect;
  SUBCASE("suspect") {
    auto* suspect = accusation.add_updates()->mutable_suspect();
    suspect->set_node(to_proto_bytes(d.a));
    suspect->set_incarnation(1);
    suspect->set_from(to_proto_bytes(d.b));
  }
  SUBCASE("dead") {
    held = MemberState::kDead;
    auto* dead = accusation.add_updates()->mutable_dead();
    dead->set_node(to_proto_bytes(d.a));
    dead->set_incarnation(1);
    dead->set_from(to_proto_bytes(d.us));
  }
  d.feed(d.b, relay_at, accusation);
  REQUIRE(d.core.find(d.a)->state == held);
  // Our pings to a go unanswered; the relay answers every ping of ours.
  const auto carried = d.next_accusation_through(d.b, relay_at, d.a);
  REQUIRE(carried);
  CHECK(carried->indirect_ping().accused_at() == 1);
  CHECK(d.core.stats().accusations_through_relays >= 1);
  REQUIRE(d.core.find(d.b)->state == MemberState::kAlive);
  // The relay forwards a's refutation with its ack: a is back.
  proto::Envelope forwarded = d.ack(carried->indirect_ping().seq());
  *forwarded.add_updates()->mutable_alive() = Driver::alive_of(d.a, 2, ep(2));
  d.feed(d.b, relay_at, forwarded);
  CHECK(d.core.find(d.a)->state == MemberState::kAlive);
}

TEST_CASE("a helper carries the prober's accusation to the target, and does not take it up") {
  Driver d;  // we are the helper; a the prober, b the target
  d.learn(d.a, ep(2));
  d.learn(d.b, ep(3));
  proto::Envelope ask;
  ask.mutable_indirect_ping()->set_seq(7);
  ask.mutable_indirect_ping()->set_target(to_proto_bytes(d.b));
  to_proto(ep(3), *ask.mutable_indirect_ping()->mutable_target_addr());
  ask.mutable_indirect_ping()->set_accused_at(1);
  int accusations = 0;
  for (const Transmit& t : d.feed(d.a, ep(2), ask)) {
    const proto::Envelope e = Driver::decoded(t);
    if (!e.has_ping() || t.to != ep(3)) continue;
    for (const auto& u : e.updates())
      if (u.has_suspect() && u.suspect().node() == to_proto_bytes(d.b) &&
          u.suspect().incarnation() == 1 && u.suspect().from() == to_proto_bytes(d.a))
        ++accusations;
  }
  CHECK(accusations == 1);
  CHECK(d.core.find(d.b)->state == MemberState::kAlive);
}

TEST_CASE("a helper names the prober's endpoints, and the target acks the prober there") {
  // We help: b asks us to probe a. Its request came from b's reflexive address.
  Driver helper;
  helper.learn(helper.a, ep(2));
  helper.learn(helper.b, ep(3), {outside(4, 20000)});
  proto::Envelope ask;
  auto* ip = ask.mutable_indirect_ping();
  ip->set_seq(31);
  ip->set_target(to_proto_bytes(helper.a));
  to_proto(ep(2), *ip->mutable_target_addr());
  const auto out = helper.feed(helper.b, outside(4, 20000), ask);
  REQUIRE_FALSE(out.empty());
  const proto::Envelope relayed = Driver::decoded(out[0]);
  CHECK(out[0].to == ep(2));
  CHECK(relayed.ping().punch_seq() == 31);
  std::vector<Endpoint> named;
  for (const auto& a : relayed.ping().punch_to()) named.push_back(*from_proto(a));
  CHECK(named.front() == outside(4, 20000));  // where b's request came from, first
  CHECK(std::find(named.begin(), named.end(), ep(3)) != named.end());
  CHECK(helper.core.stats().relayed_probes == 1);

  // We are the target: the relayed ping makes us ack the helper and, straight, the prober.
  Driver target;
  proto::Envelope ping = relayed;
  ping.mutable_ping()->set_target(to_proto_bytes(target.us));
  const auto acks = target.feed(target.a, ep(5), ping);
  REQUIRE(acks.size() == 1 + named.size());
  CHECK(acks[0].to == ep(5));
  CHECK(Driver::decoded(acks[0]).ack().seq() == relayed.ping().seq());
  for (size_t i = 1; i < acks.size(); ++i) {
    CHECK(acks[i].to == named[i - 1]);
    CHECK(Driver::decoded(acks[i]).ack().seq() == 31);
  }
  CHECK(target.core.stats().punch_acks_sent == named.size());
}

TEST_CASE("wire: candidates and punch lists are capped") {
  Rng rng(9);
  proto::Envelope e;
  e.set_sender(to_proto_bytes(NodeId::random(rng)));
  e.mutable_ping()->set_seq(1);
  e.mutable_ping()->set_target(to_proto_bytes(NodeId::random(rng)));
  for (size_t i = 0; i <= kMaxCandidates; ++i)
    to_proto(ep(static_cast<uint8_t>(i + 1)), *e.mutable_ping()->add_punch_to());
  proto::Envelope out;
  auto r = decode(encode(e), {65507, 512, 128, 1000}, out);
  REQUIRE_FALSE(r);
  CHECK(r.error() == DropReason::kInvalid);
  e.mutable_ping()->mutable_punch_to()->RemoveLast();
  CHECK(decode(encode(e), {65507, 512, 128, 1000}, out));
}

TEST_CASE("a member held dead that speaks to us: a push-pull if it takes streams, else told") {
  // After a heal, a member we still hold dead sends us a packet. One with no NAT in front
  // gets a push-pull at its address (the exchange shows it its death, or brings its newer
  // incarnation). One behind NAT takes no stream, and its address is a LAN address: it is
  // told where its packet came from, in a datagram, that we hold it dead, so it refutes.
  Driver d;
  const Endpoint lan = ep(50), mapped = outside(9, 40001);
  d.learn(d.a, lan, {outside(9, 40000)});  // behind NAT: it advertises a candidate
  d.learn(d.b, ep(3));                     // public
  for (const NodeId& id : {d.a, d.b}) {
    proto::Envelope dead;
    auto* u = dead.add_updates()->mutable_dead();
    u->set_node(to_proto_bytes(id));
    u->set_incarnation(1);
    u->set_from(to_proto_bytes(d.us));
    d.feed(d.b == id ? d.a : d.b, ep(3), dead);
  }
  REQUIRE(d.core.find(d.a)->state == MemberState::kDead);
  REQUIRE(d.core.find(d.b)->state == MemberState::kDead);

  proto::Envelope ping;
  ping.mutable_ping()->set_seq(1);
  ping.mutable_ping()->set_target(to_proto_bytes(d.us));
  bool told = false, streamed = false;
  for (const Transmit& t : d.feed(d.a, mapped, ping)) {
    streamed |= t.kind == Transmit::Kind::kStream;
    if (t.kind != Transmit::Kind::kDatagram || t.to != mapped) continue;
    const proto::Envelope e = Driver::decoded(t);
    for (const auto& u : e.updates())
      told |= u.has_dead() && u.dead().node() == to_proto_bytes(d.a) && u.dead().incarnation() == 1;
  }
  CHECK(told);
  CHECK_FALSE(streamed);
  CHECK(d.core.stats().revive_syncs == 1);

  bool pushed = false;
  for (const Transmit& t : d.feed(d.b, ep(3), ping))
    pushed |= t.kind == Transmit::Kind::kStream && t.to == ep(3);
  CHECK(pushed);
  CHECK(d.core.stats().revive_syncs == 2);
}

TEST_CASE("behind a symmetric NAT, only our relays' packets put off a mapping refresh") {
  // After a restart of our router, members we pinged lately still reach us on the fresh
  // mappings those pings made; our relays, which everyone else reaches us through, do not.
  // Returns how many mapping refreshes 6 s of pings from `sender` bring, one each 500 ms.
  auto refreshes_while_pinged_by = [](bool sender_is_relay) {
    Driver d;
    std::map<Endpoint, NodeId> at;
    for (uint8_t i = 0; i < 3; ++i) {
      const NodeId relay = NodeId::random(d.rng);
      at[outside(11 + i, 7946)] = relay;
      d.learn(relay, outside(11 + i, 7946), {}, /*relay=*/true);
    }
    at[outside(14, 7946)] = d.a;  // a public member that relays for nobody
    d.learn(d.a, outside(14, 7946));
    // Every member acks every ping and sees us at a port of its own: a symmetric NAT.
    auto step = [&] {
      d.now += 100ms;
      d.core.handle_timeout(d.now);
      for (const Transmit& t : d.drain()) {
        const auto member = at.find(t.to);
        if (t.kind != Transmit::Kind::kDatagram || member == at.end()) continue;
        const proto::Envelope e = Driver::decoded(t);
        if (!e.has_ping()) continue;
        const auto seen = outside(9, static_cast<uint16_t>(60000 + t.to.address.view()[3]));
        d.feed(member->second, t.to, d.ack(e.ping().seq(), seen));
      }
    };
    for (int i = 0; i < 300 && !(d.core.reflexive().symmetric() && d.core.find(d.a)->path.works());
         ++i)
      step();
    REQUIRE(d.core.reflexive().symmetric());
    REQUIRE(d.core.find(d.a)->path.works());
    for (int i = 0; i < 15; ++i) step();  // the refresh that follows the verdict
    proto::Envelope ping;
    ping.mutable_ping()->set_seq(77);
    ping.mutable_ping()->set_target(to_proto_bytes(d.us));
    const NodeId sender = sender_is_relay ? at.begin()->second : d.a;
    d.feed(at.begin()->second, at.begin()->first, ping);  // our relays reach us now
    const uint64_t before = d.core.stats().mapping_refreshes;
    for (int i = 0; i < 60; ++i) {
      step();
      if (i % 5 == 4) d.feed(sender, sender_is_relay ? at.begin()->first : outside(14, 7946), ping);
    }
    return d.core.stats().mapping_refreshes - before;
  };
  CHECK(refreshes_while_pinged_by(/*relay=*/true) == 0);
  CHECK(refreshes_while_pinged_by(/*relay=*/false) > 0);  // 3 s without our relays
}
