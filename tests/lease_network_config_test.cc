#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "common/rng.h"
#include "lease/allocator.h"
#include "lease/network_config.h"

using namespace shoal;
using namespace shoal::lease;

namespace {

NetworkConfig ok(const NetworkSpec& spec) {
  auto v = NetworkConfig::make(spec);
  if (!v) FAIL("unexpected error: " << v.error().to_string());
  return *v;
}

std::string error(const NetworkSpec& spec) {
  auto v = NetworkConfig::make(spec);
  return v ? std::string("(no error)") : v.error().to_string();
}

}  // namespace

TEST_CASE("flannel's defaults") {
  const auto c = ok({"198.18.0.0/16"});
  CHECK(c.subnet_len() == 24);
  CHECK(c.subnet_min().to_string() == "198.18.1.0");  // the first subnet is skipped
  CHECK(c.subnet_max().to_string() == "198.18.255.0");
  CHECK(c.candidates("").size() == 255);
  const auto small = ok({"198.18.0.0/25"});
  CHECK(small.subnet_len() == 27);  // networks smaller than a /22: Network + 2
  CHECK(small.candidates("").size() == 3);
}

TEST_CASE("flannel's validation names the key") {
  CHECK(error({""}).find("Network: missing") == 0);
  CHECK(error({"198.18.0.1/16"}).find("Network:") == 0);  // host bits set
  CHECK(error({"198.18.0.0/29"}).find("Network:") == 0);  // smaller than /28
  CHECK(error({"198.18.0.0/16", 31}).find("SubnetLen:") == 0);
  CHECK(error({"198.18.0.0/16", 17}).find("SubnetLen:") == 0);  // fewer than four subnets
  NetworkSpec s{"198.18.0.0/16"};
  s.subnet_min = "198.19.0.0";
  CHECK(error(s).find("SubnetMin: 198.19.0.0 is not in the range") == 0);
  s.subnet_min = "198.18.1.128";
  CHECK(error(s).find("SubnetMin: 198.18.1.128 is not on a SubnetLen") == 0);
  s.subnet_min = "198.18.9.0";
  s.subnet_max = "198.18.3.0";
  CHECK(error(s).find("SubnetMin:") == 0);
  s = NetworkSpec{"198.18.0.0/16"};
  s.site_pools = {{"east", {"198.18.10.0", "198.18.20.0"}},
                  {"west", {"198.18.15.0", "198.18.30.0"}}};
  CHECK(error(s).find("overlaps the pool") != std::string::npos);
}

TEST_CASE("site pools keep sites apart; hosts without a pool keep off them") {
  NetworkSpec s{"198.18.0.0/16"};
  s.subnet_len = 24;
  s.site_pools = {{"east", {"198.18.10.0", "198.18.19.0"}}};
  const auto c = ok(s);
  const auto east = c.candidates("east");
  CHECK(east.size() == 10);
  CHECK(east.front().to_string() == "198.18.10.0/24");
  const auto other = c.candidates("lab");
  CHECK(other.size() == 255 - 10);
  CHECK(std::find(other.begin(), other.end(), east.front()) == other.end());
}

TEST_CASE("probe sequences differ between nodes and stay put") {
  Rng rng(1);
  const NodeId a = NodeId::random(rng), b = NodeId::random(rng);
  std::vector<size_t> sa, sb;
  for (uint64_t k = 0; k < 16; ++k) {
    sa.push_back(probe_index(a, k, 255));
    sb.push_back(probe_index(b, k, 255));
    CHECK(sa.back() < 255);
    CHECK(probe_index(a, k, 255) == sa.back());  // stable
  }
  CHECK(sa != sb);
}

TEST_CASE("pick_subnet keeps out of the way of members that have not claimed yet") {
  Rng rng(3);
  const auto c = ok({"198.18.0.0/16"});
  const auto pool = c.candidates("");
  const WallTime now{std::chrono::milliseconds(1767225600000)};
  Table t(std::chrono::hours(24));
  // 40 members that know each other and nobody's claim: each picks as the others expect,
  // so all 40 picks are distinct even though they were made blind of each other's claims.
  std::vector<NodeId> members;
  for (int i = 0; i < 40; ++i) members.push_back(NodeId::random(rng));
  std::set<Cidr> picks;
  for (const NodeId& m : members) {
    auto pick = pick_subnet(m, pool, t, now, members);
    REQUIRE(pick);
    picks.insert(*pick);
  }
  CHECK(picks.size() == members.size());
  // Alone (no members known), the same node picks its own first try.
  CHECK(*pick_subnet(members[0], pool, t, now) == pool[probe_index(members[0], 0, pool.size())]);
  // A pool too small for every promise still yields what is really free.
  const auto tiny = ok({"198.18.0.0/28", 30}).candidates("");
  const NodeId last = *std::max_element(members.begin(), members.end());
  CHECK(pick_subnet(last, tiny, t, now, members));
}

TEST_CASE("pick_subnet skips subnets with valid claims of others, reuses none of them") {
  Rng rng(2);
  const auto c = ok({"198.18.0.0/28", 30});  // three usable /30s
  const NodeId me = NodeId::random(rng);
  const WallTime now{std::chrono::milliseconds(1767225600000)};
  Table t(std::chrono::hours(24));
  std::set<Cidr> taken;
  for (int i = 0; i < 3; ++i) {
    auto pick = pick_subnet(me, c.candidates(""), t, now);
    REQUIRE(pick);
    CHECK_FALSE(taken.count(*pick));
    taken.insert(*pick);
    NodeRecord other;
    other.id = NodeId::random(rng);
    other.version = 1;
    other.underlay = IpAddress::v4(192, 0, 2, uint8_t(i + 1));
    other.claims = {{*pick, {1, 0}}};
    other.renewed_at = now;
    t.merge(other);
  }
  CHECK_FALSE(pick_subnet(me, c.candidates(""), t, now));                     // full
  CHECK(pick_subnet(me, c.candidates(""), t, now + std::chrono::hours(25)));  // all expired
}

TEST_CASE("Cidr parses, normalizes and splits") {
  CHECK(Cidr::parse("198.18.0.0/15")->to_string() == "198.18.0.0/15");
  CHECK_FALSE(Cidr::parse("198.18.0.1/15"));
  CHECK_FALSE(Cidr::parse("198.18.0.0/33"));
  CHECK_FALSE(Cidr::parse("198.18.0.0"));
  CHECK_FALSE(Cidr::parse("198.18.0.0/"));
  const Cidr net = *Cidr::parse("100.64.0.0/10");
  CHECK(net.subnet_count(24) == 16384);
  CHECK(net.subnet(24, 1)->to_string() == "100.64.1.0/24");
  CHECK(net.contains(*IpAddress::parse("100.127.255.255")));
  CHECK_FALSE(net.contains(*IpAddress::parse("100.128.0.0")));
  CHECK(net.overlaps(*Cidr::parse("100.100.0.0/16")));
  CHECK(net.address_at(1)->to_string() == "100.64.0.1");
  CHECK(Cidr::parse("2001:db8::/32"));
}

TEST_CASE("Cidr::containing names the network of an interface address") {
  CHECK(Cidr::containing(*IpAddress::parse("192.0.2.11"), 24) == Cidr::parse("192.0.2.0/24"));
  CHECK(Cidr::containing(*IpAddress::parse("192.0.2.11"), 32) == Cidr::parse("192.0.2.11/32"));
  CHECK(Cidr::containing(*IpAddress::parse("192.0.2.11"), 0) == Cidr::parse("0.0.0.0/0"));
  CHECK(Cidr::containing(*IpAddress::parse("2001:db8::1:2"), 64) == Cidr::parse("2001:db8::/64"));
  CHECK(!Cidr::containing(*IpAddress::parse("192.0.2.11"), 33));
}
