// ControlHandler answers the control socket's requests (shoal members, leases, status, leave,
// forget, keys, fault) from a narrow view of the agent: read-only cores and datapath, the
// keyring (the keys commands change it and save it to KeyFile), the test-only faults (only
// with AllowFaults, only for root or the agent's user), and two actions it may ask for. It
// never blocks and never throws; a request it cannot serve gets an error that says why.
// Runs on the event loop thread, like everything else in the agent.
#pragma once

#include <chrono>
#include <functional>

#include "agent/agent_datapath.h"
#include "agent/config.h"
#include "agent/control_server.h"
#include "agent/faults.h"
#include "common/node_id.h"
#include "crypto/keyring.h"
#include "gossip/membership.h"
#include "lease/lease_core.h"
#include "node/cluster_keys.h"
#include "proto/control.pb.h"

namespace shoal::agent {

struct AgentView {
  const AgentConfig& config;
  NodeId id;
  const gossip::Membership& members;
  const lease::LeaseCore& leases;
  const AgentDatapath* datapath;  // null: no kernel datapath
  crypto::Keyring& keyring;
  bool encrypted;
  std::function<std::chrono::seconds()> uptime;
  // `shoal leave`: release our subnet and leave, once this answer is on its way.
  std::function<void()> leave;
  // `shoal forget`: evict a dead node's lease; false when there is nothing to evict.
  std::function<bool(const NodeId&)> evict;
  // `shoal keys` changed the keyring (and saved it): spread it to the cluster as the newest
  // value; returns its version (nullopt if it could not be spread).
  std::function<std::optional<node::KeysVersion>()> publish_keys;
  // The cluster keyring version this agent holds, if any.
  std::function<std::optional<node::KeysVersion>()> keys_version;
  // `shoal fault`: null unless the config has AllowFaults.
  Faults* faults = nullptr;
};

class ControlHandler {
 public:
  explicit ControlHandler(AgentView view) : view_(std::move(view)) {}
  proto::ControlResponse handle(const proto::ControlRequest& request,
                                const ControlCaller& caller = {});

 private:
  // An answer that refuses the request, saying why.
  static proto::ControlResponse refuse(std::string why);
  // The keys requests (control_keys.cc): list, and install/use/remove cluster-wide.
  proto::ControlResponse handle_keys(const proto::ControlRequest& request);
  // The fault requests (control_faults.cc): add, clear and list test-only faults.
  proto::ControlResponse handle_faults(const proto::ControlRequest& request,
                                       const ControlCaller& caller);
  // The CIDRs a fault's peer names: a member's underlay and NAT addresses and its subnets,
  // or an address or CIDR as given; an error naming the peer when it is neither.
  Result<std::vector<Cidr>> fault_targets(const std::string& peer) const;

  AgentView view_;
};

}  // namespace shoal::agent
