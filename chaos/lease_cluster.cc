#include "chaos/lease_cluster.h"

#include "node/backend_data.h"
#include "node/lease_bridge.h"

namespace shoal::chaos {

// A distinct vxlan MAC per member (unicast, locally administered), as agents publish theirs.
node::Mac vtep_mac(NodeIndex index) {
  return {0x02, 0x5e, static_cast<uint8_t>(index >> 24), static_cast<uint8_t>(index >> 16),
          static_cast<uint8_t>(index >> 8), static_cast<uint8_t>(index)};
}

// Wires one member's LeaseCore to its gossip core and its disk.
class LeaseCluster::App : public NodeApp {
 public:
  App(LeaseCluster& cluster, NodeIndex index, gossip::Membership& core)
      : cluster_(cluster),
        index_(index),
        lease_(cluster.config_,
               lease::LocalLease{core.id(), core.self().name, core.self().address.address,
                                 cluster.sites_.count(index) ? cluster.sites_[index] : "",
                                 node::encode_backend_data({vtep_mac(index), {}})},
               lease::StoredLeases{cluster.disks_[index].own, cluster.disks_[index].records,
                                   cluster.disks_[index].evictions},
               cluster.sim_.now(), cluster.sim_.wall(index)),
        bridge_(
            core, lease_,
            [this] { return std::pair{cluster_.sim_.now(), cluster_.sim_.wall(index_)}; },
            [this](const lease::NodeRecord& record) {
              cluster_.disks_[index_].own = record;  // "fsync" is instant here
              return std::string();
            }) {}

  lease::LeaseCore& lease() { return lease_; }

  void on_event(gossip::Membership&, TimePoint now, const gossip::Event& e) override {
    bridge_.on_gossip_event(now, cluster_.sim_.wall(index_), e);
  }
  void handle_timeout(gossip::Membership&, TimePoint now) override {
    bridge_.handle_timeout(now, cluster_.sim_.wall(index_));
  }
  TimePoint next_timeout() const override { return bridge_.next_timeout(); }
  void flush(gossip::Membership&, TimePoint now) override {
    bridge_.flush(now);
    while (auto e = bridge_.poll_event()) cluster_.events_.push_back({now, index_, std::move(*e)});
  }

 private:
  LeaseCluster& cluster_;
  NodeIndex index_;
  lease::LeaseCore lease_;
  node::LeaseBridge bridge_;
};

LeaseCluster::LeaseCluster(uint64_t seed, size_t nodes, lease::LeaseConfig lease_config,
                           gossip::Config gossip_config)
    : sim_(seed), config_(std::move(lease_config)) {
  for (size_t i = 0; i < nodes; ++i) sim_.add_node(gossip_config);
  sim_.set_app_factory([this](NodeIndex index, gossip::Membership& core) {
    return std::make_unique<App>(*this, index, core);
  });
}

void LeaseCluster::crash(NodeIndex node) {
  // What the store would hold: every peer record it was told about (the own record is
  // written as it changes, in flush).
  if (auto* l = lease(node)) {
    LeaseDisk& disk = disks_[node];
    disk.records.clear();
    for (const auto& [id, r] : l->table().records())
      if (id != sim_.id(node)) disk.records.push_back(r);
    disk.evictions.clear();
    for (const auto& [id, e] : l->table().evictions()) disk.evictions.push_back(e);
  }
  sim_.crash(node);
}

lease::LeaseCore* LeaseCluster::lease(NodeIndex node) {
  auto* app = static_cast<App*>(sim_.app(node));
  return app ? &app->lease() : nullptr;
}

const lease::LeaseCore* LeaseCluster::lease(NodeIndex node) const {
  return const_cast<LeaseCluster*>(this)->lease(node);
}

std::string LeaseCluster::placed_and_agreed(Require require) const {
  const lease::Owners* reference = nullptr;
  NodeIndex reference_node = 0;
  for (NodeIndex i = 0; i < sim_.size(); ++i) {
    const auto* l = lease(i);
    if (!l) continue;
    const auto ready = require == Require::kReady ? l->ready_subnet() : l->claimed_subnet();
    if (!ready) return "node " + std::to_string(i) + " has no ready subnet";
    auto owner = l->owners().find(*ready);
    if (owner == l->owners().end() || owner->second != sim_.id(i))
      return "node " + std::to_string(i) + " is ready on " + ready->to_string() +
             " but does not own it";
    if (!reference) {
      reference = &l->owners();
      reference_node = i;
    } else if (l->owners() != *reference) {
      return "nodes " + std::to_string(reference_node) + " and " + std::to_string(i) +
             " disagree on the owners (" + std::to_string(reference->size()) + " vs " +
             std::to_string(l->owners().size()) + " subnets)";
    }
  }
  // Owners never overlap by construction; check that every up member holds exactly one.
  if (reference) {
    std::map<NodeId, int> held;
    for (const auto& [subnet, node] : *reference) held[node]++;
    for (NodeIndex i = 0; i < sim_.size(); ++i) {
      if (!lease(i)) continue;
      if (held[sim_.id(i)] != 1)
        return "node " + std::to_string(i) + " owns " + std::to_string(held[sim_.id(i)]) +
               " subnets";
    }
  }
  return {};
}

uint64_t LeaseCluster::reallocations() const {
  uint64_t total = 0;
  for (NodeIndex i = 0; i < sim_.size(); ++i)
    if (const auto* l = lease(i)) total += l->reallocations();
  return total;
}

}  // namespace shoal::chaos
