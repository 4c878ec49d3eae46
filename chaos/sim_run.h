// Runs a scenario file on the simulator (shoal-chaos --sim): every host is a node::Node with
// gossip and the lease table on virtual time (LeaseCluster), the faults act on the
// simulated network and processes, and the checks read the cores directly. Deterministic:
// the same file, size and seed give the same report, so a failure replays.
//
// What the simulator cannot show, it says so in the report (skipped, with the reason):
// there is no datapath (pods_reach) and no database file (databases_open).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "chaos/run_report.h"
#include "chaos/scenario_file.h"
#include "common/status.h"

namespace shoal::chaos {

// About the memory the simulator takes for `hosts` hosts. Every simulated host keeps a member
// entry and a lease record for every other, so it grows as hosts squared: 1.46 GB at 1,000
// (`scripts/bench chaos`), about 150 GB at 10,000.
uint64_t simulator_bytes_needed(size_t hosts);
// The kernel's estimate of the memory a new program can take (MemAvailable in
// /proc/meminfo), in bytes; nullopt where it does not say.
std::optional<uint64_t> memory_available();

// What the simulator cannot run, and why: a site behind NAT with more than kMaxSiteMembers
// hosts (its LAN is one /24), or more hosts than `available_bytes` of memory hold (when
// known: a run that cannot fit would be killed for its memory after minutes, and say
// nothing). run_in_simulator() requires this to hold.
Status simulator_can_run(const ScenarioFile& file, std::optional<uint64_t> available_bytes);
RunReport run_in_simulator(const ScenarioFile& file);

}  // namespace shoal::chaos
