// Agent::Impl, the daemon's state, shared by the .cc files of agent/ that implement it
// (agent.cc: lifecycle, sockets and the loop; agent_control.cc: the control requests).
// Internal to agent/.
#pragma once

#include <array>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>

#include "agent/agent.h"
#include "agent/agent_datapath.h"
#include "agent/agent_metrics.h"
#include "agent/asio.h"
#include "agent/control_server.h"
#include "agent/metrics_server.h"
#include "agent/sealed_frames.h"
#include "crypto/identity.h"
#include "crypto/keyring.h"
#include "gossip/membership.h"
#include "node/node.h"
#include "proto/control.pb.h"
#include "store/store.h"

namespace shoal::agent {

using asio::ip::tcp;
using asio::ip::udp;
using SteadyClock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;

// One TCP connection carrying one gossip stream.
struct Stream {
  explicit Stream(asio::io_context& io, const SealedFrames& frames, size_t max_message)
      : socket(io), deadline(io), reader(frames, max_message) {}
  tcp::socket socket;
  asio::steady_timer deadline;
  SealedFrames::Reader reader;
  Endpoint peer;
  std::deque<Bytes> out;
  bool connected = false;
  bool writing = false;
  bool close_after_writes = false;
  std::array<uint8_t, 16384> buffer{};
};

class Agent::Impl {
 public:
  explicit Impl(AgentConfig config) : config_(std::move(config)), frames_(&keyring_) {}

  Status init();
  int run();

  // agent_control.cc
  proto::ControlResponse handle_control(const proto::ControlRequest& request);

 private:
  // Time.
  TimePoint now() const {
    return kTimeZero + std::chrono::duration_cast<Duration>(SteadyClock::now() - started_);
  }
  static WallTime wall() {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
  }

  // The loop.
  void drive();
  void arm_timer(TimePoint at);
  void send(gossip::Transmit t);
  void on_gossip_event(const gossip::Event& e);
  void persist_own_record();
  // Once a second: ticks the tunnel and republishes its public endpoints when they moved.
  void tick_paths();
  // Whenever this host stops holding its subnet, so CNI never reads a subnet not ours.
  void remove_subnet_env();
  void on_lease_event(const lease::LeaseEvent& e);
  void save_table();

  // Sockets.
  void receive_datagrams();
  void accept_streams();
  void shed_one_connection();
  // False when the stream being read was closed to stay within the budget.
  bool enforce_unauthenticated_budget(uint64_t reading);
  void start_reading(uint64_t id, std::shared_ptr<Stream> s);
  void write_next(uint64_t id, std::shared_ptr<Stream> s);
  void close_stream(uint64_t id);
  void shutdown(bool release);
  void finish_departure();

  AgentConfig config_;
  crypto::Keyring keyring_;
  SealedFrames frames_;
  std::unique_ptr<store::Store> store_;
  std::optional<crypto::Identity> identity_;
  NodeId id_;
  Endpoint advertise_;
  SteadyClock::time_point started_ = SteadyClock::now();

  asio::io_context io_;
  udp::socket udp_{io_};
  tcp::acceptor acceptor_{io_};
  asio::steady_timer timer_{io_};
  asio::steady_timer accept_backoff_{io_};
  int spare_fd_ = -1;
  asio::signal_set signals_{io_, SIGINT, SIGTERM};
  std::array<uint8_t, 65536> datagram_{};
  udp::endpoint datagram_from_;

  // The control plane; core_ and lease_ are its parts, for queries (inputs go to node_).
  std::unique_ptr<node::Node> node_;
  gossip::Membership* core_ = nullptr;
  const lease::LeaseCore* lease_ = nullptr;
  std::map<uint64_t, std::shared_ptr<Stream>> streams_;
  uint64_t next_stream_ = 1;
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
  TransportCounters counters_;
  std::unique_ptr<AgentMetrics> metrics_;
  std::unique_ptr<MetricsServer> metrics_server_;
  std::unique_ptr<ControlServer> control_server_;
  node::Mac vtep_mac_{};
  std::unique_ptr<AgentDatapath> datapath_;  // every backend's, the udp tunnel included
};

}  // namespace shoal::agent
