// Agent is the shoal daemon: it drives the gossip and lease cores from real sockets and
// timers on one Boost.Asio event loop thread, keeps the lease table in SQLite, seals every
// packet and stream with the cluster keyring, and writes flannel's subnet.env.
//
//   UDP  <bind>       gossip datagrams (probes, acks, piggybacked updates)
//   TCP  <bind>       streams: push-pull anti-entropy, joins, the fallback probe
//   file <data_dir>/shoal.db, <subnet_file>
//
// Lifecycle: create() checks everything that can be checked before the first packet
// (config, store, key file, identity, sockets) and returns an error naming what is wrong.
// run() serves until stop() (SIGTERM/SIGINT: the lease is kept, a restart gets the same
// subnet) or leave() (the lease is released and the cluster told, then run() returns).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/config.h"
#include "common/status.h"
#include "gossip/member.h"
#include "lease/lease_core.h"

namespace shoal::agent {

// The version CMake's project() declares: one place to bump it.
const char* shoal_version();

class Agent {
 public:
  static Result<std::unique_ptr<Agent>> create(AgentConfig config);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Serves until stopped; returns the process exit status.
  int run();

  class Impl;

 private:
  explicit Agent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::agent
