#include <doctest/doctest.h>

#include "gossip/config.h"

using namespace shoal;
using gossip::Config;

TEST_CASE("profiles carry memberlist's defaults and validate") {
  for (const char* name : {"lan", "wan", "local"}) {
    auto c = Config::profile(name);
    REQUIRE(c);
    CHECK(c->validate().empty());
  }
  CHECK_FALSE(Config::profile("galaxy"));
  CHECK(Config::lan().probe_interval == 1s);
  CHECK(Config::lan().gossip_interval == 200ms);
  CHECK(Config::wan().probe_timeout == 3s);
  CHECK(Config::local().indirect_checks == 1);
}

TEST_CASE("validate names the bad field") {
  Config c = Config::lan();
  c.probe_timeout = 2s;
  CHECK(c.validate().find("probe_timeout") != std::string::npos);
  c = Config::lan();
  c.gossip_nodes = 0;
  CHECK(c.validate().find("gossip_nodes") != std::string::npos);
  c = Config::lan();
  c.max_packet_bytes = 100;
  CHECK(c.validate().find("max_packet_bytes") != std::string::npos);
}

TEST_CASE("memberlist's scaling helpers") {
  CHECK(gossip::retransmit_limit(4, 0) == 0);
  CHECK(gossip::retransmit_limit(4, 9) == 4);
  CHECK(gossip::retransmit_limit(4, 99) == 8);
  CHECK(gossip::retransmit_limit(4, 1000) == 16);
  CHECK(gossip::suspicion_timeout(4, 1, 1s) == 4s);
  CHECK(gossip::suspicion_timeout(4, 100, 1s) == 8s);
  CHECK(gossip::push_pull_scale(30s, 32) == 30s);
  CHECK(gossip::push_pull_scale(30s, 33) == 60s);
  CHECK(gossip::push_pull_scale(30s, 1000) == 180s);
}
