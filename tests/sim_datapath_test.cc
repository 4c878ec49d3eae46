// Simulation of the datapath plan at scale: 1,000 members, a partition during which both
// sides hand out subnets, and the heal. Afterwards every member's plan (node::plan, as the
// agent computes it) routes every other owner's subnet, by the path `auto` picks, and
// nothing else. A failure prints its seed; SHOAL_SEED=<seed> replays it.
#include <doctest/doctest.h>

#include <set>
#include <sstream>

#include "chaos/lease_cluster.h"
#include "node/datapath_plan.h"
#include "tests/sim_seed.h"

using namespace shoal;
using namespace shoal::chaos;

namespace {

// The member's segment: the /24 of its underlay address (the simulator uses three).
Cidr segment_of(const IpAddress& a) { return *Cidr::containing(a, 24); }

// Empty when `node`'s plan routes exactly the subnets others own, each by the right path.
std::string check_plan(LeaseCluster& c, NodeIndex node) {
  const lease::LeaseCore& lease = *c.lease(node);
  const IpAddress underlay = lease.own().underlay;
  const node::LocalFacts facts{underlay, "u0", 1500, {segment_of(underlay)}, {}};
  node::DatapathConfig config;
  config.mode = node::DatapathMode::kAuto;
  const node::DatapathPlan plan = node::plan(lease.table(), lease.owners(), c.sim().id(node),
                                             c.sim().wall(node), facts, config);
  std::ostringstream problem;
  if (!plan.skipped.empty()) problem << plan.skipped.size() << " peers skipped; ";
  std::set<Cidr> routed;
  for (const auto& r : plan.routes) {
    routed.insert(r.subnet);
    auto owner = lease.owners().find(r.subnet);
    if (owner == lease.owners().end() || owner->second != r.owner)
      problem << r.subnet.to_string() << " routed to a non-owner; ";
    const bool same_segment = segment_of(r.underlay) == segment_of(underlay);
    if ((r.path == node::Path::kHostGw) != same_segment)
      problem << r.subnet.to_string() << " by the wrong path; ";
  }
  std::set<Cidr> expected;
  for (const auto& [subnet, owner] : lease.owners())
    if (owner != c.sim().id(node)) expected.insert(subnet);
  if (routed != expected)
    problem << "routes " << routed.size() << " subnets, others own " << expected.size();
  if (node::desired_state(plan).routes.size() != expected.size())
    problem << "; kernel routes differ";
  return problem.str();
}

}  // namespace

TEST_CASE("sim.datapath_1000_after_heal") {
  const uint64_t seed = seed_or(41);
  INFO("seed " << seed);
  LeaseCluster c(seed, 1000, LeaseCluster::config_for("100.64.0.0/10", 24));
  for (NodeIndex i = 0; i < 800; ++i) c.start(i, {0, 1, 2});
  REQUIRE(c.settle(kTimeZero + 60s).empty());

  std::vector<NodeIndex> left, right;
  for (NodeIndex i = 0; i < 1000; ++i)
    ((i < 400 || (i >= 800 && i < 900)) ? left : right).push_back(i);
  c.sim().network().partition({left, right});
  const TimePoint split = c.sim().now();
  for (NodeIndex i = 800; i < 900; ++i) c.start(i, {0});
  for (NodeIndex i = 900; i < 1000; ++i) c.start(i, {400});
  c.sim().run_until(split + 30s);

  c.sim().network().heal();
  const TimePoint healed = c.sim().now();
  const std::string problem = c.settle(healed + 120s);
  REQUIRE_MESSAGE(problem.empty(), problem);
  MESSAGE("agreed " << to_seconds(c.sim().now() - healed) << " s after the heal");
  size_t bad = 0;
  for (NodeIndex i = 0; i < 1000; ++i) {
    const std::string p = check_plan(c, i);
    if (!p.empty() && bad++ < 5) MESSAGE("node " << i << ": " << p);
  }
  CHECK(bad == 0);
}
