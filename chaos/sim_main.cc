// shoal-sim: runs a gossip cluster on the deterministic simulator and shows what happened.
// The chaos harness's command-line face; also what scripts/demo runs until the agent exists.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "chaos/lease_cluster.h"
#include "chaos/scenario.h"

using namespace shoal;
using namespace shoal::chaos;

namespace {

constexpr const char* kUsage = R"(usage: shoal-sim [options]

Runs a cluster of shoal gossip members on virtual time (no network, no root needed) and
prints the membership as one member sees it, and every death and suspicion on the way.
The same --seed replays the same run exactly.

options:
  --nodes N           members (default 5; 1..5000)
  --seconds S         simulated seconds to run (default 60)
  --seed N            random seed (default 1)
  --profile NAME      gossip profile: lan, wan or local (default lan)
  --loss P            random loss on every link from --fault-at on, 0..1 (default 0)
  --crash I           crash member I at --fault-at
  --restart-at S      restart the crashed member at S seconds
  --partition         split the cluster in two halves at --fault-at
  --heal-at S         remove the partition and the loss at S seconds
  --fault-at S        when faults start (default 20)
  --view I            whose membership table to print (default 0)
  --leases NETWORK    also run the lease table over NETWORK (e.g. 198.18.0.0/16) and
                      print who owns which subnet, as --view sees it
  --quiet             print only the final table and the summary
  -h, --help          this text
)";

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr, "shoal-sim: %s\n(see shoal-sim --help)\n", what.c_str());
  std::exit(2);
}

double number(const char* flag, const char* value, double min, double max) {
  if (!value) usage_error(std::string(flag) + " needs a value");
  char* end = nullptr;
  const double v = std::strtod(value, &end);
  if (end == value || *end != '\0' || !(v >= min && v <= max)) {
    char range[64];
    std::snprintf(range, sizeof(range), "%g to %g", min, max);
    usage_error(std::string(flag) + " must be a number from " + range + ", not '" + value + "'");
  }
  return v;
}

Duration seconds_of(double s) { return Duration(static_cast<int64_t>(s * 1e6)); }

void print_table(const Simulator& sim, NodeIndex view) {
  const auto* core = sim.core(view);
  if (!core) {
    std::printf("member %u is down: no table to show\n", view);
    return;
  }
  std::printf("\nmembers as node-%u sees them at t=%.1fs:\n", view, to_seconds(sim.now()));
  std::printf("  %-10s %-18s %-9s %-11s %s\n", "NAME", "ADDRESS", "STATE", "INCARNATION", "ID");
  for (const auto& m : core->members())
    std::printf("  %-10s %-18s %-9s %-11llu %s\n", m.name.c_str(), m.address.to_string().c_str(),
                std::string(gossip::to_string(m.state)).c_str(),
                static_cast<unsigned long long>(m.incarnation), m.id.short_hex().c_str());
}

void print_leases(const LeaseCluster& cluster, NodeIndex view) {
  const auto* lease = cluster.lease(view);
  if (!lease) return;
  std::printf("\nleases as node-%u sees them:\n", view);
  std::printf("  %-20s %-10s %-16s %s\n", "SUBNET", "OWNER", "UNDERLAY", "VERSION");
  for (const auto& [subnet, owner] : lease->owners()) {
    const auto* record = lease->table().find(owner);
    std::printf("  %-20s %-10s %-16s %llu\n", subnet.to_string().c_str(), record->name.c_str(),
                record->underlay.to_string().c_str(),
                static_cast<unsigned long long>(record->version));
  }
  std::printf("  (%llu re-allocations in all)\n",
              static_cast<unsigned long long>(cluster.reallocations()));
}

// The lease variant: members run gossip and the lease table together.
int run_with_leases(const std::string& network, size_t nodes, uint64_t seed, double seconds,
                    long crash, double fault_at, double restart_at, NodeIndex view) {
  lease::LeaseConfig config;
  auto made = lease::NetworkConfig::make(lease::NetworkSpec{network});
  if (!made) usage_error("--leases: " + made.error().to_string());
  config.network = *made;
  LeaseCluster cluster(seed, nodes, config);
  for (NodeIndex i = 0; i < nodes; ++i) cluster.start(i, {0});
  Simulator& sim = cluster.sim();
  if (crash >= 0) {
    sim.at(kTimeZero + seconds_of(fault_at), [&] { cluster.crash(static_cast<NodeIndex>(crash)); });
    if (restart_at >= 0)
      sim.at(kTimeZero + seconds_of(restart_at),
             [&] { cluster.start(static_cast<NodeIndex>(crash), {0}); });
  }
  sim.run_until(kTimeZero + seconds_of(seconds));
  print_table(sim, view);
  print_leases(cluster, view);
  const std::string problem = cluster.placed_and_agreed();
  std::printf("\n%s\n", problem.empty() ? "every member up holds one subnet, and all agree"
                                        : ("not settled yet: " + problem).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  size_t nodes = 5;
  double run_seconds = 60, fault_at = 20, restart_at = -1, heal_at = -1, loss = 0;
  uint64_t seed = 1;
  std::string profile = "lan";
  long crash = -1;
  long view = 0;
  bool partition = false, quiet = false;
  std::string leases;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    auto take = [&] { ++i; };
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("shoal-sim %s\n", SHOAL_VERSION);
      return 0;
    } else if (a == "--nodes") {
      nodes = static_cast<size_t>(number("--nodes", v, 1, 5000)), take();
    } else if (a == "--seconds") {
      run_seconds = number("--seconds", v, 1, 86400), take();
    } else if (a == "--seed") {
      seed = static_cast<uint64_t>(number("--seed", v, 0, 1e15)), take();
    } else if (a == "--profile") {
      if (!v || !gossip::Config::profile(v)) usage_error("--profile must be lan, wan or local");
      profile = v, take();
    } else if (a == "--loss") {
      loss = number("--loss", v, 0, 1), take();
    } else if (a == "--crash") {
      crash = static_cast<long>(number("--crash", v, 0, 4999)), take();
    } else if (a == "--restart-at") {
      restart_at = number("--restart-at", v, 0, 86400), take();
    } else if (a == "--partition") {
      partition = true;
    } else if (a == "--heal-at") {
      heal_at = number("--heal-at", v, 0, 86400), take();
    } else if (a == "--fault-at") {
      fault_at = number("--fault-at", v, 0, 86400), take();
    } else if (a == "--view") {
      view = static_cast<long>(number("--view", v, 0, 4999)), take();
    } else if (a == "--leases") {
      if (!v) usage_error("--leases needs a network, e.g. 198.18.0.0/16");
      leases = v, take();
    } else if (a == "--quiet") {
      quiet = true;
    } else {
      usage_error("unknown option '" + std::string(a) + "'");
    }
  }
  if (crash >= static_cast<long>(nodes)) usage_error("--crash names a member that does not exist");
  if (view >= static_cast<long>(nodes)) usage_error("--view names a member that does not exist");
  if (restart_at >= 0 && crash < 0) usage_error("--restart-at needs --crash");

  if (!leases.empty()) {
    if (loss > 0 || partition || heal_at >= 0)
      usage_error("--leases runs with --crash and --restart-at only, for now");
    return run_with_leases(leases, nodes, seed, run_seconds, crash, fault_at, restart_at,
                           static_cast<NodeIndex>(view));
  }

  Scenario s;
  s.seed = seed;
  s.topology.nodes = nodes;
  s.topology.config = *gossip::Config::profile(profile);
  s.run_for = seconds_of(run_seconds);
  s.stop_early = false;
  if (loss > 0) s.at(seconds_of(fault_at), Fault::loss(loss));
  if (crash >= 0) s.at(seconds_of(fault_at), Fault::crash(static_cast<NodeIndex>(crash)));
  if (crash >= 0 && restart_at >= 0)
    s.at(seconds_of(restart_at), Fault::restart(static_cast<NodeIndex>(crash), {0}));
  if (partition) {
    std::vector<NodeIndex> a, b;
    for (NodeIndex i = 0; i < nodes; ++i) (i < nodes / 2 ? a : b).push_back(i);
    s.at(seconds_of(fault_at), Fault::partition({a, b}));
  }
  if (heal_at >= 0) s.at(seconds_of(heal_at), Fault::heal());
  s.setup = [&](Simulator& sim) {
    if (quiet) return;
    sim.on_event([&sim](TimePoint at, NodeIndex observer, const gossip::Event& e) {
      using K = gossip::Event::Kind;
      if (e.kind == K::kUserMessage || e.kind == K::kJoined || e.kind == K::kUpdated) return;
      auto subject = sim.index_of(e.member.id);
      std::printf("t=%7.3fs  node-%-4u sees node-%-4u %s (incarnation %llu)\n", to_seconds(at),
                  observer, subject ? *subject : 0, std::string(gossip::to_string(e.kind)).c_str(),
                  static_cast<unsigned long long>(e.member.incarnation));
    });
  };
  s.check_at(s.run_for - 1us, "table", [&](const Simulator& sim) {
    print_table(sim, static_cast<NodeIndex>(view));
    return std::string();
  });
  const Report r = run(s);
  std::printf(
      "\n%zu members, seed %llu, %.0f simulated s: %zu death events; %zu healthy members wrongly "
      "declared dead\n",
      nodes, static_cast<unsigned long long>(seed), run_seconds,
      static_cast<size_t>(
          std::count_if(r.events.begin(), r.events.end(),
                        [](auto& e) { return e.kind == gossip::Event::Kind::kDead; })),
      r.false_deaths());
  return 0;
}
