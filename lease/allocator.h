// Picks the subnet a node claims.
//
// Each node has its own probe sequence over its pool, a hash of (node id, k) for the k-th
// try: two strangers rarely try the same subnet first, and a node that comes back tries the
// same subnets again. Any valid claim of another node blocks a subnet.
//
// Hosts started together still pick blind: a claim needs about a second to reach a large
// cluster, and with N hosts in a pool of C subnets about N^2/2C pairs want the same first
// subnet (30 at N = 1,000, C = 16,384). So the pick also looks at the members gossip knows
// that hold no claim yet: in node-id order, each of them is given the first free subnet of
// its own sequence, as it will pick it itself, and we take what falls to us. Two members
// that know each other therefore never collide, whatever their timing; only a member not
// yet heard of can still surprise us, and the ownership rule settles that as before.
#pragma once

#include <optional>
#include <vector>

#include "common/cidr.h"
#include "common/node_id.h"
#include "lease/table.h"

namespace shoal::lease {

// The index into a pool of `pool_size` subnets of `node`'s k-th try.
size_t probe_index(const NodeId& node, uint64_t k, size_t pool_size);

// The subnet of `pool` that `self` should claim: no valid claim of another node covers it,
// nor does the share of an earlier member of `unclaimed_members` (see above). Those are the
// live members known to hold no claim; `self` may be among them or not. Nullopt when the
// pool is full.
std::optional<Cidr> pick_subnet(const NodeId& self, const std::vector<Cidr>& pool,
                                const Table& table, WallTime now,
                                const std::vector<NodeId>& unclaimed_members = {});

}  // namespace shoal::lease
