// Simulation tests of gossip and the lease table together: whole clusters on virtual time,
// deterministic per seed. A failure prints its seed; SHOAL_SEED=<seed> replays it.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "chaos/lease_cluster.h"
#include "tests/sim_seed.h"

using namespace shoal;
using namespace shoal::chaos;
using lease::LeaseEvent;

namespace {

std::map<NodeIndex, Cidr> subnets(LeaseCluster& c) {
  std::map<NodeIndex, Cidr> out;
  for (NodeIndex i = 0; i < c.size(); ++i)
    if (auto* l = c.lease(i); l && l->ready_subnet()) out[i] = *l->ready_subnet();
  return out;
}

// A pool of only 4 subnets (198.18.1.0/24 to 198.18.4.0/24) and a short TTL of 60 s, so
// that a fifth member finds the pool full and leases expire within a test's minutes.
lease::LeaseConfig full_pool_of_four() {
  lease::NetworkSpec spec{"198.18.0.0/16"};
  spec.subnet_len = 24;
  spec.subnet_min = "198.18.1.0";
  spec.subnet_max = "198.18.4.0";
  lease::LeaseConfig cfg;
  cfg.network = lease::NetworkConfig::make(spec).value();
  cfg.ttl = std::chrono::seconds(60);
  cfg.renew_after = std::chrono::seconds(30);
  return cfg;
}

// Leases of `ttl`, renewed after half of it, as the agent does.
lease::LeaseConfig with_ttl(std::chrono::seconds ttl) {
  auto cfg = LeaseCluster::config_for("198.18.0.0/16", 24);
  cfg.ttl = ttl;
  cfg.renew_after = ttl / 2;
  return cfg;
}

}  // namespace

TEST_CASE("sim.lease_1000_start_at_once") {
  // 1,000 members start at the same instant through 3 seeds: each ends up with exactly one
  // subnet, no two overlap, and all compute the same owner map.
  const uint64_t seed = seed_or(31);
  INFO("seed " << seed);
  LeaseCluster c(seed, 1000, LeaseCluster::config_for("100.64.0.0/10", 24));
  for (NodeIndex i = 0; i < 1000; ++i) c.start(i, {0, 1, 2});
  const std::string problem = c.settle(kTimeZero + 60s);
  CHECK_MESSAGE(problem.empty(), problem);
  MESSAGE("placed and agreed at " << to_seconds(c.sim().now()) << " s; " << c.reallocations()
                                  << " of 1000 members re-allocated");
}

TEST_CASE("sim.lease_partition_overlaps_resolve") {
  // 100 members placed; the network splits in two; 50 new members join on each side; the
  // halves heal. Overlaps resolve, only the later claimers move, and every member that held
  // a subnet before the partition keeps it. A small pool makes clashes likely.
  const uint64_t seed = seed_or(32);
  INFO("seed " << seed);
  // 255 subnets for 200 members
  LeaseCluster c(seed, 200, LeaseCluster::config_for("198.18.0.0/16", 24));
  for (NodeIndex i = 0; i < 100; ++i) c.start(i, {0});
  REQUIRE(c.settle(kTimeZero + 60s).empty());
  const auto before = subnets(c);

  std::vector<NodeIndex> left, right;
  for (NodeIndex i = 0; i < 200; ++i)
    ((i < 50 || (i >= 100 && i < 150)) ? left : right).push_back(i);
  c.sim().network().partition({left, right});
  const TimePoint split = c.sim().now();
  for (NodeIndex i = 100; i < 150; ++i) c.start(i, {0});   // left side's seed
  for (NodeIndex i = 150; i < 200; ++i) c.start(i, {50});  // right side's seed
  c.sim().run_until(split + 60s);
  const auto during = subnets(c);
  std::map<NodeIndex, HlcStamp> first_claim;
  for (NodeIndex i = 100; i < 200; ++i) {
    REQUIRE(c.lease(i)->ready_subnet());
    first_claim[i] = c.lease(i)->own().claims.front().claimed_at;
  }

  c.sim().network().heal();
  const TimePoint healed = c.sim().now();
  const std::string problem = c.settle(healed + 120s);
  CHECK_MESSAGE(problem.empty(), problem);
  MESSAGE("resolved " << to_seconds(c.sim().now() - healed) << " s after the heal");
  const auto after = subnets(c);
  for (const auto& [node, subnet] : before) CHECK(after.at(node) == subnet);
  size_t moved = 0;
  for (NodeIndex i = 100; i < 200; ++i) {
    if (after.at(i) == during.at(i)) continue;
    ++moved;
    // It moved: someone with an earlier claim holds its old subnet now.
    const NodeId winner = c.lease(i)->owners().at(during.at(i));
    const NodeIndex w = *c.sim().index_of(winner);
    CHECK(w != i);
    if (first_claim.count(w)) CHECK(first_claim.at(w) < first_claim.at(i));
  }
  MESSAGE(moved << " of the 100 new members moved after the heal");
}

TEST_CASE("sim.lease_restart_keeps_subnet") {
  // A restart with its database keeps the subnet and continues above every version peers
  // saw; so does a restart from an older copy of the database (a restored backup).
  const uint64_t seed = seed_or(33);
  INFO("seed " << seed);
  auto cfg = LeaseCluster::config_for("198.18.0.0/16", 24);
  cfg.renew_after = std::chrono::seconds(20);  // renew often, so versions move on
  LeaseCluster c(seed, 10, cfg);
  for (NodeIndex i = 0; i < 10; ++i) c.start(i, {0});
  REQUIRE(c.settle(kTimeZero + 30s).empty());
  const Cidr subnet = *c.lease(4)->ready_subnet();
  const LeaseDisk backup = c.disk(4);  // an early copy of node 4's database
  c.sim().run_for(90s);                // a few renewals later
  const uint64_t seen = c.lease(0)->table().find(c.sim().id(4))->version;
  REQUIRE(seen > backup.own->version);

  c.crash(4);
  c.sim().run_for(5s);
  c.start(4, {0});
  REQUIRE(c.settle(c.sim().now() + 30s).empty());
  CHECK(*c.lease(4)->ready_subnet() == subnet);
  CHECK(c.lease(4)->own().version > seen);

  const uint64_t seen_again = c.lease(0)->table().find(c.sim().id(4))->version;
  c.crash(4);
  c.disk(4) = backup;  // restore the old copy
  c.sim().run_for(5s);
  c.start(4, {0});
  REQUIRE(c.settle(c.sim().now() + 30s).empty());
  CHECK(*c.lease(4)->ready_subnet() == subnet);
  c.sim().run_for(5s);
  CHECK(c.lease(4)->own().version > seen_again);
  CHECK(c.lease(0)->table().find(c.sim().id(4))->version > seen_again);
}

TEST_CASE("sim.lease_leave_crash_evict") {
  // Leaving frees a subnet at once; a crashed member's subnet frees only after its TTL; an
  // eviction frees it at once.
  const uint64_t seed = seed_or(34);
  INFO("seed " << seed);
  LeaseCluster c(seed, 8, with_ttl(std::chrono::seconds(120)));
  for (NodeIndex i = 0; i < 8; ++i) c.start(i, {0});
  REQUIRE(c.settle(kTimeZero + 30s).empty());
  auto owned_by = [&](NodeIndex observer, NodeIndex subject) {
    for (const auto& [s, node] : c.lease(observer)->owners())
      if (node == c.sim().id(subject)) return true;
    return false;
  };
  auto nobody_sees = [&](NodeIndex subject) {
    for (NodeIndex i = 0; i < c.size(); ++i)
      if (i != subject && c.lease(i) && owned_by(i, subject)) return false;
    return true;
  };

  // Leave: released and gone everywhere within seconds.
  c.sim().leave(5, /*release=*/true);
  c.sim().run_until([&] { return nobody_sees(5); }, c.sim().now() + 5s);
  CHECK(nobody_sees(5));
  // Back after a leave, from the same disk: it claims afresh and is placed again.
  c.crash(5);
  c.start(5, {0});
  CHECK(c.settle(c.sim().now() + 30s).empty());
  CHECK_FALSE(nobody_sees(5));

  // Crash: still owned just before its TTL, free after it.
  const TimePoint crash_at = c.sim().now();
  c.crash(6);
  c.sim().run_until(crash_at + 60s);
  CHECK_FALSE(nobody_sees(6));
  c.sim().run_until([&] { return nobody_sees(6); }, crash_at + 150s);
  CHECK(nobody_sees(6));
  CHECK(c.sim().now() - crash_at >= 60s);  // freed by expiry, not earlier

  // Eviction of a crashed member: free at once.
  c.crash(7);
  c.sim().run_for(2s);
  CHECK(c.evict(0, 7));
  c.sim().run_until([&] { return nobody_sees(7); }, c.sim().now() + 5s);
  CHECK(nobody_sees(7));
}

TEST_CASE("sim.lease_expired_claim_not_revived") {
  // A full pool of 4 subnets. Member 3 crashes; after its lease has expired everywhere, a
  // newcomer (member 4) takes the freed subnet and settles. Then member 3 restarts from its
  // disk, which still holds its old claim with its old, earlier stamp. The newcomer keeps
  // the subnet: the expired claim is not revived, and member 3, finding no free subnet,
  // holds none (every member computes the same owners).
  const uint64_t seed = seed_or(34);
  INFO("seed " << seed);
  LeaseCluster c(seed, 5, full_pool_of_four());
  for (NodeIndex i = 0; i < 4; ++i) c.start(i, {0});
  REQUIRE(c.settle(kTimeZero + 30s).empty());
  const Cidr lost = *c.lease(3)->ready_subnet();

  c.crash(3);
  c.sim().run_for(90s);  // past the TTL: member 3's lease has expired everywhere
  c.start(4, {0});
  REQUIRE(c.settle(c.sim().now() + 30s).empty());
  REQUIRE(c.lease(4)->ready_subnet() == lost);

  c.start(3, {0});
  c.sim().run_for(30s);
  CHECK(c.lease(4)->ready_subnet() == lost);
  CHECK(c.lease(0)->owners().at(lost) == c.sim().id(4));
  CHECK(!c.lease(3)->ready_subnet());
  CHECK(c.lease(3)->pool_exhausted());  // and it can say why
  for (NodeIndex i = 0; i < 5; ++i) CHECK(c.lease(i)->owners() == c.lease(0)->owners());

  // A subnet frees up (member 1 leaves): member 3 claims it.
  c.sim().leave(1, /*release=*/true);
  c.sim().run_for(30s);
  CHECK(c.lease(3)->ready_subnet());
  CHECK(!c.lease(3)->pool_exhausted());
}

TEST_CASE("sim.lease_long_partition_holder_keeps_subnet") {
  // The rule for a partition longer than the TTL (lease/lease_core.h): a full pool of 4
  // subnets, cut 2/2. Each side sees the other's leases expire; a newcomer (member 4) on the
  // right side takes one of the left side's subnets. The left side's holders kept renewing
  // all along, so after the heal their claims are continuous and earlier: they keep their
  // subnets, the newcomer gives its claim up and, with no subnet free, says so. Every member
  // computes the same owners, and a subnet that frees up goes to the newcomer.
  const uint64_t seed = seed_or(35);
  INFO("seed " << seed);
  LeaseCluster c(seed, 5, full_pool_of_four());
  for (NodeIndex i = 0; i < 4; ++i) c.start(i, {0});
  REQUIRE(c.settle(kTimeZero + 30s).empty());
  const auto before = subnets(c);

  c.sim().network().partition({{0, 1}, {2, 3, 4}});
  const TimePoint split = c.sim().now();
  c.start(4, {2});
  // Past the TTL on both sides: the newcomer takes a subnet the right side saw expire.
  REQUIRE(c.sim().run_until([&] { return c.lease(4)->ready_subnet().has_value(); }, split + 150s));
  const Cidr taken = *c.lease(4)->ready_subnet();
  REQUIRE((taken == before.at(0) || taken == before.at(1)));
  c.sim().run_until(split + 150s);
  CHECK(c.lease(0)->ready_subnet() == before.at(0));  // the holders never stopped renewing
  CHECK(c.lease(1)->ready_subnet() == before.at(1));

  c.sim().network().heal();
  const TimePoint healed = c.sim().now();
  auto agreed = [&] {
    for (NodeIndex i = 1; i < 5; ++i)
      if (c.lease(i)->owners() != c.lease(0)->owners()) return false;
    return !c.lease(4)->ready_subnet().has_value();
  };
  CHECK(c.sim().run_until(agreed, healed + 90s));
  MESSAGE("agreed " << to_seconds(c.sim().now() - healed) << " s after the heal");
  for (NodeIndex i = 0; i < 4; ++i) CHECK(c.lease(i)->ready_subnet() == before.at(i));
  CHECK(c.lease(0)->owners().at(taken) != c.sim().id(4));
  CHECK(c.lease(4)->pool_exhausted());

  c.sim().leave(3, /*release=*/true);
  c.sim().run_for(30s);
  CHECK(c.lease(4)->ready_subnet() == before.at(3));
  CHECK(!c.lease(4)->pool_exhausted());
}

TEST_CASE("sim.lease_renewals_start_no_syncs") {
  // Every member renews each ttl/2 (here every 30 s). A renewal changes no subnet, so it
  // must not make members sync: probe acks carry the table's content hash, which renewals
  // leave as it is, and renewals do not count as a busy table. Gossip alone spreads them,
  // and every record stays valid everywhere. Before, each renewal in flight made most acks
  // differ, and every member exchanged lease digests about once a second.
  const uint64_t seed = seed_or(36);
  INFO("seed " << seed);
  const size_t n = 200;
  LeaseCluster c(seed, n, with_ttl(std::chrono::seconds(60)));
  for (NodeIndex i = 0; i < n; ++i) c.start(i, {0, 1, 2});
  REQUIRE(c.settle(kTimeZero + 60s).empty());
  c.sim().run_for(10s);  // the busy pace of the start ends
  uint64_t syncs_before = 0;
  for (NodeIndex i = 0; i < n; ++i) syncs_before += c.lease(i)->digest_syncs();
  const uint64_t stream_bytes_before = c.sim().traffic().stream_bytes;
  const TimePoint from = c.sim().now();
  std::vector<uint64_t> versions;  // as member 0 holds them
  for (NodeIndex i = 0; i < n; ++i)
    versions.push_back(c.lease(0)->table().find(c.sim().id(i))->version);

  c.sim().run_for(150s);  // five renewals each
  uint64_t syncs = 0;
  for (NodeIndex i = 0; i < n; ++i) syncs += c.lease(i)->digest_syncs();
  syncs -= syncs_before;
  const double seconds = to_seconds(c.sim().now() - from);
  MESSAGE(syncs << " digest-triggered syncs in " << seconds << " s; lease and push-pull streams "
                << (c.sim().traffic().stream_bytes - stream_bytes_before) / seconds / n
                << " bytes/s per member");
  CHECK(syncs < n);  // well under one per member, against about one per member per second
  // Every member renewed at least three times (each 30 s, checked every 10 s), and member 0
  // heard it; and all still agree.
  for (NodeIndex i = 0; i < n; ++i)
    CHECK(c.lease(0)->table().find(c.sim().id(i))->version >= versions[i] + 3);
  const std::string problem = c.placed_and_agreed();
  CHECK_MESSAGE(problem.empty(), problem);
}
