// Runs a scenario file on the simulator (shoal-chaos --sim): every host is a node::Node with
// gossip and the lease table on virtual time (LeaseCluster), the faults act on the
// simulated network and processes, and the checks read the cores directly. Deterministic:
// the same file, size and seed give the same report, so a failure replays.
//
// What the simulator cannot show, it says so in the report (skipped, with the reason):
// there is no datapath (pods_reach) and no database file (databases_open).
#pragma once

#include "chaos/run_report.h"
#include "chaos/scenario_file.h"
#include "common/status.h"

namespace shoal::chaos {

// What the simulator cannot run, and why: a site behind NAT with more than kMaxSiteMembers
// hosts (its LAN is one /24). run_in_simulator() requires this to hold.
Status simulator_can_run(const ScenarioFile& file);
RunReport run_in_simulator(const ScenarioFile& file);

}  // namespace shoal::chaos
