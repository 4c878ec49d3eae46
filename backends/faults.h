// Test-only network faults in the kernel (`shoal fault`, only with AllowFaults): drop, or lose
// a share of, the packets to and from given addresses: a peer's underlay and NAT addresses
// (gossip, vxlan, the udp tunnel) and its pod subnet (host-gw). They live in an nftables table
// of their own, `inet shoal_faults`, with a chain on prerouting (packets in) and one on
// postrouting (packets out, local and forwarded), both at raw priority so they act before
// conntrack, NAT and shoal's other rules.
//
// Promise: every fault expires on its own. Each fault's addresses are set elements with a
// kernel timeout, so a fault ends on time even if the agent is killed and never cleans up;
// the agent also replaces or removes the table as faults are added, cleared or expire.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "common/status.h"

namespace shoal::backends {

inline constexpr const char* kFaultTable = "shoal_faults";

struct FaultRule {
  uint64_t id = 0;              // names its sets: f<id>_4, f<id>_6
  uint32_t loss_percent = 100;  // 100: drop everything; 1..99: lose that share at random
  bool inbound = true;          // packets from the targets
  bool outbound = true;         // packets to the targets
  std::vector<Cidr> targets;
  std::chrono::milliseconds left{0};  // until it expires; rules with none left are skipped
};

// The table's text for `rules` ("" when no rule has time left): for tests and logs.
std::string fault_ruleset(const std::vector<FaultRule>& rules);
// Replaces the table with `rules`, atomically; removes it when none has time left.
Status install_faults(const std::vector<FaultRule>& rules);
Status remove_faults();

}  // namespace shoal::backends
