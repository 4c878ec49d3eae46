#include <doctest/doctest.h>

#include "chaos/nat.h"
#include "chaos/network.h"

using namespace shoal;
using shoal::chaos::Network;

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

TEST_CASE("a NAT takes back timed-out ports, and drops a new flow when every port is live") {
  using shoal::chaos::Nat;
  using shoal::chaos::NatKind;
  const IpAddress public_ip = IpAddress::v4(203, 0, 113, 1);
  const Endpoint inside{IpAddress::v4(198, 51, 100, 10), 7946};
  const auto peer = [](uint32_t i) {
    return Endpoint{IpAddress::v4(192, 0, 2, static_cast<uint8_t>(1 + i % 200)),
                    static_cast<uint16_t>(1000 + i / 200)};
  };
  Nat nat(NatKind::kSymmetric, public_ip, 60s);
  const size_t ports = 65535 - 20000 + 1;
  // A symmetric NAT maps every destination to its own port: fill the table.
  for (uint32_t i = 0; i < ports; ++i) REQUIRE(nat.outbound(inside, peer(i), kTimeZero));
  CHECK(nat.mappings() == ports);
  // Full of live mappings: a new flow is dropped, an old one still goes out.
  CHECK_FALSE(nat.outbound(inside, peer(ports), kTimeZero + 1s));
  CHECK(nat.dropped_full() == 1);
  CHECK(nat.outbound(inside, peer(5), kTimeZero + 1s));
  // Once they time out, their ports are taken back: the new flow gets one.
  const auto later = nat.outbound(inside, peer(ports), kTimeZero + 61s);
  REQUIRE(later);
  CHECK(nat.inbound(later->port, peer(ports), kTimeZero + 61s) == inside);
  CHECK(nat.mappings() <= ports);
}
