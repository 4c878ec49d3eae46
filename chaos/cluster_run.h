// Runs a scenario file against a real shoal cluster (shoal-chaos run --cluster FILE): agents
// the harness did not start, on hosts it reaches through each host's `exec` prefix (ssh, or
// `ip netns exec` in tests). Link and clock faults become `shoal fault` on the hosts (drop or
// lose the packets to given peers, or move the agent's clock; each fault expires on its own,
// so a harness that dies leaves nothing on for long); the checks read
// `shoal members|leases --json` on every host.
//
// What needs the harness to own the agents or the machines is refused before the run, with
// the reason: crash, restart, freeze, wipe, bandwidth and delay faults, hosts that join
// late, and workloads. Pods are not probed (the harness has none there): pods_reach is skipped.
#pragma once

#include <atomic>

#include "chaos/cluster_file.h"
#include "chaos/run_report.h"
#include "chaos/scenario_file.h"
#include "common/status.h"

namespace shoal::chaos {

struct ClusterOptions {
  bool verbose = false;  // say each step and command on stderr
};

// Ok when the scenario can run on this cluster; else what cannot, and why.
Status cluster_can_run(const ScenarioFile& file, const ClusterFile& cluster);

// The report, or why the run could not be made (a host does not answer, a host refuses
// faults, interrupted). Every fault it put on is cleared when it returns, however it returns.
Result<RunReport> run_on_cluster(const ScenarioFile& file, const ClusterFile& cluster,
                                 const ClusterOptions& options, const std::atomic<bool>& stop);

}  // namespace shoal::chaos
