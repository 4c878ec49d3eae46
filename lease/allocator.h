// Picks the subnet a node claims. Candidates are tried in an order given by rendezvous
// hashing of (node id, subnet): every node has its own stable order, so two strangers
// allocating at the same moment rarely try the same subnet first, and a node that comes
// back tries the same subnets again.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "common/node_id.h"
#include "lease/network_config.h"
#include "lease/table.h"

namespace shoal::lease {

// Candidates sorted by the node's rendezvous score, best first.
std::vector<Cidr> rendezvous_order(const NodeId& node, std::vector<Cidr> candidates);

// The first subnet of `order` (the node's rendezvous order of its pool) that no valid claim
// of another node covers, or nullopt when the pool is full.
std::optional<Cidr> pick_subnet(const NodeId& node, const std::vector<Cidr>& order,
                                const Table& table, WallTime now);

}  // namespace shoal::lease
