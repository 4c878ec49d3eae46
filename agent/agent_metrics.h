// AgentMetrics names what the agent exports on --metrics-addr and fills it from the cores'
// own counters at scrape time (the cores count; this only copies, so there is one truth).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "agent/agent_datapath.h"
#include "agent/metrics.h"
#include "gossip/membership.h"
#include "lease/lease_core.h"
#include "protocol/sealed_frames.h"

namespace shoal::agent {

struct TransportCounters {
  // Refused before gossip saw them: wrong key, tampered, plaintext to an encrypted agent...
  std::array<uint64_t, static_cast<size_t>(protocol::DropReason::kCount)> dropped{};
  uint64_t datagrams_in = 0, datagrams_out = 0, streams_accepted = 0, streams_opened = 0;
  uint64_t streams_refused = 0;  // over the total or per-source cap
  uint64_t accept_errors = 0;    // accept failed for want of file descriptors
  uint64_t streams_shed = 0;     // unauthenticated streams closed to stay within the budget
  uint64_t control_requests = 0;
};

class AgentMetrics {
 public:
  // `datapath` may be null (a backend without a kernel datapath).
  AgentMetrics(const gossip::Membership& core, const lease::LeaseCore& lease,
               const TransportCounters& transport, const AgentDatapath* datapath);
  // The Prometheus text, refreshed from the sources.
  std::string render();

 private:
  void refresh();

  const gossip::Membership& core_;
  const lease::LeaseCore& lease_;
  const TransportCounters& transport_;
  const AgentDatapath* datapath_;
  Metrics metrics_;
};

}  // namespace shoal::agent
