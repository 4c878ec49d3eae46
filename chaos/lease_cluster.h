// A cluster of members running gossip and the lease table together on the simulator. Each
// member's LeaseCore rides on its gossip core (user messages and push-pull) and writes to a
// simulated disk that survives crashes, so restarts (and restores of old copies) can be
// replayed. The SQLite store itself is tested on its own, with real files.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chaos/simulator.h"
#include "lease/lease_core.h"

namespace shoal::chaos {

struct LeaseDisk {
  std::optional<lease::NodeRecord> own;
  std::vector<lease::NodeRecord> records;
  std::vector<lease::Eviction> evictions;
};

class LeaseCluster {
 public:
  // Sites behind NAT routers, when a topology has them: `kinds[k]` is site k+1's router, and
  // `of_node[i]` member i's site (0: the public underlay, as when of_node is empty).
  struct NatSites {
    std::vector<NatKind> kinds;
    std::vector<SiteIndex> of_node;
  };
  LeaseCluster(uint64_t seed, size_t nodes, lease::LeaseConfig lease_config,
               gossip::Config gossip_config = gossip::Config::lan(), const NatSites& nat = {});

  Simulator& sim() { return sim_; }
  const Simulator& sim() const { return sim_; }
  size_t size() const { return sim_.size(); }
  void set_site(NodeIndex node, std::string site) { sites_[node] = std::move(site); }

  // Starts (or restarts from its disk) and joins `seeds`.
  void start(NodeIndex node, const std::vector<NodeIndex>& seeds) { sim_.start(node, seeds); }
  void crash(NodeIndex node);
  // Null while the member is down.
  const lease::LeaseCore* lease(NodeIndex node) const;
  // Member `whom`'s leases evicted by member `by` (shoal forget).
  bool evict(NodeIndex by, NodeIndex whom);
  LeaseDisk& disk(NodeIndex node) { return disks_[node]; }

  // Empty when every member that is up has a ready subnet that it owns, no two own the same
  // or overlapping subnets, and all of them compute the same owner map; else the problem.
  // With Require::kOwned a claim counts before its settle window has passed.
  enum class Require { kReady, kOwned };
  std::string placed_and_agreed(Require require = Require::kReady) const;
  // Runs until placed_and_agreed() holds or `deadline`; returns the problem left, if any.
  std::string settle(TimePoint deadline);
  // A lease config for `network` cut into /`subnet_len` subnets, flannel's other defaults.
  static lease::LeaseConfig config_for(const std::string& network, unsigned subnet_len);
  // Total reallocations (claims lost and replaced) over all members' current lives.
  uint64_t reallocations() const;

 private:
  Simulator sim_;
  lease::LeaseConfig config_;
  std::map<NodeIndex, std::string> sites_;
  std::map<NodeIndex, LeaseDisk> disks_;
};

}  // namespace shoal::chaos
