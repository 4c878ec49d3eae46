// AgentDatapath drives the kernel datapath from the agent's loop: it computes node::plan()
// from the lease table and has backends::KernelDatapath make the kernel match, on every
// lease change (debounced), on kernel events that touch shoal's objects or the underlay
// link, and every 10 s. It keeps the counters the metrics and `shoal status` show, and
// logs what it changed. Failures (no root, a missing device) are logged and counted; the
// control plane keeps running and the next reconcile tries again.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "agent/asio.h"
#include "agent/config.h"
#include "backends/kernel_datapath.h"
#include "backends/netlink_monitor.h"
#include "backends/udp/tunnel.h"
#include "common/hlc.h"
#include "common/status.h"
#include "lease/lease_core.h"
#include "node/datapath_plan.h"
#include "node/nat_view.h"

namespace shoal::agent {

struct DatapathCounters {
  uint64_t reconciles = 0;
  std::array<uint64_t, backends::kObjectKinds> added{};
  std::array<uint64_t, backends::kObjectKinds> removed{};
  uint64_t drift_repaired = 0;
  uint64_t netlink_errors = 0;
  uint64_t resyncs_after_lost_events = 0;
};

class AgentDatapath {
 public:
  using WallClock = std::function<WallTime()>;

  // Opens netlink, turns on forwarding, gathers the underlay's facts. An error only when
  // netlink itself cannot be opened or the underlay address is on no device. `wall` is the
  // agent's wall clock, read for every plan (leases expire by it).
  static Result<std::unique_ptr<AgentDatapath>> start(
      asio::io_context& io, const AgentConfig& config, const lease::LeaseCore& lease,
      const NodeId& self, const IpAddress& underlay, const node::Mac& vtep_mac,
      const crypto::Identity& identity, WallClock wall);
  ~AgentDatapath();

  // What gossip knows about peers across NATs (node/nat_view.h), read at every plan:
  // host-gw and vxlan are never planned for peers behind NAT, and the udp tunnel gets each
  // peer's endpoints, relay and keepalive.
  void set_nat_view(std::function<node::NatView()> view) { nat_view_ = std::move(view); }
  // About once a second: the tunnel's keepalives, punches and path timeouts.
  void tick();
  // The udp tunnel's endpoints as peers outside our NAT see them (udp::Tunnel::reflexive).
  std::vector<Endpoint> tunnel_reflexive() const;
  // Reconciles soon (coalescing bursts of lease events into one run).
  void request_reconcile();
  // Called after every reconcile. The agent writes subnet.env (and tells systemd it is
  // ready) only once a reconcile has applied its subnet: routes, device address and
  // masquerade in place, and the pod MTU known, before the first container can start.
  void set_on_reconciled(std::function<void()> done) { on_reconciled_ = std::move(done); }
  // This host's subnet as of the last reconcile (none before one ran with it).
  std::optional<Cidr> applied_subnet() const { return applied_subnet_; }
  // Removes shoal's routes, device and masquerade table (`shoal leave`), and stops.
  void remove_all();
  void stop();

  const node::DatapathPlan& plan() const { return plan_; }
  int pod_mtu() const { return plan_.pod_mtu; }
  const DatapathCounters& counters() const { return counters_; }
  const std::string& last_error() const { return last_error_; }
  // The udp tunnel's offloads, counters and drops (udp mode and auto with Fallback udp).
  std::optional<udp::TunnelStatus> tunnel_status() const;
  std::string device() const;
  // How this host reaches `subnet`: "host-gw", "vxlan", "udp/<path kind>" (peer_path.h),
  // "skipped: <reason>", or "".
  std::string path_to(const Cidr& subnet) const;
  // udp: where the subnet's holder sends from, or the relay we reach it through; else "".
  std::string endpoint_of(const Cidr& subnet) const;

 private:
  AgentDatapath(asio::io_context& io, const AgentConfig& config, const lease::LeaseCore& lease,
                const NodeId& self, const IpAddress& underlay, WallClock wall);
  void reconcile();
  void compute_plan(const node::LocalFacts& facts);
  void watch_events();
  void arm_periodic();
  void update_masquerade();
  void update_tunnel();

  asio::io_context& io_;
  const AgentConfig& config_;
  const lease::LeaseCore& lease_;
  NodeId self_;
  IpAddress underlay_;
  WallClock wall_;
  std::function<node::NatView()> nat_view_;
  std::function<void()> on_reconciled_;
  std::optional<Cidr> applied_subnet_;
  node::NatView nat_;  // as of the last plan
  node::DatapathConfig plan_config_;
  std::unique_ptr<backends::Netlink> netlink_;
  std::unique_ptr<backends::KernelDatapath> kernel_;
  std::unique_ptr<backends::NetlinkMonitor> monitor_;
  std::unique_ptr<udp::Tunnel> tunnel_;
  std::optional<asio::posix::stream_descriptor> events_;
  asio::steady_timer soon_{io_};
  asio::steady_timer periodic_{io_};
  bool scheduled_ = false;
  bool stopped_ = false;
  node::LocalFacts facts_;
  node::DatapathPlan plan_;
  std::optional<Cidr> masqueraded_;  // the subnet the masquerade table was made for
  DatapathCounters counters_;
  std::string last_error_;
  std::string logged_skips_;  // what the log last said about skipped peers
};

}  // namespace shoal::agent
