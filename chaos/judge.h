// The judge of a shoal-chaos run, whatever runs it (the simulator, network namespaces): it is
// told when faults start and end, when hosts stop and run, what every host sees at each sample
// and how far the pods reach; it keeps the timeline, the bands and the recoveries, and at the
// end gives the verdicts. The mode applies faults and reads hosts; the judge alone decides what
// that means, so one scenario is judged by the same rules in every mode.
//
// Rules it promises to apply the same everywhere:
//   - the cluster agrees when every host up sees exactly the hosts up as alive, holds the owner
//     map most hosts up hold, and no two hosts up route overlapping subnets;
//   - after each fault ends (a cut or a loss once none is left, a restart, a thaw, a heal) the
//     cluster must agree again within checks.converge_within_s, and the pods reach one another
//     again within the same bound (when pods are probed), for good: pods cut off again before
//     the next fault starts had not recovered;
//   - an overlap counts only once the cluster has agreed after the last fault;
//   - a death is false when the host was running, reachable both ways, and no cut was on or
//     ended within the last minute (the longest a suspicion can run); loss is no excuse.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "chaos/run_report.h"
#include "chaos/scenario_file.h"
#include "common/cidr.h"

namespace shoal::chaos {

// What one host sees at a sample. Only `up` hosts (running, not frozen) are read.
struct HostView {
  bool up = false;
  size_t alive = 0;    // members it sees alive, itself included
  size_t suspect = 0;  // members it suspects
  // Equal owner maps give equal keys, and different ones (almost surely) different keys.
  uint64_t owners_key = 0;
  std::optional<Cidr> ready_subnet;  // the subnet it routes, once the backend has it
  size_t owned = 0;  // subnets in its owner map: the pool's size means the pool is full
};

// Names what host `host` gets wrong about the hosts `up`, for the report: "h4 sees h7 dead".
using MemberProblem = std::function<std::string(uint32_t host, const std::vector<uint32_t>& up)>;

// The first host of `up` that `host` does not see alive, said ("h4 has not heard of h7", "h4
// sees h7 suspect"), from `state_of(other)`: how host sees other, nullopt when it has not
// heard of it. Empty when it sees them all alive: the mode then says what else is off.
using StateOf = std::function<std::optional<std::string>(uint32_t other)>;
std::string first_member_problem(uint32_t host, const std::vector<uint32_t>& up,
                                 const StateOf& state_of);

// A cut as a predicate: true when `from` cannot reach `to`.
using CutPredicate = std::function<bool(uint32_t from, uint32_t to)>;
CutPredicate cut_predicate(const FaultSpec& fault, size_t hosts);

std::string seconds_text(double s);  // "2.5 s"
std::string host_name(uint32_t h);   // "h3" for index 2

class Judge {
 public:
  Judge(const ScenarioFile& file, std::string mode, uint64_t seed);

  void log(double t, std::string what, RunReport::Event::Kind kind);

  // Returns the fault's band, for fault_ended.
  size_t fault_started(double t, const FaultSpec& fault);
  void fault_ended(double t, const FaultSpec& fault, size_t band);

  void host_stopped(double t, uint32_t h);  // crashed, killed or frozen
  void host_running(uint32_t h);            // started again
  void host_thawed(double t, uint32_t h);

  // `observer` declared `subject` dead; `was_reachable`: the subject was running, not frozen
  // and reachable both ways, as far as the mode can tell.
  void death(double t, uint32_t observer, uint32_t subject, bool was_reachable);

  // One sample of every host; returns whether the cluster agrees.
  bool sample(double t, const std::vector<HostView>& views, const MemberProblem& problem);
  // One probe round of the pods, sent at `sent`: `reached` of `probed` pairs answered, the
  // last at `last_answer`; `first_miss` names a pair that did not. Only a round sent after a
  // fault's end can show the pods reaching again after it.
  struct ProbeRound {
    double sent = 0, last_answer = 0;
    size_t reached = 0, probed = 0;
    std::string first_miss;
  };
  void pods_probed(const ProbeRound& round);
  // The scenario's workload check ran at `t`; `said` is the end of what it printed.
  void workload_checked(double t, bool ok, const std::string& said);

  // The last sample, then every verdict. `databases` is the databases_open verdict where the
  // mode can check it (else skipped with `why`).
  struct Extra {
    std::optional<RunReport::Verdict> databases_open;
    std::string no_pods_reason;  // pods_reach is skipped with this when no pods were probed
    std::string no_workload_reason = "the scenario has no workload";
  };
  RunReport finish(double t, const std::vector<HostView>& views, const MemberProblem& problem,
                   const Extra& extra, double wall_s);

  bool split() const { return active_cuts_ > 0 || active_losses_ > 0; }

 private:
  struct Agreement {
    bool members = true, owners = true, overlap_free = true;
    std::string problem;
  };
  Agreement assess(double t, const std::vector<HostView>& views, const MemberProblem& problem,
                   bool keep_sample);
  void expect_recovery(double t, std::string after);
  std::optional<std::string> overlap_among(double t, const std::vector<HostView>& views) const;
  // The first recovery whose `took` is over the bound or never came, said; empty when none,
  // with `slowest` the slowest within it.
  std::string first_late(double RunReport::Recovery::*took, const std::string& never,
                         double& slowest) const;
  void verdict(std::string check, bool enabled, RunReport::Verdict::Outcome outcome,
               std::string detail);

  struct FalseDeath {
    double t;
    uint32_t observer, subject;
  };

  const ScenarioFile& file_;
  RunReport report_;
  std::map<uint32_t, double> down_since_, thawed_at_;
  std::vector<size_t> open_bands_;
  size_t active_cuts_ = 0, active_losses_ = 0;
  double last_cut_end_ = -1e18, last_fault_start_ = -1e18;
  bool agreed_ = false, converged_since_fault_ = false, overlap_after_converge_ = false;
  std::optional<std::string> overlap_seen_;
  std::string last_problem_;
  std::vector<FalseDeath> false_deaths_;
  std::vector<std::optional<Cidr>> first_ready_;
  std::vector<bool> renumbered_;
  // Pods: probe rounds seen, whether the last was whole, and the first miss after the last
  // recovery that never reached back.
  size_t probe_rounds_ = 0;
  bool all_reached_ = false;
  std::string last_miss_;
  std::optional<float> last_reach_;
  struct WorkloadCheck {
    double t;
    bool ok;
  };
  std::vector<WorkloadCheck> workload_checks_;
  std::string workload_said_;  // what its last failing check printed
};

}  // namespace shoal::chaos
