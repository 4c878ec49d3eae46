// Scenarios: a topology, a timeline of faults and a list of checks, run on the simulator.
//
//   Scenario s{.seed = 7, .topology = {.nodes = 100}};
//   s.at(60s, Fault::crash(5));
//   s.eventually(60s, 90s, "all see 5 dead", checks::all_see(5, MemberState::kDead));
//   Report r = run(s);   // r.ok(), r.failures, r.seed: replay with the same seed
//
// A check returns an empty string when it holds, else what it found wrong.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "chaos/simulator.h"
#include "gossip/config.h"
#include "gossip/member.h"

namespace shoal::chaos {

struct Topology {
  size_t nodes = 10;  // on the public internet: members 0 .. nodes-1
  // Sites behind NAT routers; their members are numbered after the public ones, site by site.
  struct NatSite {
    NatKind kind = NatKind::kCone;
    size_t hosts = 1;
  };
  std::vector<NatSite> sites;
  Duration mapping_timeout = 60s;
  gossip::Config config = gossip::Config::lan();
  std::vector<NodeIndex> seeds = {0};
  // Seeds start at time zero; the others start at uniformly random times in this window.
  Duration join_window = 1s;
  Duration latency_min = 1ms, latency_max = 5ms;
};

struct Fault {
  std::string description;
  std::function<void(Simulator&)> apply;

  static Fault crash(NodeIndex node);
  static Fault restart(NodeIndex node, std::vector<NodeIndex> seeds);
  static Fault leave(NodeIndex node);
  static Fault loss(double probability);
  static Fault node_loss(NodeIndex node, double probability);
  static Fault node_delay(NodeIndex node, Duration delay);
  static Fault partition(std::vector<std::vector<NodeIndex>> groups);
  static Fault one_way(NodeIndex from, NodeIndex to);
  static Fault heal();
};

using Check = std::function<std::string(const Simulator&)>;

// Who declared whom what, and when: the simulator's member events, minus user messages.
struct EventRecord {
  TimePoint at;
  NodeIndex observer;
  NodeIndex subject;
  gossip::Event::Kind kind;
};

struct Report {
  uint64_t seed = 0;
  std::vector<std::string> failures;
  std::vector<EventRecord> events;
  std::set<NodeIndex> crashed;  // members crashed or left on purpose during the run
  std::vector<std::pair<std::string, TimePoint>> met;  // `eventually` checks, when they held
  TimePoint ended;
  bool ok() const { return failures.empty(); }
  // "seed 7: <first failure> (+N more)", for test output.
  std::string summary() const;
  // Members never crashed nor left that someone declared dead: false positives.
  size_t false_deaths() const;
};

struct Scenario {
  uint64_t seed = 1;
  Topology topology;
  Duration run_for = 60s;
  // End the run once every check is done, rather than at run_for.
  bool stop_early = true;

  struct TimedFault {
    Duration at;
    Fault fault;
  };
  struct TimedCheck {
    Duration from;  // for `eventually`: checked every 100 ms from here ...
    Duration at;    // ... until it holds or this deadline passes
    bool eventually;
    std::string name;
    Check check;
  };
  std::vector<TimedFault> timeline;
  std::vector<TimedCheck> checks;
  // Called once the simulator exists, before anything runs: extra hooks or bookkeeping.
  std::function<void(Simulator&)> setup;

  Scenario& at(Duration when, Fault fault);
  Scenario& check_at(Duration when, std::string name, Check check);
  // Must hold at least once between `from` and `deadline`.
  Scenario& eventually(Duration from, Duration deadline, std::string name, Check check);
};

Report run(const Scenario& scenario);

namespace checks {
// Every member that is up sees exactly the members that are up as alive (or suspect, if
// allow_suspect), and nobody else as alive.
Check all_up_see_each_other(bool allow_suspect = false);
// Every member that is up (other than `subject`) sees `subject` in `state`.
Check all_see(NodeIndex subject, gossip::MemberState state);
// Every up member of `group` sees every member of `others` as dead (not alive or suspect).
Check group_sees_dead(std::vector<NodeIndex> group, std::vector<NodeIndex> others);
}  // namespace checks

}  // namespace shoal::chaos
