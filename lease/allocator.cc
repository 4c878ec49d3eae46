#include "lease/allocator.h"

#include <algorithm>
#include <set>

#include "common/hash.h"

namespace shoal::lease {
namespace {

uint64_t mix(const NodeId& node, uint64_t k) {
  return finalise(fnv1a(kFnvOffset, node.view()) ^ (k * kGoldenGamma));
}

// Random tries find a free subnet fast while the pool is mostly free; past this many a
// scan from the first try finds one for certain (and fails only when the pool is full).
constexpr uint64_t kRandomTries = 32;

class Blocked {
 public:
  Blocked(const NodeId& self, const Table& table, WallTime now, uint8_t length) {
    for (const auto& [id, record] : table.records()) {
      if (id == self || !table.valid(record, now)) continue;
      for (const Claim& c : record.claims) {
        claimed_.push_back(c.subnet);
        mixed_lengths_ |= c.subnet.prefix() != length;
      }
    }
    std::sort(claimed_.begin(), claimed_.end());
  }

  bool contains(const Cidr& c) const {
    if (promised_.count(c) || std::binary_search(claimed_.begin(), claimed_.end(), c)) return true;
    // Same-length prefixes overlap only when equal; claims of another length (a peer with
    // another SubnetLen) need the full comparison.
    return mixed_lengths_ && std::any_of(claimed_.begin(), claimed_.end(),
                                         [&](const Cidr& t) { return t.overlaps(c); });
  }
  void promise(const Cidr& c) { promised_.insert(c); }

 private:
  std::vector<Cidr> claimed_;
  std::set<Cidr> promised_;  // first picks we expect of members that have not claimed yet
  bool mixed_lengths_ = false;
};

std::optional<Cidr> first_free(const NodeId& node, const std::vector<Cidr>& pool,
                               const Blocked& blocked) {
  for (uint64_t k = 0; k < kRandomTries; ++k) {
    const Cidr& c = pool[probe_index(node, k, pool.size())];
    if (!blocked.contains(c)) return c;
  }
  const size_t start = probe_index(node, 0, pool.size());
  for (size_t i = 0; i < pool.size(); ++i) {
    const Cidr& c = pool[(start + i) % pool.size()];
    if (!blocked.contains(c)) return c;
  }
  return std::nullopt;
}

}  // namespace

size_t probe_index(const NodeId& node, uint64_t k, size_t pool_size) {
  return static_cast<size_t>(mix(node, k) % pool_size);
}

std::optional<Cidr> pick_subnet(const NodeId& self, const std::vector<Cidr>& pool,
                                const Table& table, WallTime now,
                                const std::vector<NodeId>& unclaimed_members) {
  if (pool.empty()) return std::nullopt;
  Blocked blocked(self, table, now, pool.front().prefix());
  std::vector<NodeId> ahead;
  for (const NodeId& id : unclaimed_members)
    if (id < self) ahead.push_back(id);
  std::sort(ahead.begin(), ahead.end());
  for (const NodeId& id : ahead) {
    // A member's picks land in its own pool; ours is the best guess we have of it, and a
    // wrong guess costs only a subnet skipped, never a collision.
    if (auto expected = first_free(id, pool, blocked)) blocked.promise(*expected);
  }
  if (auto pick = first_free(self, pool, blocked)) return pick;
  // Promises to members that have not claimed may fill a small pool; what is really
  // free still is.
  if (ahead.empty()) return std::nullopt;
  return first_free(self, pool, Blocked(self, table, now, pool.front().prefix()));
}

}  // namespace shoal::lease
