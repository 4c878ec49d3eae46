// The simulated network between members: per-link delay, random loss, partitions (both
// ways or one way) and per-member impairments. It only decides the fate of a message
// (lost, or delivered after some delay); the simulator carries it. Deterministic: all
// randomness comes from the Rng passed in.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "common/rng.h"
#include "common/time.h"

namespace shoal::chaos {

using NodeIndex = uint32_t;

class Network {
 public:
  Network(Duration latency_min, Duration latency_max)
      : latency_min_(latency_min), latency_max_(latency_max) {}

  // Loss on every link, in [0, 1].
  void set_loss(double probability) { loss_ = probability; }
  // Extra loss and delay on every link that touches `node`, both directions.
  void set_node_loss(NodeIndex node, double probability);
  void set_node_delay(NodeIndex node, Duration delay);
  // Members in different groups cannot reach each other; members in no group are in group 0.
  void partition(const std::vector<std::vector<NodeIndex>>& groups);
  // One-way: `from` can no longer reach `to` (the reverse still works).
  void block(NodeIndex from, NodeIndex to) { blocked_.insert({from, to}); }
  // A cut of any shape (a grudge, in Jepsen's words): true when `from` cannot reach `to`.
  // Groups, bridges and rings of majorities are cuts that scale to 10,000 members, where a
  // set of blocked pairs would not. Returns an id for remove_cut.
  using Cut = std::function<bool(NodeIndex from, NodeIndex to)>;
  uint64_t add_cut(Cut cut);
  void remove_cut(uint64_t id);
  // Extra loss on the links where `between(from, to)` holds (a lossy WAN link between two
  // sites). Returns an id for remove_link_loss.
  uint64_t add_link_loss(Cut between, double probability);
  void remove_link_loss(uint64_t id);
  // Removes partitions, blocks, cuts and every loss and delay, global and per member.
  void heal();

  bool reachable(NodeIndex from, NodeIndex to) const;
  // A datagram's fate: nullopt if lost, else its delay.
  std::optional<Duration> datagram(NodeIndex from, NodeIndex to, Rng& rng) const;
  // A stream message's fate: nullopt if no connection is possible (blocked either way, as
  // TCP needs both), else its delay; loss costs retransmission timeouts, not the message.
  std::optional<Duration> stream(NodeIndex from, NodeIndex to, Rng& rng) const;

 private:
  double link_loss(NodeIndex from, NodeIndex to) const;
  Duration latency(NodeIndex from, NodeIndex to, Rng& rng) const;
  template <typename T>
  static T at_or(const std::vector<T>& v, NodeIndex i, T fallback) {
    return i < v.size() ? v[i] : fallback;
  }

  Duration latency_min_, latency_max_;
  double loss_ = 0;
  std::vector<double> node_loss_;
  std::vector<Duration> node_delay_;
  std::vector<int> group_;
  std::set<std::pair<NodeIndex, NodeIndex>> blocked_;
  std::vector<std::pair<uint64_t, Cut>> cuts_;
  struct LinkLoss {
    uint64_t id;
    Cut between;
    double probability;
  };
  std::vector<LinkLoss> link_losses_;
  uint64_t next_cut_ = 1;
};

}  // namespace shoal::chaos
