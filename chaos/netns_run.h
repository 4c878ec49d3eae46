// Runs a scenario file on network namespaces on this machine (shoal-chaos run, without --sim):
// real `shoal agent`s, one per host namespace of a NetnsLab, real pods pinging each other over
// the real datapath, faults on the lab's switch and as signals to the agents, and the checks
// read through each agent's control socket (the same answers `shoal ... --json` prints).
//
// Needs root. Everything it creates (namespaces, devices, nft rules, agents) is removed when
// it returns, also when `stop` is set (Ctrl-C, SIGTERM) or a step fails. The agents' files
// and logs go to `work_dir`, which is the caller's and stays; without one, a directory made
// under /tmp holds them and is removed unless the run failed (then it is named, to read).
//
// A clock fault is the agent's own test clock offset (`shoal fault clock`; the agents of a run
// with one start with AllowFaults). What it cannot do it refuses before starting, never
// fakes: delay needs netem, which this harness does not drive.
#pragma once

#include <atomic>
#include <string>

#include "chaos/run_report.h"
#include "chaos/scenario_file.h"
#include "common/status.h"

namespace shoal::chaos {

struct NetnsOptions {
  std::string shoal = "shoal";  // the agent's binary
  std::string work_dir;         // made under /tmp when empty
  bool verbose = false;         // say each step on stderr
};

// The report, or why the run could not be made (not root, a step of the set-up failed,
// interrupted). A cluster that fails its checks is a report, not an error.
Result<RunReport> run_in_namespaces(const ScenarioFile& file, const NetnsOptions& options,
                                    const std::atomic<bool>& stop);

// Ok when the scenario can run on namespaces; else which fault cannot.
Status namespaces_can_run(const ScenarioFile& file);

}  // namespace shoal::chaos
