// node/nat_view.h: the udp tunnel's endpoints in gossip meta (MemberMeta, capped and never
// trusted), and what the tunnel learns about each peer from a gossip core driven by hand: a
// relay and punching only for members across a NAT from us, keepalives across any NAT, a
// symmetric NAT on either end rules punching out, and neither we nor the dead are peers.
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <map>

#include "gossip/membership.h"
#include "gossip/wire.h"
#include "node/nat_view.h"
#include "proto/shoal.pb.h"
#include "tests/test_endpoints.h"

using namespace shoal;
using namespace shoal::node;

namespace {

using testing::ep;
using testing::outside;
Endpoint endpoint(const char* text) { return *Endpoint::parse(text); }

Bytes as_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

// One gossip core ("us", at ep(1)) and the members it hears of. Members answer our pings
// where `answers` says, telling us where they saw the ping come from.
struct Cluster {
  Rng rng{17};
  NodeId us = NodeId::random(rng);
  gossip::Membership core{gossip::Config::lan(), gossip::LocalNode{us, "us", ep(1), {}, 0}, 7,
                          kTimeZero};
  TimePoint now = kTimeZero + 1ms;
  struct Answer {
    NodeId member;
    Endpoint sees_us_at;
  };
  std::map<Endpoint, Answer> answers;

  struct Advert {
    Endpoint address;
    std::vector<Endpoint> candidates = {};
    bool relay = false;
    bool symmetric_nat = false;
    Bytes meta = {};
  };
  // `advert` as the member would gossip its alive.
  NodeId learn(const Advert& advert) {
    const NodeId id = NodeId::random(rng);
    proto::Envelope e;
    auto* alive = e.add_updates()->mutable_alive();
    alive->set_node(gossip::to_proto_bytes(id));
    alive->set_incarnation(1);
    gossip::to_proto(advert.address, *alive->mutable_addr());
    alive->set_name("peer");
    alive->set_meta(std::string(advert.meta.begin(), advert.meta.end()));
    for (const Endpoint& c : advert.candidates) gossip::to_proto(c, *alive->add_candidates());
    alive->set_relay(advert.relay);
    alive->set_symmetric_nat(advert.symmetric_nat);
    feed(id, advert.address, e);
    return id;
  }
  void kill(const NodeId& id, const NodeId& accuser) {
    proto::Envelope e;
    auto* dead = e.add_updates()->mutable_dead();
    dead->set_node(gossip::to_proto_bytes(id));
    dead->set_incarnation(1);
    dead->set_from(gossip::to_proto_bytes(accuser));
    feed(accuser, ep(250), e);
  }
  void feed(const NodeId& sender, const Endpoint& from, proto::Envelope e) {
    e.set_sender(gossip::to_proto_bytes(sender));
    core.handle_packet(now, from, gossip::encode(e));
    answer_pings();
  }
  // Acks every ping sent where a member answers, as that member; drops everything else.
  void answer_pings() {
    std::deque<gossip::Transmit> queue;
    while (auto t = core.poll_transmit()) queue.push_back(std::move(*t));
    while (!queue.empty()) {
      const gossip::Transmit t = std::move(queue.front());
      queue.pop_front();
      const auto it = answers.find(t.to);
      if (t.kind != gossip::Transmit::Kind::kDatagram || it == answers.end()) continue;
      proto::Envelope ping;
      if (!gossip::decode(t.payload, {65507, 512, 128, 1000}, ping) || !ping.has_ping()) continue;
      proto::Envelope ack;
      ack.set_sender(gossip::to_proto_bytes(it->second.member));
      ack.mutable_ack()->set_seq(ping.ping().seq());
      gossip::to_proto(it->second.sees_us_at, *ack.mutable_ack()->mutable_observed());
      core.handle_packet(now, t.to, gossip::encode(ack));
      while (auto more = core.poll_transmit()) queue.push_back(std::move(*more));
    }
  }
  void run(Duration d) {
    for (const TimePoint end = now + d; now < end;) {
      now += 100ms;
      core.handle_timeout(now);
      answer_pings();
    }
  }
  NatView view() const { return nat_view(core, now); }
};

}  // namespace

TEST_CASE("member meta round-trips the tunnel's endpoints, IPv4 and IPv6") {
  const MemberMeta meta{{endpoint("203.0.113.5:8285"), endpoint("[2001:db8::5]:40000")},
                        std::nullopt};
  const auto decoded = decode_member_meta(encode_member_meta(meta));
  REQUIRE(decoded);
  CHECK(*decoded == meta);
  // Empty bytes: a member that publishes nothing, not an error.
  const auto none = decode_member_meta({});
  REQUIRE(none);
  CHECK(none->tunnel.empty());
  CHECK(encode_member_meta({}).empty());
}

TEST_CASE("member meta holds kMaxCandidates endpoints at most") {
  MemberMeta meta;
  for (size_t i = 0; i < gossip::kMaxCandidates; ++i)
    meta.tunnel.push_back(outside(static_cast<uint8_t>(i + 1), 8285));
  CHECK(decode_member_meta(encode_member_meta(meta)) == meta);
  meta.tunnel.push_back(outside(99, 8285));
  CHECK_FALSE(decode_member_meta(encode_member_meta(meta)));
}

TEST_CASE("member meta refuses garbage, bad endpoints and more than 512 bytes") {
  CHECK_FALSE(decode_member_meta(Bytes{0xff, 0xff, 0xff}));
  CHECK_FALSE(decode_member_meta(Bytes{0x0a, 0x05, 0x0a}));  // a field longer than the bytes

  proto::MemberMeta bad;
  auto* a = bad.add_tunnel();
  a->set_ip(std::string(3, '\x01'));  // neither 4 nor 16 bytes
  a->set_port(8285);
  CHECK_FALSE(decode_member_meta(as_bytes(bad.SerializeAsString())));
  a->set_ip(std::string("\xc6\x33\x64\x01", 4));  // 198.51.100.1
  a->set_port(0);
  CHECK_FALSE(decode_member_meta(as_bytes(bad.SerializeAsString())));
  a->set_port(70000);
  CHECK_FALSE(decode_member_meta(as_bytes(bad.SerializeAsString())));
  a->set_port(8285);
  CHECK(decode_member_meta(as_bytes(bad.SerializeAsString())));

  // A well-formed meta padded with a field this version does not know (number 15): read at
  // 512 bytes, refused at 513, for its size alone.
  auto padded = [](size_t total) {
    Bytes out = {0x7a};  // field 15, length-delimited
    const size_t payload = total - 3;
    out.push_back(static_cast<uint8_t>(0x80 | (payload & 0x7f)));
    out.push_back(static_cast<uint8_t>(payload >> 7));
    out.resize(total, 0x00);
    return out;
  };
  CHECK(decode_member_meta(padded(512)));
  CHECK_FALSE(decode_member_meta(padded(513)));
}

TEST_CASE("nat view: relay, punch and keepalive only for members across a NAT from us") {
  Cluster c;
  const NodeId relay = c.learn({.address = endpoint("198.51.100.10:7946"), .relay = true});
  const Bytes lan_meta = encode_member_meta({{endpoint("198.51.100.2:8285")}, std::nullopt});
  const NodeId lan = c.learn({.address = ep(2), .meta = lan_meta});
  const Bytes natted_meta = encode_member_meta({{outside(50, 30000)}, std::nullopt});
  const NodeId natted =
      c.learn({.address = ep(50), .candidates = {outside(50, 20000)}, .meta = natted_meta});
  const NodeId symmetric = c.learn({.address = ep(60), .symmetric_nat = true});
  const NodeId garbled = c.learn(
      {.address = ep(70), .candidates = {outside(70, 20000)}, .meta = Bytes{0xff, 0xff, 0xff}});
  const NodeId gone = c.learn({.address = ep(80), .candidates = {outside(80, 20000)}});
  c.kill(gone, relay);
  REQUIRE_FALSE(c.core.reflexive().behind_nat(c.now));

  const NatView view = c.view();
  CHECK(view.peers.size() == 5);  // not us, not the dead
  CHECK_FALSE(view.peers.contains(c.us));
  CHECK_FALSE(view.peers.contains(gone));
  for (const NodeId& id : {natted, symmetric, garbled}) CHECK(view.behind_nat.contains(id));
  for (const NodeId& id : {relay, lan}) CHECK_FALSE(view.behind_nat.contains(id));

  // On our side of every NAT: no relay, no punching, no keepalives; its meta's endpoints.
  const PeerReach& l = view.peers.at(lan);
  CHECK(l.tunnel_candidates == std::vector<Endpoint>{endpoint("198.51.100.2:8285")});
  CHECK_FALSE(l.relay);
  CHECK_FALSE(l.punch);
  CHECK_FALSE(l.keepalive);
  CHECK(l.address_works);
  CHECK_FALSE(view.peers.at(relay).relay);
  CHECK_FALSE(view.peers.at(relay).keepalive);

  // Across a cone NAT: through the relay, punching, keeping the mapping open.
  const PeerReach& n = view.peers.at(natted);
  CHECK(n.tunnel_candidates == std::vector<Endpoint>{outside(50, 30000)});
  CHECK(n.relay == relay);
  CHECK(n.punch);
  CHECK(n.keepalive);
  CHECK_FALSE(n.address_works);  // a private address of its own site

  // Behind a symmetric NAT: no hole can be punched; the relay alone reaches it.
  const PeerReach& s = view.peers.at(symmetric);
  CHECK(s.relay == relay);
  CHECK_FALSE(s.punch);
  CHECK(s.keepalive);
  CHECK_FALSE(s.address_works);

  // Meta that does not decode gives no endpoints, and costs the member nothing else.
  const PeerReach& g = view.peers.at(garbled);
  CHECK(g.tunnel_candidates.empty());
  CHECK(g.relay == relay);
  CHECK(g.punch);
}

TEST_CASE("nat view: a member advertising our own address is elsewhere, whatever its port") {
  Cluster c;
  const NodeId twin = c.learn({.address = ep(1, 7947)});  // another site reusing our range
  const NodeId lan = c.learn({.address = ep(2)});
  const NatView view = c.view();
  CHECK_FALSE(view.behind_nat.contains(twin));
  CHECK_FALSE(view.peers.at(twin).address_works);
  CHECK(view.peers.at(lan).address_works);
}

TEST_CASE("nat view: a dead relay is no relay") {
  Cluster c;
  const NodeId relay = c.learn({.address = endpoint("198.51.100.10:7946"), .relay = true});
  const NodeId lan = c.learn({.address = ep(2)});
  const NodeId natted = c.learn({.address = ep(50), .candidates = {outside(50, 20000)}});
  REQUIRE(c.view().peers.at(natted).relay == relay);
  c.kill(relay, lan);
  const NatView view = c.view();
  CHECK_FALSE(view.peers.contains(relay));
  const PeerReach& n = view.peers.at(natted);
  CHECK_FALSE(n.relay);
  CHECK(n.punch);
  CHECK(n.keepalive);
}

TEST_CASE("nat view: behind a NAT ourselves, we keep mappings open to every peer") {
  Cluster c;
  const NodeId lan = c.learn({.address = ep(2)});
  const NodeId natted = c.learn({.address = ep(50), .candidates = {outside(50, 20000)}});
  // Our LAN neighbour sees us at our address; the member outside sees our NAT's mapping.
  c.answers[ep(2)] = {lan, ep(1)};
  c.answers[outside(50, 20000)] = {natted, outside(1, 61000)};
  c.run(5s);
  REQUIRE(c.core.reflexive().behind_nat(c.now));
  REQUIRE_FALSE(c.core.reflexive().symmetric());

  const NatView view = c.view();
  const PeerReach& l = view.peers.at(lan);
  CHECK(l.keepalive);
  CHECK_FALSE(l.relay);
  CHECK_FALSE(l.punch);  // no NAT between the two of us
  const PeerReach& n = view.peers.at(natted);
  CHECK(n.keepalive);
  CHECK(n.punch);
}

TEST_CASE("nat view: behind a symmetric NAT ourselves, we punch to nobody") {
  Cluster c;
  std::vector<NodeId> natted;
  for (uint8_t host = 50; host < 53; ++host) {
    const Endpoint candidate = outside(host, 20000);
    natted.push_back(c.learn({.address = ep(host), .candidates = {candidate}}));
    // Each sees our pings come from another port: a new mapping per destination.
    c.answers[candidate] = {natted.back(), outside(1, static_cast<uint16_t>(61000 + host))};
  }
  c.run(10s);
  REQUIRE(c.core.reflexive().symmetric());

  const NatView view = c.view();
  for (const NodeId& id : natted) {
    const PeerReach& n = view.peers.at(id);
    CHECK(view.behind_nat.contains(id));
    CHECK(n.keepalive);
    CHECK_FALSE(n.punch);
  }
}
