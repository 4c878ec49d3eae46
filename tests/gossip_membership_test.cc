// The gossip core driven by hand (exact messages) and on the simulator (small clusters).
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "chaos/simulator.h"
#include "gossip/membership.h"
#include "gossip/wire.h"

using namespace shoal;
using namespace shoal::gossip;

namespace {

const Endpoint kA{IpAddress::v4(192, 0, 2, 1), 7946};
const Endpoint kB{IpAddress::v4(192, 0, 2, 2), 7946};

struct Solo {
  Rng rng{11};
  NodeId id = NodeId::random(rng);
  NodeId other = NodeId::random(rng);
  Membership core{Config::lan(), LocalNode{id, "a", kA, {}, 0}, 5, kTimeZero};

  // Feeds one envelope from `other` at kB and returns what the core answered.
  std::vector<Transmit> feed(proto::Envelope e, TimePoint now = kTimeZero + 1ms) {
    e.set_sender(to_proto_bytes(other));
    core.handle_packet(now, kB, encode(e));
    std::vector<Transmit> out;
    while (auto t = core.poll_transmit()) out.push_back(std::move(*t));
    return out;
  }
  // A ping for us, as `other` would send it.
  proto::Envelope ping_for_us(uint32_t seq) const {
    proto::Envelope ping;
    ping.mutable_ping()->set_seq(seq);
    ping.mutable_ping()->set_target(to_proto_bytes(id));
    return ping;
  }
  // Feeds `other`'s alive message (at kB, named "b") with incarnation `inc`.
  void feed_alive_of_other(uint64_t inc) { feed_alive(other, inc, kB, "b"); }
  // Feeds an alive of `node` at `inc`, told by `other`, at `now`.
  void feed_alive(const NodeId& node, uint64_t inc, const Endpoint& at, const std::string& name,
                  TimePoint now = kTimeZero + 1ms) {
    proto::Envelope e;
    auto* a = e.add_updates()->mutable_alive();
    a->set_node(to_proto_bytes(node));
    a->set_incarnation(inc);
    to_proto(at, *a->mutable_addr());
    a->set_name(name);
    feed(e, now);
  }
  // An envelope carrying a suspicion of `node` at incarnation `inc`. The accuser is `other`
  // when `node` is us, else us (the accuser only counts for confirmations).
  proto::Envelope accusation(const NodeId& node, uint64_t inc) const {
    proto::Envelope e;
    auto* u = e.add_updates()->mutable_suspect();
    u->set_node(to_proto_bytes(node));
    u->set_incarnation(inc);
    u->set_from(to_proto_bytes(node == id ? other : id));
    return e;
  }
  proto::Envelope decoded(const Transmit& t) {
    proto::Envelope e;
    REQUIRE(decode(t.payload, {65507, 512, 128, 1000}, e));
    return e;
  }
};

}  // namespace

TEST_CASE("a ping for us is acked with its sequence number, with our alive piggybacked") {
  Solo s;
  auto out = s.feed(s.ping_for_us(42));
  REQUIRE(out.size() == 1);
  CHECK(out[0].to == kB);
  CHECK(out[0].kind == Transmit::Kind::kDatagram);
  proto::Envelope ack = s.decoded(out[0]);
  CHECK(ack.ack().seq() == 42);
  REQUIRE(ack.updates_size() >= 1);
  CHECK(ack.updates(0).alive().node() == to_proto_bytes(s.id));
}

TEST_CASE("membership updates go before the layer above's in a full packet") {
  Solo s;
  s.feed_alive_of_other(1);  // news of a member: queued first
  // A lease-sized user update, newer, that leaves no room for anything else.
  s.core.broadcast_user(s.other, Bytes(Config::lan().max_packet_bytes - 60, 7));
  auto out = s.feed(s.ping_for_us(1));
  REQUIRE(out.size() == 1);
  proto::Envelope ack = s.decoded(out[0]);
  bool carried_alive = false;
  for (const auto& u : ack.updates())
    if (u.has_alive() && u.alive().node() == to_proto_bytes(s.other)) carried_alive = true;
  CHECK(carried_alive);
}

TEST_CASE("a join answer's recent members are re-gossiped, the others applied silently") {
  Solo s;
  Rng rng(5);
  const NodeId fresh = NodeId::random(rng), old = NodeId::random(rng);
  proto::Envelope answer;  // the seed (s.other, at kB) answers our join
  auto* pp = answer.mutable_push_pull();
  pp->set_join(true);
  pp->set_reply(true);
  pp->set_round(1);
  auto add = [&](const NodeId& id, std::string name, uint8_t host, bool recent) {
    auto* m = pp->add_members();
    m->set_node(to_proto_bytes(id));
    m->set_name(std::move(name));
    to_proto(Endpoint{IpAddress::v4(192, 0, 2, host), 7946}, *m->mutable_addr());
    m->set_incarnation(1);
    m->set_status(proto::MEMBER_STATUS_ALIVE);
    m->set_recent(recent);
  };
  add(s.other, "seed", 2, false);
  add(fresh, "fresh", 3, true);
  add(old, "old", 4, false);
  answer.set_sender(to_proto_bytes(s.other));
  s.core.handle_stream(kTimeZero + 1ms, kB, gossip::StreamId{1}, encode(answer));
  REQUIRE(s.core.find(fresh));
  REQUIRE(s.core.find(old));

  auto out = s.feed(s.ping_for_us(1), kTimeZero + 2ms);
  REQUIRE(!out.empty());
  std::set<std::string> gossiped;
  const proto::Envelope ack = s.decoded(out.back());
  for (const auto& u : ack.updates())
    if (u.has_alive()) gossiped.insert(u.alive().name());
  CHECK(gossiped.count("fresh") == 1);
  CHECK(gossiped.count("seed") == 1);  // the seed's own record always
  CHECK(gossiped.count("old") == 0);
}

TEST_CASE("a ping for another node id is dropped and counted") {
  Solo s;
  proto::Envelope ping;
  ping.mutable_ping()->set_seq(1);
  ping.mutable_ping()->set_target(to_proto_bytes(s.other));
  CHECK(s.feed(ping).empty());
  CHECK(s.core.stats().dropped_wrong_target == 1);
}

TEST_CASE("garbage is dropped, counted by reason, and changes nothing") {
  Solo s;
  // Version 0 is below every reader's min. (A version above ours would be parsed.)
  const Bytes garbage[] = {{}, {0x00, 1, 2}, {kWireVersionMax, 0xff, 0xff, 0xff}, Bytes(70000, 1)};
  for (const Bytes& g : garbage) s.core.handle_packet(kTimeZero, kB, g);
  const Stats& st = s.core.stats();
  CHECK(st.dropped_empty == 1);
  CHECK(st.dropped_bad_version == 1);
  CHECK(st.dropped_malformed == 1);
  CHECK(st.dropped_oversized == 1);
  CHECK(s.core.size() == 1);
  CHECK_FALSE(s.core.poll_event());
  // A push-pull over a datagram is refused: it belongs on a stream.
  proto::Envelope pp;
  pp.mutable_push_pull()->set_join(true);
  CHECK(s.feed(pp).empty());
  CHECK(st.dropped_invalid == 1);
}

TEST_CASE("an accusation against us is refuted with a higher incarnation") {
  Solo s;
  s.feed(s.accusation(s.id, 5));
  CHECK(s.core.self().incarnation == 6);
  CHECK(s.core.self().state == MemberState::kAlive);
  CHECK(s.core.stats().refutations == 1);
  CHECK(s.core.health_score() == 1);  // Lifeguard: accused, so maybe we are the slow one
}

TEST_CASE("an accusation we already refuted is answered again, in the ack that carries it") {
  Solo s;
  const proto::Envelope accusation = s.accusation(s.id, 5);
  s.feed(accusation);
  REQUIRE(s.core.self().incarnation == 6);
  for (int i = 0; i < 12; ++i) s.core.handle_timeout(kTimeZero + 200ms * (i + 1));  // sent out
  while (s.core.poll_transmit()) {
  }

  // Whoever pings us still holds the old suspicion: the ack tells it about incarnation 6.
  proto::Envelope ping = s.ping_for_us(9);
  *ping.add_updates() = accusation.updates(0);
  auto out = s.feed(ping, kTimeZero + 3s);
  REQUIRE(out.size() == 1);
  const proto::Envelope ack = s.decoded(out[0]);
  CHECK(ack.ack().seq() == 9);
  bool announced = false;
  for (const auto& u : ack.updates())
    announced |=
        u.has_alive() && u.alive().node() == to_proto_bytes(s.id) && u.alive().incarnation() == 6;
  CHECK(announced);
  CHECK(s.core.self().incarnation == 6);  // no new refutation for an old accusation
  CHECK(s.core.stats().refutations == 1);
  CHECK(s.core.stats().stale_accusations == 1);
}

TEST_CASE("alive, suspect and dead follow incarnation order") {
  Solo s;
  auto alive = [&](uint64_t inc) { s.feed_alive_of_other(inc); };
  auto suspect = [&](uint64_t inc) { s.feed(s.accusation(s.other, inc)); };
  alive(1);
  REQUIRE(s.core.find(s.other));
  CHECK(s.core.poll_event()->kind == Event::Kind::kJoined);
  suspect(0);  // stale
  CHECK(s.core.find(s.other)->state == MemberState::kAlive);
  suspect(1);
  CHECK(s.core.find(s.other)->state == MemberState::kSuspect);
  CHECK(s.core.poll_event()->kind == Event::Kind::kSuspect);
  alive(1);  // same incarnation does not clear a suspicion
  CHECK(s.core.find(s.other)->state == MemberState::kSuspect);
  alive(2);  // a refutation does
  CHECK(s.core.find(s.other)->state == MemberState::kAlive);
  CHECK(s.core.poll_event()->kind == Event::Kind::kAlive);
  // Unrefuted, the suspicion becomes a death at its deadline.
  suspect(2);
  const TimePoint deadline = s.core.next_timeout();
  for (TimePoint t = kTimeZero; t < kTimeZero + 120s; t += 100ms) s.core.handle_timeout(t);
  CHECK(s.core.find(s.other)->state == MemberState::kDead);
  CHECK(deadline > kTimeZero);
  CHECK(s.core.stats().declared_dead == 1);
}

namespace {

struct Cluster {
  chaos::Simulator sim{99};
  explicit Cluster(size_t n) {
    for (size_t i = 0; i < n; ++i) sim.add_node(Config::lan());
    for (chaos::NodeIndex i = 0; i < n; ++i) sim.start(i, {0});
  }
  bool converged() const {
    for (chaos::NodeIndex i = 0; i < sim.size(); ++i)
      if (sim.is_up(i) && sim.core(i)->count(MemberState::kAlive) != sim.size()) return false;
    return true;
  }
};

struct StateCounter : StateDelegate {
  std::string mine;
  std::vector<std::string> heard;
  Bytes local_state(bool) override { return Bytes(mine.begin(), mine.end()); }
  std::optional<Bytes> merge_remote_state(ByteView state, bool, uint32_t round) override {
    heard.emplace_back(as_chars(state));
    rounds.push_back(round);
    // Answer the opening, and the answer once more: three rounds in all.
    if (round >= 2) return std::nullopt;
    return Bytes(mine.begin(), mine.end());
  }
  std::vector<uint32_t> rounds;
};

}  // namespace

TEST_CASE("three members join, carry user messages and meta, and see a leave") {
  Cluster c(3);
  REQUIRE(c.sim.run_until([&] { return c.converged(); }, kTimeZero + 10s));

  std::set<chaos::NodeIndex> got;  // who heard it; duplicates are normal for gossip
  const std::string hello = "lease-record";
  c.sim.on_event([&](TimePoint, chaos::NodeIndex at, const Event& e) {
    if (e.kind == Event::Kind::kUserMessage && as_chars(e.data) == hello) got.insert(at);
  });
  c.sim.core(0)->broadcast_user(c.sim.id(0), Bytes(hello.begin(), hello.end()));
  c.sim.core(1)->set_meta(c.sim.now(), Bytes{1, 2, 3});
  c.sim.run_for(5s);
  CHECK(got == std::set<chaos::NodeIndex>{1, 2});
  CHECK(c.sim.core(2)->find(c.sim.id(1))->meta == Bytes{1, 2, 3});

  c.sim.leave(2);
  c.sim.run_for(3s);
  CHECK(c.sim.core(2)->leave_announced());
  CHECK(c.sim.core(0)->find(c.sim.id(2))->state == MemberState::kLeft);
  CHECK(c.sim.core(1)->find(c.sim.id(2))->state == MemberState::kLeft);
}

TEST_CASE("push-pull carries the state delegate's data both ways") {
  chaos::Simulator sim(5);
  sim.add_node(Config::lan());
  sim.add_node(Config::lan());
  StateCounter d0, d1;
  d0.mine = "zero";
  d1.mine = "one";
  sim.start(0, {});
  sim.core(0)->set_state_delegate(&d0);
  sim.at(kTimeZero + 1ms, [&] {
    sim.start(1, {0});  // join() push-pulls before we can attach: attach and push again below
  });
  sim.run_for(1s);
  d0.rounds.clear();
  d0.heard.clear();
  sim.core(1)->set_state_delegate(&d1);
  sim.core(1)->join(sim.now(), {sim.address(0)});
  sim.run_for(500ms);
  // 1 opens (round 0), 0 answers (round 1), 1 sends round 2, 0 ends the exchange.
  CHECK(d0.rounds == std::vector<uint32_t>{0, 2});
  CHECK(d1.rounds == std::vector<uint32_t>{1});
  CHECK(d0.heard == std::vector<std::string>{"one", "one"});
  CHECK(std::count(d1.heard.begin(), d1.heard.end(), "zero") == 1);
}

namespace {

// A delegate with a fixed digest that asks for a sync whenever a peer's digest differs.
struct Digester : StateCounter {
  std::string summary;
  std::vector<std::string> digests_heard;
  Bytes state_digest() override { return Bytes(summary.begin(), summary.end()); }
  bool wants_sync_after(ByteView digest) override {
    digests_heard.emplace_back(as_chars(digest));
    return as_chars(digest) != summary;
  }
};

}  // namespace

TEST_CASE("probe acks carry the state digest; only a differing one starts a state sync") {
  for (const bool differ : {false, true}) {
    CAPTURE(differ);
    chaos::Simulator sim(9);
    sim.add_node(Config::lan());
    sim.add_node(Config::lan());
    Digester d0, d1;
    d0.mine = "zero";
    d1.mine = "one";
    d0.summary = "h1";
    d1.summary = differ ? "h2" : "h1";
    sim.start(0, {});
    sim.at(kTimeZero + 1ms, [&] { sim.start(1, {0}); });
    sim.run_for(3s);  // joined, and past the early push-pull that follows a join
    sim.core(0)->set_state_delegate(&d0);
    sim.core(1)->set_state_delegate(&d1);
    sim.run_for(5s);  // about five probes each way, far less than the push-pull interval
    REQUIRE(d0.digests_heard.size() >= 3);
    CHECK(d0.digests_heard.front() == d1.summary);
    CHECK(d1.digests_heard.front() == d0.summary);
    if (differ) {
      CHECK(std::count(d1.rounds.begin(), d1.rounds.end(), 0u) >= 3);  // d0 opened syncs
      CHECK(std::count(d0.heard.begin(), d0.heard.end(), "one") >= 3);
    } else {
      CHECK(d0.heard.empty());
      CHECK(d1.heard.empty());
    }
  }
}

namespace {

// `other` joins at incarnation 1 and is suspected at `t0`; returns the suspicion's minimum
// timeout (no confirmations in a two-member view).
Duration start_suspicion_of_other(Solo& s, TimePoint t0) {
  s.feed_alive_of_other(1);
  s.feed(s.accusation(s.other, 1), t0);
  return suspicion_timeout(s.core.config().suspicion_mult, 2, s.core.config().probe_interval);
}

void run_timeouts(Solo& s, TimePoint from, TimePoint to) {
  for (TimePoint t = from; t <= to; t += 100ms) s.core.handle_timeout(t);
  while (s.core.poll_transmit()) {
  }
}

// Runs timers every 10 ms from `from` until `done(t)`, passing each ping to the other member
// to `seen(ping, t)`; fails the test if `done` is not reached by `to`.
template <typename Seen, typename Done>
TimePoint run_watching_pings(Solo& s, TimePoint from, TimePoint to, Seen seen, Done done) {
  for (TimePoint t = from; t <= to; t += 10ms) {
    s.core.handle_timeout(t);
    while (auto tx = s.core.poll_transmit()) {
      if (tx->kind != Transmit::Kind::kDatagram || tx->to != kB) continue;
      const proto::Envelope e = s.decoded(*tx);
      if (e.has_ping() && e.ping().target() == to_proto_bytes(s.other)) seen(e.ping(), t);
    }
    if (done(t)) return t;
  }
  FAIL("the awaited step did not come by " << to_seconds(to) << " s");
  return to;
}

}  // namespace

TEST_CASE("a suspect at a higher incarnation is a new suspicion with a fresh timeout") {
  Solo s;
  const TimePoint t0 = kTimeZero + 1ms;
  const Duration timeout = start_suspicion_of_other(s, t0);
  const TimePoint t1 = t0 + timeout / 2;
  run_timeouts(s, t0, t1);
  s.feed(s.accusation(s.other, 2), t1);  // it refuted 1 (we missed that) and was accused again
  CHECK(s.core.find(s.other)->incarnation == 2);
  // memberlist would count this as a confirmation of the first suspicion and end it at
  // t0 + timeout: a death the member had refuted.
  run_timeouts(s, t1, t0 + timeout + 200ms);
  CHECK(s.core.find(s.other)->state == MemberState::kSuspect);
  CHECK(s.core.stats().suspicions_started == 1);  // still one suspect event for the log
  run_timeouts(s, t0 + timeout + 300ms, t1 + timeout + 200ms);
  CHECK(s.core.find(s.other)->state == MemberState::kDead);
}

TEST_CASE("a suspicion still held at half its minimum timeout is probed once more") {
  Solo s;
  const TimePoint t0 = kTimeZero + 1ms;
  const Duration timeout = start_suspicion_of_other(s, t0);
  run_timeouts(s, t0, t0 + timeout / 2 - 200ms);
  CHECK(s.core.stats().suspicion_rechecks == 0);
  // The recheck's ping carries the accusation; the member's answer refutes it.
  bool ping_carried_suspicion = false;
  // (Our failed probes of it raise our health score, which spaces probes out: wait up to the
  // deadline for the next probe slot.)
  for (TimePoint t = t0 + timeout / 2 - 100ms; t < t0 + timeout - 100ms; t += 100ms) {
    s.core.handle_timeout(t);
    while (auto tx = s.core.poll_transmit()) {
      proto::Envelope e = s.decoded(*tx);
      if (!e.has_ping()) continue;
      for (const auto& u : e.updates()) ping_carried_suspicion |= u.has_suspect();
    }
  }
  CHECK(s.core.stats().suspicion_rechecks == 1);
  CHECK(ping_carried_suspicion);
}

TEST_CASE("a helper nacks early enough for the prober to count it") {
  Solo s;
  s.feed_alive_of_other(1);
  const NodeId target = NodeId::random(s.rng);
  proto::Envelope ask;
  auto* ip = ask.mutable_indirect_ping();
  ip->set_seq(7);
  ip->set_target(to_proto_bytes(target));
  to_proto(Endpoint{IpAddress::v4(192, 0, 2, 3), 7946}, *ip->mutable_target_addr());
  ip->set_want_nack(true);
  const TimePoint t0 = kTimeZero + 1ms;
  REQUIRE_FALSE(s.feed(ask, t0).empty());  // the ping to the target

  // The prober decides (probe_interval - probe_timeout) after it asked; the nack must leave
  // before that, with room for the way back.
  const Config& c = s.core.config();
  const Duration window = c.probe_interval - c.probe_timeout;
  std::optional<TimePoint> nacked_at;
  for (TimePoint t = t0; t < t0 + window && !nacked_at; t += 10ms) {
    s.core.handle_timeout(t);
    while (auto tx = s.core.poll_transmit()) {
      const proto::Envelope e = s.decoded(*tx);
      if (e.has_nack() && e.nack().seq() == 7) nacked_at = t;
    }
  }
  REQUIRE(nacked_at);
  CHECK(*nacked_at - t0 <= window * 9 / 10);
}

namespace {

// An alive of `node` at kB's neighbour `host`, advertising `versions` (none: an old build).
proto::Envelope alive_of(const NodeId& node, uint8_t host, uint64_t inc,
                         std::optional<VersionRange> versions) {
  proto::Envelope e;
  auto* a = e.add_updates()->mutable_alive();
  a->set_node(to_proto_bytes(node));
  a->set_incarnation(inc);
  to_proto(Endpoint{IpAddress::v4(192, 0, 2, host), 7946}, *a->mutable_addr());
  if (versions) {
    a->set_version_min(versions->min);
    a->set_version_max(versions->max);
  }
  return e;
}

}  // namespace

TEST_CASE("a member writes at the newest version all its live peers read") {
  Rng rng(12);
  const NodeId me = NodeId::random(rng), peer = NodeId::random(rng), old = NodeId::random(rng);
  Config config = Config::lan();
  config.wire_versions = {1, 2};
  Membership core{config, LocalNode{me, "a", kA, {}, 0}, 5, kTimeZero};
  auto feed = [&](proto::Envelope e) {
    e.set_sender(to_proto_bytes(peer));
    core.handle_packet(kTimeZero + 1ms, kB, encode(e, 1));
  };
  CHECK(core.wire_version() == 1);  // alone: the seeds' ranges are unknown
  feed(alive_of(peer, 2, 1, VersionRange{1, 2}));
  CHECK(core.wire_version() == 2);
  feed(alive_of(old, 3, 1, std::nullopt));  // a build from before version ranges
  CHECK(core.wire_version() == 1);
  while (core.poll_transmit()) {
  }
  proto::Envelope ping;
  ping.mutable_ping()->set_seq(1);
  ping.mutable_ping()->set_target(to_proto_bytes(me));
  feed(ping);
  auto ack = core.poll_transmit();
  REQUIRE(ack);
  CHECK(ack->payload[0] == 1);

  proto::Envelope dead;
  auto* d = dead.add_updates()->mutable_dead();
  d->set_node(to_proto_bytes(old));
  d->set_incarnation(1);
  d->set_from(to_proto_bytes(peer));
  feed(dead);
  CHECK(core.wire_version() == 2);  // the old member is gone: the cluster moves up
  while (core.poll_transmit()) {
  }
  feed(ping);
  ack = core.poll_transmit();
  REQUIRE(ack);
  CHECK(ack->payload[0] == 2);
}

TEST_CASE("an upgraded member refutes its old life's range") {
  Rng rng(13);
  const NodeId me = NodeId::random(rng), peer = NodeId::random(rng);
  Config config = Config::lan();
  config.wire_versions = {1, 2};
  Membership core{config, LocalNode{me, "a", kA, {}, 0}, 5, kTimeZero};
  // The cluster still holds our alive from before the upgrade: same incarnation, old range.
  proto::Envelope e = alive_of(me, 1, 0, VersionRange{1, 1});
  e.set_sender(to_proto_bytes(peer));
  core.handle_packet(kTimeZero + 1ms, kB, encode(e, 1));
  CHECK(core.self().incarnation == 1);
  CHECK(core.stats().refutations == 1);
}

namespace {

proto::Envelope ping_with_doubt(const Solo& s, const NodeId& node, uint64_t inc) {
  proto::Envelope ping = s.ping_for_us(7);
  auto* doubt = ping.mutable_ping()->add_doubts();
  doubt->set_node(to_proto_bytes(node));
  doubt->set_incarnation(inc);
  return ping;
}

const Endpoint kC{IpAddress::v4(192, 0, 2, 3), 7946};

}  // namespace

TEST_CASE("a doubt about a member we know alive at a newer incarnation is answered in the ack") {
  Solo s;
  const NodeId c = NodeId::random(s.rng);
  s.feed_alive(c, 3, kC, "c");
  // The prober holds c dead or suspect at 2: c refuted, and the prober missed it.
  auto out = s.feed(ping_with_doubt(s, c, 2));
  REQUIRE(out.size() == 1);
  proto::Envelope ack = s.decoded(out[0]);
  REQUIRE(ack.has_ack());
  REQUIRE(ack.updates_size() >= 1);
  CHECK(ack.updates(0).alive().node() == to_proto_bytes(c));  // first, before any gossip
  CHECK(ack.updates(0).alive().incarnation() == 3);
  CHECK(s.core.stats().doubts_answered == 1);

  // At the incarnation we hold, we know nothing newer: no answer, and a doubt is a
  // question, not an accusation: c stays alive here.
  s.feed(ping_with_doubt(s, c, 3));
  CHECK(s.core.stats().doubts_answered == 1);
  CHECK(s.core.find(c)->state == MemberState::kAlive);
  // Nor is a member we do not know, or hold dead ourselves, answered.
  s.feed(ping_with_doubt(s, NodeId::random(s.rng), 1));
  CHECK(s.core.stats().doubts_answered == 1);
}

TEST_CASE("a doubt about a member that left is answered with its leave") {
  // The prober missed the leave's gossip and holds the leaver suspect: our answer ends that.
  Solo s;
  const NodeId c = NodeId::random(s.rng);
  s.feed_alive(c, 2, kC, "c");
  proto::Envelope leave;
  auto* d = leave.add_updates()->mutable_dead();
  d->set_node(to_proto_bytes(c));
  d->set_incarnation(2);
  d->set_from(to_proto_bytes(c));
  s.feed(leave);
  REQUIRE(s.core.find(c)->state == MemberState::kLeft);

  auto out = s.feed(ping_with_doubt(s, c, 2));
  REQUIRE(out.size() == 1);
  proto::Envelope ack = s.decoded(out[0]);
  REQUIRE(ack.updates_size() >= 1);
  REQUIRE(ack.updates(0).has_dead());
  CHECK(ack.updates(0).dead().node() == to_proto_bytes(c));
  CHECK(ack.updates(0).dead().from() == to_proto_bytes(c));  // a leave, not an accusation
  CHECK(s.core.stats().doubts_answered == 1);
  // A doubt about a later life of it is no question our leave answers.
  s.feed(ping_with_doubt(s, c, 3));
  CHECK(s.core.stats().doubts_answered == 1);

  // The prober, holding c suspect, takes the answer as c's leave.
  Solo prober;
  prober.feed_alive(c, 2, kC, "c");
  prober.feed(prober.accusation(c, 2));
  REQUIRE(prober.core.find(c)->state == MemberState::kSuspect);
  proto::Envelope answer;
  *answer.add_updates() = ack.updates(0);
  prober.feed(answer);
  CHECK(prober.core.find(c)->state == MemberState::kLeft);
}

TEST_CASE("our probes ask about the members we hold dead or suspect") {
  Solo s;
  const NodeId c = NodeId::random(s.rng);
  s.feed_alive(c, 1, kC, "c");
  s.feed_alive_of_other(1);
  proto::Envelope death;
  auto* d = death.add_updates()->mutable_dead();
  d->set_node(to_proto_bytes(c));
  d->set_incarnation(1);
  d->set_from(to_proto_bytes(s.other));
  s.feed(death);
  REQUIRE(s.core.find(c)->state == MemberState::kDead);

  // The only member left to probe is `other`: its ping carries a doubt about c at 1.
  std::optional<proto::Ping> ping;
  for (TimePoint t = kTimeZero + 100ms; t < kTimeZero + 3s && !ping; t += 100ms) {
    s.core.handle_timeout(t);
    while (auto tx = s.core.poll_transmit()) {
      proto::Envelope e = s.decoded(*tx);
      if (e.has_ping()) ping = e.ping();
    }
  }
  REQUIRE(ping);
  REQUIRE(ping->doubts_size() == 1);
  CHECK(ping->doubts(0).node() == to_proto_bytes(c));
  CHECK(ping->doubts(0).incarnation() == 1);

  // Its answer, an alive at 2, brings c back.
  proto::Envelope ack;
  ack.mutable_ack()->set_seq(ping->seq());
  auto* a = ack.add_updates()->mutable_alive();
  a->set_node(to_proto_bytes(c));
  a->set_incarnation(2);
  to_proto(kC, *a->mutable_addr());
  a->set_name("c");
  s.feed(ack, kTimeZero + 3s);
  CHECK(s.core.find(c)->state == MemberState::kAlive);
  CHECK(s.core.find(c)->incarnation == 2);
}

TEST_CASE("a member still suspected at half the minimum timeout hears the accusation again") {
  // Four members, so a suspicion expects confirmations and may last up to its maximum.
  Solo s;
  s.feed_alive_of_other(1);
  s.feed_alive(NodeId::random(s.rng), 1, kC, "c");
  s.feed_alive(NodeId::random(s.rng), 1, Endpoint{IpAddress::v4(192, 0, 2, 4), 7946}, "d");
  const TimePoint t0 = kTimeZero + 1ms;
  s.feed(s.accusation(s.other, 1), t0);
  const Config& config = s.core.config();
  const Duration min = suspicion_timeout(config.suspicion_mult, 4, config.probe_interval);
  run_timeouts(s, t0, t0 + min / 2 - 200ms);
  CHECK(s.core.stats().suspicion_reminders == 0);

  // From half the minimum on, every other probe interval: a ping to it with the accusation.
  int reminders = 0;
  for (TimePoint t = t0 + min / 2 - 100ms; t < t0 + min / 2 + 5 * config.probe_interval;
       t += 100ms) {
    s.core.handle_timeout(t);
    while (auto tx = s.core.poll_transmit()) {
      proto::Envelope e = s.decoded(*tx);
      if (!e.has_ping() || tx->to != kB) continue;
      for (const auto& u : e.updates())
        if (u.has_suspect() && u.suspect().node() == to_proto_bytes(s.other)) ++reminders;
    }
  }
  CHECK(s.core.stats().suspicion_reminders == 3);  // at min/2, min/2 + 2 s and min/2 + 4 s
  CHECK(reminders >= 3);                           // (and any probe of it in between)
  REQUIRE(s.core.find(s.other)->state == MemberState::kSuspect);

  // Its answer refutes: our suspicion ends.
  s.feed_alive_of_other(2);
  CHECK(s.core.find(s.other)->state == MemberState::kAlive);
}

TEST_CASE("a burst of refuted suspicions, like one of revivals, starts heal push-pulls") {
  // A cut shorter than the suspicion timeout kills nobody: its heal is a burst of
  // refutations, which gossip alone spreads slowly at 1,000 members (flapping-link).
  Solo s;
  std::vector<NodeId> others;
  for (uint8_t i = 0; i < 4; ++i) {
    others.push_back(NodeId::random(s.rng));
    s.feed_alive(others.back(), 1, Endpoint{IpAddress::v4(192, 0, 2, 10 + i), 7946}, "m");
  }
  for (const NodeId& m : others) s.feed(s.accusation(m, 1), kTimeZero + 1s);
  REQUIRE(s.core.count(MemberState::kSuspect) == 4);
  for (uint8_t i = 0; i < 4; ++i)
    s.feed_alive(others[i], 2, Endpoint{IpAddress::v4(192, 0, 2, 10 + i), 7946}, "m");
  REQUIRE(s.core.count(MemberState::kSuspect) == 0);
  run_timeouts(s, kTimeZero + 1s, kTimeZero + 3s);
  CHECK(s.core.stats().heal_syncs >= 1);
}

TEST_CASE("in a cluster of fewer than 12, two revivals make a burst") {
  // A site of two hosts coming back is a heal in a small cluster (the short homelab-nat's
  // home b); in a large one, two revivals are two restarts and cost nothing.
  for (const uint8_t members : {5, 15}) {
    CAPTURE(members);
    Solo s;
    std::vector<NodeId> others;
    for (uint8_t i = 0; i < members - 1; ++i) {
      others.push_back(NodeId::random(s.rng));
      s.feed_alive(others.back(), 1, Endpoint{IpAddress::v4(192, 0, 2, 10 + i), 7946}, "m");
    }
    // Past the start's own burst of joins (over five probe intervals after it).
    const TimePoint t = kTimeZero + 6s;
    run_timeouts(s, kTimeZero + 1ms, t - 100ms);
    const uint64_t before = s.core.stats().heal_syncs;
    for (uint8_t i = 0; i < 2; ++i) s.feed(s.accusation(others[i], 1), t);
    for (uint8_t i = 0; i < 2; ++i)
      s.feed_alive(others[i], 2, Endpoint{IpAddress::v4(192, 0, 2, 10 + i), 7946}, "m", t);
    run_timeouts(s, t, t + 3s);
    if (members < 12) {
      CHECK(s.core.stats().heal_syncs > before);
    } else {
      CHECK(s.core.stats().heal_syncs == before);
    }
  }
}

TEST_CASE("refuted suspicions few members share start no heal push-pulls; many at once do") {
  // Under loss a member sees a trickle of suspicions, each refuted within a second, few at
  // a time; a cut or a NAT router's restart makes many suspect together. Only the latter
  // is a heal worth a burst of whole-list push-pulls (suspicion_is_lone: 16 at 640).
  for (const size_t together : {size_t{1}, size_t{20}}) {
    CAPTURE(together);
    Solo s;
    std::vector<NodeId> others;
    for (uint16_t i = 0; i < 639; ++i) {
      others.push_back(NodeId::random(s.rng));
      s.feed_alive(others.back(), 1, Endpoint{IpAddress::v4(192, 0, 2, 10), uint16_t(7000 + i)},
                   "m");
    }
    // Past the start's own burst of joins. The core's own probes go unanswered meanwhile:
    // at one a second, fewer than 16 suspects of its own.
    TimePoint t = kTimeZero + 8s;
    run_timeouts(s, kTimeZero + 1ms, t - 100ms);
    REQUIRE(s.core.count(MemberState::kSuspect) < 16);
    const uint64_t before = s.core.stats().heal_syncs;
    // Eight rounds, 500 ms apart, of `together` members accused and refuted: as many
    // revivals as a heal's burst needs, many times over.
    for (size_t round = 0; round < 8; ++round, t += 500ms) {
      const size_t first = 100 + round * together;
      for (size_t i = first; i < first + together; ++i) s.feed(s.accusation(others[i], 1), t);
      for (size_t i = first; i < first + together; ++i)
        s.feed_alive(others[i], 2, Endpoint{IpAddress::v4(192, 0, 2, 10), uint16_t(7000 + i)}, "m",
                     t + 200ms);
      run_timeouts(s, t + 200ms, t + 400ms);
    }
    run_timeouts(s, t, t + 3s);
    if (together == 1) {
      CHECK(s.core.stats().heal_syncs == before);
    } else {
      CHECK(s.core.stats().heal_syncs > before);
    }
  }
}

TEST_CASE("a burst of joins starts heal push-pulls, and one more once it settles") {
  // A cluster starting: members join for longer than kMaxHealSyncs (10) heal rounds last.
  // Gossip reaches members behind NAT through few doors, so what joined after the last
  // round comes with the one more push-pull, two probe intervals after the last join.
  Solo s;
  const Duration probe = Config::lan().probe_interval;
  TimePoint t = kTimeZero + 1ms;
  TimePoint last_join = t;
  for (uint8_t i = 0; i < 40; ++i, t += 200ms) {
    s.feed_alive(NodeId::random(s.rng), 1, Endpoint{IpAddress::v4(192, 0, 2, 10 + i), 7946}, "m",
                 t);
    last_join = t;
    run_timeouts(s, t, t + 100ms);
  }
  CHECK(s.core.stats().heal_syncs == 10);
  run_timeouts(s, t, last_join + 2 * probe - 100ms);
  CHECK(s.core.stats().heal_syncs == 10);  // not while the burst may still go on
  run_timeouts(s, last_join + 2 * probe, last_join + 2 * probe + 200ms);
  CHECK(s.core.stats().heal_syncs == 11);
  run_timeouts(s, last_join + 2 * probe + 300ms, last_join + 20s);
  CHECK(s.core.stats().heal_syncs == 11);  // one only
}

TEST_CASE("a stretched probe pings once more before it accuses, and an answer then clears it") {
  Solo s;
  s.feed_alive_of_other(1);
  const TimePoint t0 = kTimeZero + 1ms;
  // Pings to the other member, by sequence number: when each was first and last sent.
  std::map<uint32_t, std::pair<TimePoint, TimePoint>> pings;
  auto run = [&](TimePoint from, TimePoint to, auto stop) {
    return run_watching_pings(
        s, from, to,
        [&](const proto::Ping& ping, TimePoint t) {
          auto [it, first] = pings.try_emplace(ping.seq(), t, t);
          if (!first) it->second.second = t;
        },
        stop);
  };
  // It answers our first probe (a member that never answered is in its join grace)...
  const TimePoint first = run(t0, t0 + 5s, [&](TimePoint) { return !pings.empty(); });
  proto::Envelope ack;
  ack.mutable_ack()->set_seq(pings.begin()->first);
  s.feed(ack, first + 5ms);
  // ...and then nobody answers: the next probe fails (no helpers to nack for us), which
  // raises our health score. Then the member refutes, so it is alive again and probed again.
  const TimePoint suspected = run(first + 10ms, first + 20s, [&](TimePoint) {
    return s.core.find(s.other)->state == MemberState::kSuspect;
  });
  CHECK(s.core.stats().probe_last_looks == 0);  // an unstretched probe accuses as before
  REQUIRE(s.core.health_score() > 0);
  s.feed_alive_of_other(2);
  // The next probe is stretched. At its round's end it pings once more with the same
  // sequence number rather than accusing.
  const TimePoint looked = run(suspected, suspected + 20s,
                               [&](TimePoint) { return s.core.stats().probe_last_looks == 1; });
  // (Other pings may go out at the same instant: a mapping refresh after the failure.)
  const auto probe = std::find_if(pings.begin(), pings.end(), [&](const auto& p) {
    return p.second.first < looked && p.second.second == looked;
  });
  REQUIRE(probe != pings.end());
  const uint32_t seq = probe->first;
  CHECK(looked - probe->second.first >= s.core.config().probe_interval);
  CHECK(s.core.find(s.other)->state == MemberState::kAlive);
  // Its answer to that last ping clears the probe: no suspicion, no failed probe.
  ack.mutable_ack()->set_seq(seq);
  s.feed(ack, looked + 20ms);
  run_timeouts(s, looked + 30ms, looked + s.core.config().probe_interval);
  CHECK(s.core.find(s.other)->state == MemberState::kAlive);
  CHECK(s.core.stats().probes_failed == 1);
}

TEST_CASE("a probe whose target refutes meanwhile does not accuse it on that silence") {
  Solo s;
  s.feed_alive_of_other(1);
  std::optional<uint32_t> last_ping;  // the sequence number of our last ping to it
  auto run = [&](TimePoint from, TimePoint to, auto done) {
    return run_watching_pings(
        s, from, to, [&](const proto::Ping& ping, TimePoint) { last_ping = ping.seq(); }, done);
  };
  // It answers our first probe (so no join grace spares it later)...
  const TimePoint answered =
      run(kTimeZero + 1ms, kTimeZero + 5s, [&](TimePoint) { return last_ping.has_value(); });
  proto::Envelope ack;
  ack.mutable_ack()->set_seq(*last_ping);
  s.feed(ack, answered + 5ms);
  // ...then our next probe of it goes unanswered, but its refutation (its router restarted,
  // say, and it heard itself accused) comes while that probe waits.
  last_ping.reset();
  const TimePoint probed =
      run(answered + 10ms, answered + 5s, [&](TimePoint) { return last_ping.has_value(); });
  s.feed_alive(s.other, 2, kB, "b", probed + 100ms);
  const Duration round = s.core.config().probe_interval;
  run(probed + 110ms, probed + 2 * round,
      [&](TimePoint) { return s.core.stats().probes_failed == 1; });
  CHECK(s.core.stats().probes_outrun == 1);
  CHECK(s.core.find(s.other)->state == MemberState::kAlive);  // not accused at incarnation 2
  CHECK(s.core.stats().suspicions_started == 0);
  // The next probe that fails with nothing newer heard accuses it, as before.
  run(probed + 2 * round, probed + 30s,
      [&](TimePoint) { return s.core.find(s.other)->state == MemberState::kSuspect; });
  CHECK(s.core.find(s.other)->incarnation == 2);
  CHECK(s.core.stats().probes_outrun == 1);
}
