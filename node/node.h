// Node is one host's control plane as a sans-IO state machine: a gossip Membership and,
// for hosts that hold leases, a LeaseCore, wired together. Lease updates and syncs ride on
// gossip (user messages, push-pull, probe-ack digests), member events feed the allocator,
// and our own record is announced only after the driver has made it durable. The agent and
// the simulator both drive a Node and nothing else, so what the simulations prove is the
// wiring that runs.
//
// Nothing inside reads a clock: every input carries the driver's monotonic and wall time,
// and the state delegate's calls that the Membership makes during an input use that input's
// times. After each input, drain poll_persist() (make each record durable, then call
// persisted()), poll_event(), poll_lease_event() and poll_transmit(), and wake up at
// next_timeout().
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "common/bytes.h"
#include "common/endpoint.h"
#include "common/hlc.h"
#include "common/time.h"
#include "gossip/config.h"
#include "gossip/delegate.h"
#include "gossip/event.h"
#include "gossip/membership.h"
#include "lease/lease_core.h"
#include "node/cluster_keys.h"

namespace shoal::node {

struct LeaseSetup {
  lease::LeaseConfig config;
  lease::LocalLease self;
  lease::StoredLeases stored;  // what the store held at start
};

struct NodeConfig {
  gossip::Config gossip;
  gossip::LocalNode self;
  uint64_t seed = 0;
  std::optional<LeaseSetup> lease;  // none: gossip only (the gossip-only simulations)
  std::optional<KeysValue> keys;    // the cluster keyring applied before a restart, if any
};

class Node : private gossip::StateDelegate {
 public:
  Node(NodeConfig config, TimePoint now, WallTime wall);
  ~Node() override;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // --- input ---
  void join(TimePoint now, WallTime wall, std::vector<Endpoint> seeds);
  void handle_packet(TimePoint now, WallTime wall, const Endpoint& from, ByteView packet);
  void handle_stream(TimePoint now, WallTime wall, const Endpoint& from, gossip::StreamId stream,
                     ByteView message);
  void handle_timeout(TimePoint now, WallTime wall);
  // The record poll_persist() returned is durable up to `version`: now it may be announced.
  void persisted(TimePoint now, WallTime wall, uint64_t version);
  // Tells the cluster we go. With `release`, our subnet is given up first (shoal leave).
  void leave(TimePoint now, WallTime wall, bool release);
  // Voids `node`'s lease records up to the version we hold (shoal forget).
  bool evict(TimePoint now, WallTime wall, const NodeId& node);
  // This host's keyring changed (`shoal keys`): spreads `keyring` (its file form) to the
  // cluster as the newest value (node/cluster_keys.h). Nullopt if the text is too large.
  std::optional<KeysVersion> publish_keys(TimePoint now, WallTime wall, std::string keyring);

  // --- output ---
  std::optional<lease::NodeRecord> poll_persist();
  std::optional<gossip::Event> poll_event();  // every gossip event, after the leases saw it
  std::optional<lease::LeaseEvent> poll_lease_event();
  // A newer cluster keyring heard from a peer: apply it (before draining transmits, so what
  // goes out next is sealed with it).
  std::optional<KeysValue> poll_keys();
  std::optional<gossip::Transmit> poll_transmit() { return core_.poll_transmit(); }
  TimePoint next_timeout() const;

  // --- the parts, for queries ---
  const gossip::Membership& membership() const { return core_; }
  gossip::Membership& membership() { return core_; }
  const lease::LeaseCore* leases() const { return lease_.get(); }
  std::optional<KeysVersion> keys_version() const { return keys_.version(); }

 private:
  // Moves output from each core into the other: member events and lease updates to the
  // lease core, its broadcasts and sync requests to gossip.
  void exchange(TimePoint now, WallTime wall);
  void enter(TimePoint now, WallTime wall) {
    now_ = now;
    wall_ = wall;
  }

  // gossip::StateDelegate, called by the Membership inside an input.
  Bytes local_state(bool join) override;
  std::optional<Bytes> merge_remote_state(ByteView state, bool join, uint32_t round) override;
  Bytes state_digest() override;
  bool wants_sync_after(ByteView digest) override;

  // A keys update from gossip or a sync opening: adopted (and passed on) if newer.
  void offer_keys(const KeysValue& value);

  gossip::Membership core_;
  std::unique_ptr<lease::LeaseCore> lease_;
  ClusterKeys keys_;
  std::deque<KeysValue> adopted_keys_;
  TimePoint next_keys_rebroadcast_ = kTimeZero;
  std::deque<gossip::Event> events_;
  TimePoint now_;  // the times of the input being handled
  WallTime wall_;
};

}  // namespace shoal::node
