#include <doctest/doctest.h>

#include "chaos/nat.h"
#include "chaos/network.h"

using namespace shoal;
using shoal::chaos::Network;
using shoal::chaos::NodeIndex;

TEST_CASE("partitions cut both ways, blocks one way, heal restores") {
  Network net(1ms, 2ms);
  Rng rng(1);
  net.partition({{0, 1}, {2, 3}});
  CHECK(net.datagram(0, 1, rng));
  CHECK_FALSE(net.datagram(0, 2, rng));
  CHECK_FALSE(net.datagram(3, 1, rng));
  net.heal();
  net.block(0, 1);
  CHECK_FALSE(net.datagram(0, 1, rng));
  CHECK(net.datagram(1, 0, rng));
  CHECK_FALSE(net.stream(1, 0, rng));  // TCP needs both directions
  net.heal();
  CHECK(net.stream(0, 1, rng));
}

TEST_CASE("loss drops about its share of datagrams; streams pay in delay") {
  Network net(1ms, 1ms);
  Rng rng(2);
  net.set_loss(0.25);
  int lost = 0;
  Duration stream_total{};
  for (int i = 0; i < 4000; ++i) {
    lost += !net.datagram(0, 1, rng).has_value();
    if (auto d = net.stream(0, 1, rng)) stream_total += *d;
  }
  CHECK(lost > 800);
  CHECK(lost < 1200);
  CHECK(stream_total > 4000 * 1ms);
  net.set_loss(0);
  net.set_node_delay(1, 300ms);
  CHECK(net.datagram(0, 2, rng) == 1ms);
  CHECK(net.datagram(0, 1, rng) == 301ms);
}

TEST_CASE("a link's loss hits only the links between its two sets, composes, and goes") {
  Network net(1ms, 1ms);
  Rng rng(3);
  // 0 and 1 on one side, 2 on the other: a lossy WAN link between them, both ways.
  const auto across = [](NodeIndex a, NodeIndex b) { return (a < 2) != (b < 2); };
  const uint64_t wan = net.add_link_loss(across, 1.0);
  CHECK_FALSE(net.datagram(0, 2, rng));
  CHECK_FALSE(net.datagram(2, 1, rng));
  CHECK(net.datagram(0, 1, rng));  // inside one side: untouched
  CHECK(net.stream(0, 1, rng));
  net.remove_link_loss(wan);
  CHECK(net.datagram(0, 2, rng));
  net.add_link_loss(across, 0.5);
  net.set_node_loss(2, 0.5);  // with another loss on the same link: 1 - 0.5 * 0.5 = 0.75
  int lost = 0;
  for (int i = 0; i < 4000; ++i) lost += !net.datagram(0, 2, rng).has_value();
  CHECK(lost > 2800);
  CHECK(lost < 3200);
  net.heal();
  for (int i = 0; i < 100; ++i) REQUIRE(net.datagram(0, 2, rng));
}

TEST_CASE(
    "a NAT's table: ports per destination, a full table drops new flows, timed-out "
    "flows come back") {
  using shoal::chaos::Nat;
  using shoal::chaos::NatKind;
  const IpAddress public_ip = IpAddress::v4(203, 0, 113, 1);
  const Endpoint inside{IpAddress::v4(198, 51, 100, 10), 7946};
  const Endpoint neighbour{IpAddress::v4(198, 51, 100, 11), 7946};
  const auto peer = [](uint32_t i) {
    return Endpoint{IpAddress::v4(192, 0, 2, static_cast<uint8_t>(1 + i % 200)),
                    static_cast<uint16_t>(1000 + i / 200)};
  };
  SUBCASE("symmetric: more destinations than ports, as conntrack allows") {
    Nat nat(NatKind::kSymmetric, public_ip, 60s);
    const size_t flows = Nat::kPorts + 1000;
    for (uint32_t i = 0; i < flows; ++i) REQUIRE(nat.outbound(inside, peer(i), kTimeZero));
    CHECK(nat.flows() == flows);
    CHECK(nat.dropped_full() == 0);
    // Each destination sees its own port, and only it gets in through that port.
    const auto a = nat.outbound(inside, peer(1), kTimeZero + 1s);
    const auto b = nat.outbound(inside, peer(2), kTimeZero + 1s);
    REQUIRE((a && b));
    CHECK(a->port != b->port);
    CHECK(nat.inbound(a->port, peer(1), kTimeZero + 1s) == inside);
    CHECK_FALSE(nat.inbound(a->port, peer(2), kTimeZero + 1s));
  }
  SUBCASE("cone: one port per inside endpoint, a flow per remote") {
    Nat nat(NatKind::kCone, public_ip, 60s);
    const auto a = nat.outbound(inside, peer(1), kTimeZero);
    const auto b = nat.outbound(inside, peer(2), kTimeZero);
    const auto c = nat.outbound(neighbour, peer(1), kTimeZero);
    REQUIRE((a && b && c));
    CHECK(a->port == b->port);
    CHECK(a->port != c->port);
    CHECK(nat.inbound(a->port, peer(2), kTimeZero + 1s) == inside);
    CHECK_FALSE(nat.inbound(a->port, peer(3), kTimeZero + 1s));  // no flow: filtered
    CHECK(nat.flows() == 3);
  }
  SUBCASE("a full table drops a datagram that needs a new flow, until flows time out") {
    const size_t max_flows = 100;
    for (const NatKind kind : {NatKind::kSymmetric, NatKind::kCone}) {
      Nat nat(kind, public_ip, 60s, max_flows);
      for (uint32_t i = 0; i < max_flows; ++i) REQUIRE(nat.outbound(inside, peer(i), kTimeZero));
      CHECK_FALSE(nat.outbound(inside, peer(max_flows), kTimeZero + 1s));
      CHECK(nat.dropped_full() == 1);
      CHECK(nat.outbound(inside, peer(5), kTimeZero + 1s));  // a live flow still goes out
      const auto later = nat.outbound(inside, peer(max_flows), kTimeZero + 61s);
      REQUIRE(later);
      CHECK(nat.inbound(later->port, peer(max_flows), kTimeZero + 61s) == inside);
      CHECK(nat.flows() <= max_flows);
    }
  }
}
