// A deterministic, single-threaded simulator that runs many members on virtual time.
//
// Every member is a real node::Node (the agent's own composition of gossip and, when a
// lease factory is set, the lease table) fed real encoded bytes; only the network
// (chaos/network.h), the clock and the disk are simulated. All randomness flows from one seed, and
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

#include "chaos/nat.h"
#include "chaos/network.h"
#include "common/endpoint.h"
#include "common/hlc.h"
#include "common/rng.h"
#include "common/time.h"
#include "gossip/config.h"
#include "gossip/event.h"
#include "gossip/membership.h"
#include "node/node.h"

namespace shoal::chaos {

// A site behind a NAT router (nat.h); 0 names the public internet, where no NAT is.
using SiteIndex = uint32_t;

struct Traffic {
  uint64_t datagrams = 0, datagram_bytes = 0, datagrams_lost = 0;
  uint64_t stream_messages = 0, stream_bytes = 0, streams_refused = 0;
};

// Members a site behind NAT can hold: its LAN is 198.51.100.10 .. 198.51.100.249.
inline constexpr size_t kMaxSiteMembers = 240;

class Simulator {
 public:
  using EventHook = std::function<void(TimePoint, NodeIndex observer, const gossip::Event&)>;
  // What a member's lease table starts from at each start (its disk); none: gossip only.
  using LeaseFactory = std::function<std::optional<node::LeaseSetup>(NodeIndex)>;
  // A member's own record to be made durable ("fsync" is instant here).
  using PersistHook = std::function<void(NodeIndex, const lease::NodeRecord&)>;
  using LeaseEventHook = std::function<void(TimePoint, NodeIndex, const lease::LeaseEvent&)>;

  explicit Simulator(uint64_t seed, Duration latency_min = 1ms, Duration latency_max = 5ms);
  ~Simulator();

  uint64_t seed() const { return seed_; }
  TimePoint now() const { return now_; }
  Network& network() { return network_; }
  const Traffic& traffic() const { return traffic_; }

  // Declares a member (down until started). Addresses come from the documentation ranges.
  // In a NATed site, members get LAN addresses from 198.51.100.0/24, the same in every site
  // (as homes all use 192.168.1.0/24): an address alone does not name a host.
  NodeIndex add_node(gossip::Config config, SiteIndex site = 0);
  // A site behind a NAT router whose public address is 203.0.113.<site>.
  SiteIndex add_site(NatKind kind, Duration mapping_timeout = 60s);
  Nat& nat(SiteIndex site) { return sites_[site - 1].nat; }
  const Nat& nat(SiteIndex site) const { return sites_[site - 1].nat; }
  SiteIndex site_of(NodeIndex node) const { return nodes_[node].site; }
  size_t size() const { return nodes_.size(); }
  // The config the member gets at its next start: a restart with a new one is an upgrade.
  void set_config(NodeIndex node, gossip::Config config) {
    nodes_[node].config = std::move(config);
  }
  // Starts (or restarts, with a fresh state and the same id and address) and joins `seeds`.
  void start(NodeIndex node, const std::vector<NodeIndex>& seeds);
  void crash(NodeIndex node);
  // Announces the member's departure; with `release`, it gives its subnet up first.
  void leave(NodeIndex node, bool release = false);
  bool is_up(NodeIndex node) const { return nodes_[node].host != nullptr; }
  // SIGSTOP and SIGCONT: a frozen member keeps its state, but its timers wait and what
  // arrives for it is lost (a simplification: a kernel would queue some datagrams).
  void freeze(NodeIndex node) { nodes_[node].frozen = true; }
  void thaw(NodeIndex node);
  bool is_frozen(NodeIndex node) const { return nodes_[node].frozen; }
  // Null while the member is down.
  node::Node* host(NodeIndex node) { return nodes_[node].host.get(); }
  const node::Node* host(NodeIndex node) const { return nodes_[node].host.get(); }
  gossip::Membership* core(NodeIndex node) {
    return is_up(node) ? &nodes_[node].host->membership() : nullptr;
  }
  const gossip::Membership* core(NodeIndex node) const {
    return is_up(node) ? &nodes_[node].host->membership() : nullptr;
  }
  // Moves a member's output along after a caller handed it input directly (host()->evict).
  void flush(NodeIndex node);
  // Members crashed or told to leave at any time in this run.
  const std::set<NodeIndex>& ever_stopped() const { return ever_stopped_; }
  const NodeId& id(NodeIndex node) const { return nodes_[node].id; }
  const Endpoint& address(NodeIndex node) const { return nodes_[node].address; }
  std::optional<NodeIndex> index_of(const NodeId& id) const;

  // Every start of a member (first or restart) asks this for its lease setup.
  void set_lease_factory(LeaseFactory factory) { lease_factory_ = std::move(factory); }
  void on_persist(PersistHook hook) { persist_ = std::move(hook); }
  void on_lease_event(LeaseEventHook hook) { lease_hooks_.push_back(std::move(hook)); }
  // The member's wall clock: virtual time from 2026-01-01 plus the member's skew.
  WallTime wall(NodeIndex node) const;
  // The incarnation node's current life started at (each start's is above the last's): a
  // death below it is the death of an earlier life.
  uint64_t life_incarnation(NodeIndex node) const { return nodes_[node].incarnation; }
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
    std::unique_ptr<node::Node> host;
    SiteIndex site = 0;
    std::chrono::milliseconds skew{0};
    uint64_t generation = 0;   // bumped by each start: stale timers and streams are ignored
    uint64_t incarnation = 0;  // the last start's, as the agent keeps it on disk
    TimePoint timer = kTimeNever;
    bool frozen = false;
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
  void send(NodeIndex node, gossip::Transmit t);
  struct Route {
    NodeIndex to;
    Endpoint seen_from;  // the source address the receiver sees
  };
  // Where a datagram (or a new stream: no NAT lets one in) from `from` to `to` arrives.
  std::optional<Route> route(NodeIndex from, const Endpoint& to, bool stream);
  struct Site {
    Nat nat;
    std::unordered_map<Endpoint, NodeIndex> lan;
  };

  uint64_t seed_;
  Rng rng_;
  Network network_;
  TimePoint now_ = kTimeZero;
  uint64_t order_ = 0;
  uint64_t next_stream_ = 1;
  std::vector<Node> nodes_;
  std::unordered_map<Endpoint, NodeIndex> by_address_;  // members on the public internet
  std::vector<Site> sites_;
  std::unordered_map<IpAddress, SiteIndex> site_by_public_ip_;
  std::unordered_map<NodeId, NodeIndex> by_id_;
  std::unordered_map<uint64_t, StreamEnds> streams_;
  std::priority_queue<Scheduled*, std::vector<Scheduled*>, Later> queue_;
  std::vector<EventHook> hooks_;
  LeaseFactory lease_factory_;
  PersistHook persist_;
  std::vector<LeaseEventHook> lease_hooks_;
  std::set<NodeIndex> ever_stopped_;
  Traffic traffic_;
};

}  // namespace shoal::chaos
