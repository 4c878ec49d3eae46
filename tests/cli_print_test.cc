#include <doctest/doctest.h>

#include <string>

#include "cli/print.h"

using namespace shoal;
using namespace shoal::cli;

TEST_CASE("members table: columns as wide as their widest cell, no trailing blanks") {
  proto::ControlResponse response;
  auto* a = response.add_members();
  a->set_name("a");
  a->set_id("0123abcd");
  a->set_address("192.0.2.1:7946");
  a->set_state("alive");
  a->set_incarnation(12);
  auto* b = response.add_members();
  b->set_name("host-long-name");
  b->set_id("ff00ff00");
  b->set_address("198.51.100.20:7946");
  b->set_state("suspect");
  b->set_incarnation(3);
  b->set_path("punched");
  b->set_endpoint("203.0.113.7:20001");
  CHECK(format_members(response) ==
        "NAME            ID        ADDRESS             STATE    INCARNATION  PATH     ENDPOINT\n"
        "a               0123abcd  192.0.2.1:7946      alive    12           (self)   -\n"
        "host-long-name  ff00ff00  198.51.100.20:7946  suspect  3            punched  "
        "203.0.113.7:20001\n");
  CHECK(format_members(proto::ControlResponse()) ==
        "NAME  ID  ADDRESS  STATE  INCARNATION  PATH  ENDPOINT\n");
}

TEST_CASE("leases table: own lease starred, times relative to now") {
  proto::ControlResponse response;
  auto* own = response.add_leases();
  own->set_node("a");
  own->set_id("0123abcd");
  own->set_subnet("198.18.5.0/24");
  own->set_underlay("192.0.2.1");
  own->set_renewed_at_ms(990'000);
  own->set_expires_at_ms(1'000'000 + 3 * 3600'000);
  own->set_ready(true);
  own->set_own(true);
  auto* other = response.add_leases();
  other->set_node("b");
  other->set_id("ff00ff00");
  other->set_subnet("198.18.17.0/24");
  other->set_underlay("192.0.2.2");
  other->set_renewed_at_ms(1'000'000 - 300'000);
  other->set_expires_at_ms(1'000'000 + 45'000);
  other->set_path("udp/punched");
  other->set_endpoint("203.0.113.5:8285");
  CHECK(format_leases(response, 1'000'000) ==
        "  NODE  SUBNET          UNDERLAY   PATH         READY  RENEWED  EXPIRES  ID        "
        "ENDPOINT\n"
        "* a     198.18.5.0/24   192.0.2.1  (own)        yes    10s ago  in 3h    0123abcd  -\n"
        "  b     198.18.17.0/24  192.0.2.2  udp/punched  no     5m ago   in 45s   ff00ff00  "
        "203.0.113.5:8285\n");
}

TEST_CASE("status and keys print every field people ask about") {
  proto::ControlResponse response;
  auto* s = response.mutable_status();
  s->set_name("a");
  s->set_subnet("198.18.5.0/24");
  s->set_encrypted(true);
  s->set_key_count(2);
  s->set_members_alive(5);
  s->set_uptime_s(7200);
  const std::string status = format_status(response);
  CHECK(status.find("subnet:      198.18.5.0/24 (not ready)\n") != std::string::npos);
  CHECK(status.find("encryption:  on (2 keys)\n") != std::string::npos);
  CHECK(status.find("members:     5 alive, 0 suspect, 0 dead, 0 left\n") != std::string::npos);
  CHECK(status.find("uptime:      2h\n") != std::string::npos);
  CHECK(status.find("datapath:") == std::string::npos);  // no datapath, no rows about it
  auto* st = response.mutable_status();
  st->set_datapath_device("shoal.1");
  st->set_peers_installed(3);
  st->set_peers_skipped(1);
  st->add_skipped_peers("far 198.18.9.0/24 not_on_link");
  st->set_pod_mtu(1450);
  st->set_reconciles(12);
  st->set_drift_repaired(2);
  const std::string with_datapath = format_status(response);
  CHECK(with_datapath.find("datapath:    shoal.1, 3 peers installed, 1 skipped, pod MTU 1450\n") !=
        std::string::npos);
  CHECK(with_datapath.find("  skipped:   far 198.18.9.0/24 not_on_link\n") != std::string::npos);
  CHECK(with_datapath.find("reconciles:  12 (2 objects put back)\n") != std::string::npos);

  auto* k = response.add_keys();
  k->set_key_id("0a1b2c3d");
  k->set_primary(true);
  response.add_keys()->set_key_id("deadbeef");
  CHECK(format_keys(response) ==
        "KEY ID    ROLE\n"
        "0a1b2c3d  primary (seals)\n"
        "deadbeef  accepted\n"
        "cluster keyring: no cluster-wide change made yet\n");

  // After a cluster-wide change: who has it, who does not yet, who is down.
  response.set_keys_version("1767225600123.0@0a0b0c0d");
  auto member = [&](const char* name, const char* state, bool current) {
    auto* m = response.add_keys_members();
    m->set_name(name);
    m->set_state(state);
    m->set_current(current);
  };
  member("h2", "alive", true);
  member("h3", "suspect", false);
  member("h4", "dead", false);
  member("h5", "left", false);
  const std::string cluster = format_keys(response);
  CHECK(cluster.find("cluster keyring 1767225600123.0@0a0b0c0d: 2 of 3 live members have it; "
                     "not yet: h3\n") != std::string::npos);
  CHECK(cluster.find("not running, will catch up if they come back: h4, h5\n") !=
        std::string::npos);
}

TEST_CASE("json: lowerCamel names and every field, even empty ones") {
  proto::ControlResponse response;
  auto* lease = response.add_leases();
  lease->set_expires_at_ms(5);
  const std::string json = to_json(response);
  CHECK(json.find("\"error\": \"\"") != std::string::npos);
  CHECK(json.find("\"expiresAtMs\": \"5\"") != std::string::npos);
  CHECK(json.find("\"ready\": false") != std::string::npos);
  CHECK(json.back() == '\n');
}

TEST_CASE("faults table: a cut, a loss and a moved clock, each with what it does") {
  CHECK(format_faults(proto::ControlResponse()) == "no faults on\n");
  proto::ControlResponse response;
  auto* cut = response.add_faults();
  cut->set_id(1);
  cut->set_loss_percent(100);
  cut->set_direction("out");
  cut->add_peers("h2");
  cut->set_expires_in_ms(29001);
  auto* clock = response.add_faults();
  clock->set_id(2);
  clock->set_clock_offset_ms(-1500);
  clock->set_expires_in_ms(60000);
  auto* ahead = response.add_faults();
  ahead->set_id(3);
  ahead->set_clock_offset_ms(300000);
  ahead->set_expires_in_ms(1);
  CHECK(format_faults(response) ==
        "ID  WHAT          DIRECTION  PEERS  EXPIRES IN\n"
        "1   drop          out        h2     30 s\n"
        "2   clock -1.5 s  -          -      60 s\n"
        "3   clock +300 s  -          -      1 s\n");
}
