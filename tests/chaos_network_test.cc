#include <doctest/doctest.h>

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
