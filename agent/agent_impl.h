// Agent::Impl, the daemon's state, shared by the .cc files of agent/ that implement it
// (agent.cc: lifecycle, sockets and the loop; agent_control.cc: the control requests).
// Internal to agent/.
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <optional>

#include "agent/agent.h"
#include "agent/agent_datapath.h"
#include "agent/agent_metrics.h"
#include "agent/asio.h"
#include "agent/control_handler.h"
#include "agent/control_server.h"
#include "agent/faults.h"
#include "agent/gossip_transport.h"
#include "agent/metrics_server.h"
#include "agent/systemd_notify.h"
#include "crypto/identity.h"
#include "crypto/keyring.h"
#include "gossip/membership.h"
#include "node/node.h"
#include "proto/control.pb.h"
#include "protocol/sealed_frames.h"
#include "store/store.h"

namespace shoal::agent {

using asio::ip::tcp;
using asio::ip::udp;
using SteadyClock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;

class Agent::Impl {
 public:
  explicit Impl(AgentConfig config) : config_(std::move(config)), frames_(&keyring_) {}

  Status init();
  int run();

 private:
  // Time.
  TimePoint now() const {
    return kTimeZero + std::chrono::duration_cast<Duration>(SteadyClock::now() - started_);
  }
  // The wall clock, moved by any test clock fault (`shoal fault clock`): everything the agent
  // stamps or judges by wall time reads this one.
  WallTime wall() const {
    const auto now =
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    return faults_ ? now + faults_->clock_offset() : now;
  }

  // The loop.
  void drive();
  void arm_timer(TimePoint at);
  void on_gossip_event(const gossip::Event& e);
  void persist_own_record();
  // Once a second: ticks the tunnel and republishes its public endpoints when they moved.
  void tick_paths();
  // Whenever this host stops holding its subnet, so CNI never reads a subnet not ours.
  void remove_subnet_env();
  void on_lease_event(const lease::LeaseEvent& e);
  // After a reconcile: writes subnet.env once the datapath has applied the ready subnet.
  void publish_subnet_if_applied();
  void save_table();

  void shutdown(bool release);
  void finish_departure();

  // systemd (Type=notify): the STATUS= line when what it says changed, the watchdog's
  // pings while the loop turns, and SIGHUP, which re-reads the key file.
  void tell_systemd_status();

  // The cluster keyring (node/cluster_keys.h): a change made here by `shoal keys`, spread
  // to all; a newer one heard from a peer, applied here (keyring, KeyFile, store); and the
  // gossip meta that tells peers which version this host has and where its tunnel is.
  std::optional<node::KeysVersion> publish_keys();
  void adopt_keys(const node::KeysValue& value);
  void remember_keys_version(const node::KeysVersion& version);
  void publish_meta();
  void arm_watchdog();
  void watch_reload_signal();
  void reload_key_file();

  AgentConfig config_;
  crypto::Keyring keyring_;
  protocol::SealedFrames frames_;
  std::unique_ptr<store::Store> store_;
  std::optional<crypto::Identity> identity_;
  NodeId id_;
  Endpoint advertise_;
  SteadyClock::time_point started_ = SteadyClock::now();

  asio::io_context io_;
  asio::steady_timer timer_{io_};
  asio::signal_set signals_{io_, SIGINT, SIGTERM};
  asio::signal_set reload_signals_{io_, SIGHUP};
  SystemdNotifier systemd_ = SystemdNotifier::from_environment();
  asio::steady_timer watchdog_timer_{io_};
  bool status_changed_ = true;  // a member or lease event since the last STATUS= line

  // The control plane; core_ and lease_ are its parts, for queries (inputs go to node_).
  std::unique_ptr<node::Node> node_;
  gossip::Membership* core_ = nullptr;
  const lease::LeaseCore* lease_ = nullptr;
  TimePoint next_save_;
  TimePoint next_path_tick_ = kTimeZero;       // the tunnel's keepalives and path timeouts
  std::vector<Endpoint> published_reflexive_;  // the tunnel endpoints our meta carries
  bool driving_ = false;  // inside drive(): a callback that calls it again returns at once
  // The agent's life: running; departing (announcing that we leave, keeping our subnet for
  // the restart, or releasing it for `shoal leave`) until depart_by_; then stopped.
  enum class Phase { kRunning, kDeparting, kReleasing, kStopped };
  Phase phase_ = Phase::kRunning;
  bool departing() const { return phase_ == Phase::kDeparting || phase_ == Phase::kReleasing; }
  TimePoint depart_by_ = kTimeNever;
  bool said_pool_exhausted_ = false;
  std::optional<Cidr> subnet_to_publish_;  // ready, subnet.env not written until applied
  TransportCounters counters_;
  std::unique_ptr<GossipTransport> transport_;
  std::unique_ptr<AgentMetrics> metrics_;
  std::unique_ptr<MetricsServer> metrics_server_;
  std::unique_ptr<Faults> faults_;  // AllowFaults only: `shoal fault`
  std::unique_ptr<ControlHandler> control_;
  std::unique_ptr<ControlServer> control_server_;
  node::Mac vtep_mac_{};
  std::unique_ptr<AgentDatapath> datapath_;  // every backend's, the udp tunnel included
};

}  // namespace shoal::agent
