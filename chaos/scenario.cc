#include "chaos/scenario.h"

#include <algorithm>
#include <sstream>

namespace shoal::chaos {

using gossip::MemberState;

Fault Fault::crash(NodeIndex node) {
  return {"crash " + std::to_string(node), [node](Simulator& sim) { sim.crash(node); }};
}

Fault Fault::restart(NodeIndex node, std::vector<NodeIndex> seeds) {
  return {"restart " + std::to_string(node),
          [node, seeds](Simulator& sim) { sim.start(node, seeds); }};
}

Fault Fault::leave(NodeIndex node) {
  return {"leave " + std::to_string(node), [node](Simulator& sim) { sim.leave(node); }};
}

Fault Fault::loss(double p) {
  return {"loss " + std::to_string(p), [p](Simulator& sim) { sim.network().set_loss(p); }};
}

Fault Fault::node_loss(NodeIndex node, double p) {
  return {"loss " + std::to_string(p) + " at " + std::to_string(node),
          [node, p](Simulator& sim) { sim.network().set_node_loss(node, p); }};
}

Fault Fault::node_delay(NodeIndex node, Duration d) {
  return {"delay " + std::to_string(to_seconds(d)) + "s at " + std::to_string(node),
          [node, d](Simulator& sim) { sim.network().set_node_delay(node, d); }};
}

Fault Fault::partition(std::vector<std::vector<NodeIndex>> groups) {
  return {"partition into " + std::to_string(groups.size()),
          [groups](Simulator& sim) { sim.network().partition(groups); }};
}

Fault Fault::one_way(NodeIndex from, NodeIndex to) {
  return {"block " + std::to_string(from) + "->" + std::to_string(to),
          [from, to](Simulator& sim) { sim.network().block(from, to); }};
}

Fault Fault::heal() {
  return {"heal", [](Simulator& sim) { sim.network().heal(); }};
}

Scenario& Scenario::at(Duration when, Fault fault) {
  timeline.push_back({when, std::move(fault)});
  return *this;
}

Scenario& Scenario::check_at(Duration when, std::string name, Check check) {
  checks.push_back({when, when, false, std::move(name), std::move(check)});
  return *this;
}

Scenario& Scenario::eventually(Duration from, Duration deadline, std::string name, Check check) {
  checks.push_back({from, deadline, true, std::move(name), std::move(check)});
  return *this;
}

std::string Report::summary() const {
  std::ostringstream out;
  out << "seed " << seed << ": ";
  if (failures.empty()) {
    out << "ok";
  } else {
    out << failures.front();
    if (failures.size() > 1) out << " (+" << failures.size() - 1 << " more)";
  }
  return out.str();
}

size_t Report::false_deaths() const {
  std::set<NodeIndex> wrongly_dead;
  for (const EventRecord& e : events)
    if (e.kind == gossip::Event::Kind::kDead && !crashed.count(e.subject))
      wrongly_dead.insert(e.subject);
  return wrongly_dead.size();
}

Report run(const Scenario& scenario) {
  const Topology& topo = scenario.topology;
  Simulator sim(scenario.seed, topo.latency_min, topo.latency_max);
  Report report;
  report.seed = scenario.seed;
  sim.on_event([&](TimePoint at, NodeIndex observer, const gossip::Event& e) {
    if (e.kind == gossip::Event::Kind::kUserMessage || e.kind == gossip::Event::Kind::kJoined)
      return;
    if (auto subject = sim.index_of(e.member.id))
      report.events.push_back({at, observer, *subject, e.kind});
  });
  for (size_t i = 0; i < topo.nodes; ++i) sim.add_node(topo.config);
  for (const auto& spec : topo.sites) {
    const SiteIndex site = sim.add_site(spec.kind, topo.mapping_timeout);
    for (size_t h = 0; h < spec.hosts; ++h) sim.add_node(topo.config, site);
  }
  if (scenario.setup) scenario.setup(sim);

  // Start times: seeds at zero, everyone else spread over the join window.
  Rng starts(scenario.seed ^ 0x5eed5eed5eedULL);
  for (NodeIndex i = 0; i < sim.size(); ++i) {
    const bool is_seed = std::count(topo.seeds.begin(), topo.seeds.end(), i) > 0;
    const auto window = static_cast<uint64_t>(topo.join_window.count());
    const Duration offset =
        is_seed || window == 0 ? Duration::zero() : Duration(starts.below(window));
    sim.at(kTimeZero + offset, [&sim, i, &topo] { sim.start(i, topo.seeds); });
  }
  for (const auto& f : scenario.timeline) {
    sim.at(kTimeZero + f.at, [&sim, &f] { f.fault.apply(sim); });
  }
  for (const auto& c : scenario.checks) {
    if (!c.eventually) {
      sim.at(kTimeZero + c.at, [&sim, &c, &report] {
        if (auto problem = c.check(sim); !problem.empty())
          report.failures.push_back(c.name + " at " + std::to_string(to_seconds(sim.now())) +
                                    "s: " + problem);
      });
    }
  }
  // `eventually` checks: polled every 100 ms from the start until they hold once.
  struct Pending {
    const Scenario::TimedCheck* check;
    std::string last_problem;
  };
  std::vector<Pending> pending;
  for (const auto& c : scenario.checks)
    if (c.eventually) pending.push_back({&c, {}});
  const TimePoint end = kTimeZero + scenario.run_for;
  // Once every `eventually` check has held and nothing else is scheduled, the rest of the
  // run could only add false deaths; when none are watched for (stop_early), stop there.
  TimePoint last_fixed = kTimeZero;
  for (const auto& f : scenario.timeline) last_fixed = std::max(last_fixed, kTimeZero + f.at);
  for (const auto& c : scenario.checks)
    if (!c.eventually) last_fixed = std::max(last_fixed, kTimeZero + c.at);
  while (sim.now() < end) {
    if (scenario.stop_early && pending.empty() && sim.now() > last_fixed) break;
    sim.run_until(std::min(end, sim.now() + 100ms));
    for (auto it = pending.begin(); it != pending.end();) {
      if (sim.now() < kTimeZero + it->check->from) {
        ++it;
        continue;
      }
      std::string problem = it->check->check(sim);
      if (problem.empty()) {
        report.met.push_back({it->check->name, sim.now()});
        it = pending.erase(it);
      } else if (sim.now() >= kTimeZero + it->check->at) {
        report.failures.push_back(it->check->name + " not met by " +
                                  std::to_string(to_seconds(it->check->at)) + "s: " + problem);
        it = pending.erase(it);
      } else {
        ++it;
      }
    }
  }
  report.crashed = sim.ever_stopped();
  report.ended = sim.now();
  return report;
}

namespace checks {

Check all_up_see_each_other(bool allow_suspect) {
  return [allow_suspect](const Simulator& sim) -> std::string {
    size_t up = 0;
    for (NodeIndex i = 0; i < sim.size(); ++i) up += sim.is_up(i);
    // Cheap necessary condition first (a scan, no lookups), so an unconverged cluster fails
    // fast; the exact member-by-member comparison runs only once the counts agree.
    for (NodeIndex i = 0; i < sim.size(); ++i) {
      const auto* core = sim.core(i);
      if (!core) continue;
      size_t live = core->count(MemberState::kAlive);
      if (allow_suspect) live += core->count(MemberState::kSuspect);
      if (live != up) return "node " + std::to_string(i) + " sees " + std::to_string(live);
    }
    for (NodeIndex i = 0; i < sim.size(); ++i) {
      const auto* core = sim.core(i);
      if (!core) continue;
      size_t seen = 0;
      for (NodeIndex j = 0; j < sim.size(); ++j) {
        const auto* m = core->find(sim.id(j));
        const bool live = m && (m->state == MemberState::kAlive ||
                                (allow_suspect && m->state == MemberState::kSuspect));
        if (live != sim.is_up(j)) {
          return "node " + std::to_string(i) + " sees node " + std::to_string(j) + " as " +
                 (m ? std::string(gossip::to_string(m->state)) : "unknown");
        }
        seen += live;
      }
      if (seen != up) return "node " + std::to_string(i) + " sees " + std::to_string(seen);
    }
    return {};
  };
}

Check all_see(NodeIndex subject, MemberState state) {
  return [subject, state](const Simulator& sim) -> std::string {
    for (NodeIndex i = 0; i < sim.size(); ++i) {
      const auto* core = sim.core(i);
      if (!core || i == subject) continue;
      const auto* m = core->find(sim.id(subject));
      if (!m || m->state != state)
        return "node " + std::to_string(i) + " sees node " + std::to_string(subject) + " as " +
               (m ? std::string(gossip::to_string(m->state)) : "unknown");
    }
    return {};
  };
}

Check group_sees_dead(std::vector<NodeIndex> group, std::vector<NodeIndex> others) {
  return [group, others](const Simulator& sim) -> std::string {
    for (NodeIndex i : group) {
      const auto* core = sim.core(i);
      if (!core) continue;
      for (NodeIndex j : others) {
        const auto* m = core->find(sim.id(j));
        if (m && m->is_alive_or_suspect())
          return "node " + std::to_string(i) + " still sees node " + std::to_string(j) + " as " +
                 std::string(gossip::to_string(m->state));
      }
    }
    return {};
  };
}

}  // namespace checks
}  // namespace shoal::chaos
