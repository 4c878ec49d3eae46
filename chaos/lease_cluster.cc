#include "chaos/lease_cluster.h"

#include "node/backend_data.h"

namespace shoal::chaos {
namespace {

// A distinct vxlan MAC per member (unicast, locally administered), as agents publish theirs.
node::Mac vtep_mac(NodeIndex index) {
  return {0x02,
          0x5e,
          static_cast<uint8_t>(index >> 24),
          static_cast<uint8_t>(index >> 16),
          static_cast<uint8_t>(index >> 8),
          static_cast<uint8_t>(index)};
}

}  // namespace

LeaseCluster::LeaseCluster(uint64_t seed, size_t nodes, lease::LeaseConfig lease_config,
                           gossip::Config gossip_config, const NatSites& nat)
    : sim_(seed), config_(std::move(lease_config)) {
  for (NatKind kind : nat.kinds) sim_.add_site(kind);
  for (size_t i = 0; i < nodes; ++i)
    sim_.add_node(gossip_config, i < nat.of_node.size() ? nat.of_node[i] : 0);
  sim_.set_lease_factory([this](NodeIndex index) {
    const LeaseDisk& disk = disks_[index];
    return node::LeaseSetup{
        config_,
        lease::LocalLease{sim_.id(index), "node-" + std::to_string(index),
                          sim_.address(index).address, sites_.count(index) ? sites_[index] : "",
                          node::encode_backend_data({vtep_mac(index), {}})},
        lease::StoredLeases{disk.own, disk.records, disk.evictions}};
  });
  sim_.on_persist(
      [this](NodeIndex index, const lease::NodeRecord& record) { disks_[index].own = record; });
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

const lease::LeaseCore* LeaseCluster::lease(NodeIndex node) const {
  const node::Node* host = sim_.host(node);
  return host ? host->leases() : nullptr;
}

bool LeaseCluster::evict(NodeIndex by, NodeIndex whom) {
  node::Node* host = sim_.host(by);
  if (!host) return false;
  const bool evicted = host->evict(sim_.now(), sim_.wall(by), sim_.id(whom));
  sim_.flush(by);
  return evicted;
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

std::string LeaseCluster::settle(TimePoint deadline) {
  std::string problem;
  sim_.run_until([&] { return (problem = placed_and_agreed()).empty(); }, deadline);
  return problem;
}

lease::LeaseConfig LeaseCluster::config_for(const std::string& network, unsigned subnet_len) {
  lease::NetworkSpec spec{network};
  spec.subnet_len = subnet_len;
  lease::LeaseConfig c;
  c.network = lease::NetworkConfig::make(spec).value();
  return c;
}

uint64_t LeaseCluster::reallocations() const {
  uint64_t total = 0;
  for (NodeIndex i = 0; i < sim_.size(); ++i)
    if (const auto* l = lease(i)) total += l->reallocations();
  return total;
}

}  // namespace shoal::chaos
