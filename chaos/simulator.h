// A deterministic, single-threaded simulator that runs many gossip cores on virtual time.
//
// Every member is a real gossip::Membership fed real encoded bytes; only the network
// (chaos/network.h) and the clock are simulated. All randomness flows from one seed, and
// ties in time are broken by scheduling order, so the same seed replays the same run.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "chaos/network.h"
#include "common/endpoint.h"
#include "common/hlc.h"
#include "common/rng.h"
#include "common/time.h"
#include "gossip/config.h"
#include "gossip/event.h"
#include "gossip/membership.h"

namespace shoal::chaos {

// Another module running beside a member's gossip core (the lease table, later the
// agent's other parts). It sees the core's events, may use the core (broadcasts, the state
// delegate) and has timers of its own. Created by the factory at each start, destroyed by
// a crash: whatever must survive a crash, the factory keeps (a simulated disk).
class NodeApp {
 public:
  virtual ~NodeApp() = default;
  virtual void on_event(gossip::Membership& core, TimePoint now, const gossip::Event& e) = 0;
  virtual void handle_timeout(gossip::Membership& core, TimePoint now) = 0;
  virtual TimePoint next_timeout() const = 0;
  // Called after every input of the member: move output into the core.
  virtual void flush(gossip::Membership& core, TimePoint now) = 0;
};

struct Traffic {
  uint64_t datagrams = 0, datagram_bytes = 0, datagrams_lost = 0;
  uint64_t stream_messages = 0, stream_bytes = 0, streams_refused = 0;
};

class Simulator {
 public:
  using EventHook = std::function<void(TimePoint, NodeIndex observer, const gossip::Event&)>;
  using AppFactory = std::function<std::unique_ptr<NodeApp>(NodeIndex, gossip::Membership&)>;

  explicit Simulator(uint64_t seed, Duration latency_min = 1ms, Duration latency_max = 5ms);
  ~Simulator();

  uint64_t seed() const { return seed_; }
  TimePoint now() const { return now_; }
  Network& network() { return network_; }
  const Traffic& traffic() const { return traffic_; }

  // Declares a member (down until started). Addresses come from the documentation ranges.
  NodeIndex add_node(gossip::Config config);
  size_t size() const { return nodes_.size(); }
  // Starts (or restarts, with a fresh state and the same id and address) and joins `seeds`.
  void start(NodeIndex node, const std::vector<NodeIndex>& seeds);
  void crash(NodeIndex node);
  void leave(NodeIndex node);
  bool is_up(NodeIndex node) const { return nodes_[node].core != nullptr; }
  // Null while the member is down.
  gossip::Membership* core(NodeIndex node) { return nodes_[node].core.get(); }
  const gossip::Membership* core(NodeIndex node) const { return nodes_[node].core.get(); }
  // Members crashed or told to leave at any time in this run.
  const std::set<NodeIndex>& ever_stopped() const { return ever_stopped_; }
  const NodeId& id(NodeIndex node) const { return nodes_[node].id; }
  const Endpoint& address(NodeIndex node) const { return nodes_[node].address; }
  std::optional<NodeIndex> index_of(const NodeId& id) const;

  // Every start of a member (first or restart) creates its app with this, before it joins.
  void set_app_factory(AppFactory factory) { app_factory_ = std::move(factory); }
  NodeApp* app(NodeIndex node) { return nodes_[node].app.get(); }
  // The member's wall clock: virtual time from 2026-01-01 plus the member's skew.
  WallTime wall(NodeIndex node) const;
  void set_clock_skew(NodeIndex node, std::chrono::milliseconds skew) { nodes_[node].skew = skew; }

  // Called for every event of every member, in order.
  void on_event(EventHook hook) { hooks_.push_back(std::move(hook)); }
  // Runs `action` at virtual time `at` (or now, if `at` has passed).
  void at(TimePoint at, std::function<void()> action);

  void run_until(TimePoint until);
  void run_for(Duration d) { run_until(now_ + d); }
  // Runs until `done()` holds (checked every `every`) or `deadline`; true if it held.
  bool run_until(const std::function<bool()>& done, TimePoint deadline, Duration every = 100ms);

 private:
  struct Node {
    NodeId id;
    Endpoint address;
    gossip::Config config;
    std::unique_ptr<gossip::Membership> core;
    std::unique_ptr<NodeApp> app;
    std::chrono::milliseconds skew{0};
    uint64_t generation = 0;  // bumped by each start: stale timers and streams are ignored
    TimePoint timer = kTimeNever;
  };
  struct Scheduled {
    enum class Kind : uint8_t { kTimer, kDatagram, kStream, kAction };
    TimePoint at;
    uint64_t order;
    Kind kind;
    NodeIndex node = 0;
    uint64_t generation = 0;  // kTimer, kStream
    Endpoint from;
    uint64_t stream = 0;
    Bytes payload;
    std::function<void()> action;
  };
  struct Later {
    bool operator()(const Scheduled* a, const Scheduled* b) const {
      return a->at != b->at ? a->at > b->at : a->order > b->order;
    }
  };
  struct StreamEnds {
    NodeIndex a, b;
    uint64_t generation_a, generation_b;
  };

  void schedule(std::unique_ptr<Scheduled> s);
  void dispatch(Scheduled& s);
  // Drains a member's transmits and events and re-arms its timer.
  void flush(NodeIndex node);
  void send(NodeIndex node, gossip::Transmit t);

  uint64_t seed_;
  Rng rng_;
  Network network_;
  TimePoint now_ = kTimeZero;
  uint64_t order_ = 0;
  uint64_t next_stream_ = 1;
  std::vector<Node> nodes_;
  std::unordered_map<Endpoint, NodeIndex> by_address_;
  std::unordered_map<NodeId, NodeIndex> by_id_;
  std::unordered_map<uint64_t, StreamEnds> streams_;
  std::priority_queue<Scheduled*, std::vector<Scheduled*>, Later> queue_;
  std::vector<EventHook> hooks_;
  AppFactory app_factory_;
  std::set<NodeIndex> ever_stopped_;
  Traffic traffic_;
};

}  // namespace shoal::chaos
