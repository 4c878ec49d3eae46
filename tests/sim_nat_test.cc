// Simulation tests of gossip across NATs: sites behind simulated cone and symmetric NAT
// routers (chaos/nat.h), all sharing one LAN range, plus a few public members, with no host
// configured as special. A failure prints its seed; SHOAL_SEED=<seed> replays it.
// SHOAL_NAT_FULL=1 runs sim.nat_sites at the size: 1,000 members in 40 sites plus 5
// public hosts (about 2 minutes); SHOAL_NAT_MID=1 at 205 members in 20 sites (3 s); the default
// is 63 members in 10 sites.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "chaos/scenario.h"
#include "tests/sim_report.h"
#include "tests/sim_seed.h"

using namespace shoal;
using namespace shoal::chaos;
using gossip::MemberState;
using gossip::PathKind;

namespace {

// Every 5th site is symmetric, the rest cone.
Topology sites(size_t public_hosts, size_t site_count, size_t hosts_per_site) {
  Topology t;
  t.nodes = public_hosts;
  t.seeds = {0};
  t.join_window = 10s;
  for (size_t s = 0; s < site_count; ++s)
    t.sites.push_back({s % 5 == 4 ? NatKind::kSymmetric : NatKind::kCone, hosts_per_site});
  return t;
}

// How every member reaches every other it has probed, counted by kind; "unknown" counts the
// pairs where one end sees the other alive but never had an answer on any path yet.
std::map<PathKind, size_t> path_census(const Simulator& sim) {
  std::map<PathKind, size_t> census;
  for (NodeIndex i = 0; i < sim.size(); ++i) {
    const auto* core = sim.core(i);
    if (!core) continue;
    for (const auto& m : core->members()) {
      if (m.id == core->id() || m.state != MemberState::kAlive) continue;
      census[gossip::path_kind(m.path, m.address)]++;
    }
  }
  return census;
}

std::string describe(const std::map<PathKind, size_t>& census) {
  std::string out;
  for (const auto& [kind, n] : census)
    out += std::string(out.empty() ? "" : ", ") + std::string(gossip::to_string(kind)) + " " +
           std::to_string(n);
  return out;
}

// What kind of path member `i` should end up with to member `j` once both know their NATs:
// a public member answers at its address, so does one on the same LAN; two cone NATs punch a
// hole; through a symmetric NAT a hole opens only toward a public member (its packets came
// from the mapping toward it), else only relays work.
PathKind expected(const Simulator& sim, NodeIndex i, NodeIndex j) {
  const SiteIndex si = sim.site_of(i), sj = sim.site_of(j);
  if (sj == 0 || si == sj) return PathKind::kDirect;
  auto symmetric = [&](SiteIndex s) { return s != 0 && sim.nat(s).kind() == NatKind::kSymmetric; };
  if (symmetric(si) || symmetric(sj)) return si == 0 ? PathKind::kPunched : PathKind::kRelayed;
  return PathKind::kPunched;
}

}  // namespace

TEST_CASE("sim.nat_sites") {
  const bool full = std::getenv("SHOAL_NAT_FULL") != nullptr;
  const bool mid = std::getenv("SHOAL_NAT_MID") != nullptr;
  Scenario s;
  s.seed = seed_or(40);
  s.topology = full ? sites(5, 40, 25) : mid ? sites(5, 20, 10) : sites(3, 10, 6);
  const Duration converge_by = full ? 240s : mid ? 150s : 90s;
  s.run_for = full ? 600s : 240s;
  s.stop_early = false;
  s.eventually(10s, converge_by, "all see all alive", checks::all_up_see_each_other());

  // Every pair probed since the cluster settled found a path of the kind its NATs allow (a
  // probe before that may have found a member that did not yet know its own NAT; the next
  // probe, a whole round of probes later, upgrades it).
  s.check_at(
      s.run_for - 1s, "every pair probed since it settled has a path of the expected kind",
      [converge_by](const Simulator& sim) -> std::string {
        size_t checked = 0, wrong = 0;
        std::string first;
        for (NodeIndex i = 0; i < sim.size(); ++i) {
          for (const auto& m : sim.core(i)->members()) {
            const auto j = sim.index_of(m.id);
            if (!j || *j == i) continue;
            const PathKind got = gossip::path_kind(m.path, m.address);
            if (got == PathKind::kUnknown || m.path.decided_at == kTimeNever ||
                m.path.decided_at < kTimeZero + converge_by)
              continue;  // not probed since the cluster settled
            checked++;
            const PathKind want = expected(sim, i, *j);
            if (got == want ||
                (want == PathKind::kDirect && got == PathKind::kPunched && sim.site_of(*j) != 0))
              continue;
            wrong++;
            if (first.empty())
              first = std::to_string(i) + " -> " + std::to_string(*j) + " is " +
                      std::string(gossip::to_string(got)) + ", expected " +
                      std::string(gossip::to_string(want));
          }
        }
        MESSAGE("paths: " << describe(path_census(sim)) << " (" << checked
                          << " probed since the cluster settled, " << wrong
                          << " not of the expected kind)");
        if (checked == 0) return "no pair was probed since the cluster settled";
        return wrong == 0 ? std::string() : std::to_string(wrong) + " pairs, the first " + first;
      });

  // Members behind NAT learned their reflexive address; those behind symmetric NAT know it.
  s.check_at(s.run_for - 1s, "every member knows what its NAT is",
             [](const Simulator& sim) -> std::string {
               for (NodeIndex i = 0; i < sim.size(); ++i) {
                 const auto& me = sim.core(i)->self();
                 const SiteIndex site = sim.site_of(i);
                 if (site == 0) {
                   if (!me.relay || !me.candidates.empty())
                     return "public member " + std::to_string(i) + " does not offer to relay";
                 } else if (sim.nat(site).kind() == NatKind::kSymmetric) {
                   if (!me.symmetric_nat) return std::to_string(i) + " missed its symmetric NAT";
                 } else if (me.candidates.size() != 1 ||
                            me.candidates[0].address != sim.nat(site).public_ip()) {
                   return std::to_string(i) + " has no reflexive candidate on its NAT";
                 }
               }
               return {};
             });

  // The relays' load (indirect probes run for others) is spread over the public members.
  s.check_at(s.run_for - 1s, "relay load spread evenly", [&s](const Simulator& sim) -> std::string {
    uint64_t total = 0, most = 0;
    for (NodeIndex i = 0; i < s.topology.nodes; ++i) {
      const uint64_t n = sim.core(i)->stats().relayed_probes;
      total += n;
      most = std::max(most, n);
      MESSAGE("relay " << i << ": " << n << " indirect probes");
    }
    const double mean = double(total) / double(s.topology.nodes);
    if (total == 0) return "no relay ever relayed";
    return double(most) <= 1.5 * mean ? std::string()
                                      : "the busiest relay carried " + std::to_string(most) +
                                            ", the mean is " + std::to_string(mean);
  });

  Report r = run(s);
  require_ok(r);
  CHECK(r.false_deaths() == 0);
}

TEST_CASE("sim.nat_remap") {
  // A cone site's router restarts (every mapping forgotten, new ports from now on) twice.
  // Its members are never declared dead, learn their new reflexive address and advertise it,
  // and the others' paths to them move to the new mapping.
  Scenario s;
  s.seed = seed_or(41);
  s.topology = sites(3, 4, 4);
  s.run_for = 200s;
  s.stop_early = false;
  s.eventually(10s, 60s, "all see all alive", checks::all_up_see_each_other());
  auto before = std::make_shared<Endpoint>();
  s.at(70s, Fault{"flush site 1's NAT", [before](Simulator& sim) {
                    *before = sim.core(sim.size() - 16)->self().candidates.at(0);
                    sim.nat(1).flush();
                  }});
  s.at(130s, Fault{"flush site 1's NAT again", [](Simulator& sim) { sim.nat(1).flush(); }});
  s.eventually(130s, 190s, "site 1 advertises its new mapping",
               [before](const Simulator& sim) -> std::string {
                 const auto& me = sim.core(sim.size() - 16)->self();
                 if (me.candidates.size() != 1 || me.candidates[0] == *before)
                   return "still " + (me.candidates.empty() ? std::string("nothing")
                                                            : me.candidates[0].to_string());
                 return {};
               });
  s.check_at(199s, "all see all alive after the remaps", checks::all_up_see_each_other());
  Report r = run(s);
  require_ok(r);
  CHECK(r.false_deaths() == 0);
}
