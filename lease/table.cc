#include "lease/table.h"

#include <algorithm>

#include "common/hash.h"

namespace shoal::lease {
namespace {

// Hash of one table entry. Summed (mod 2^64) over all entries: order-independent, and
// updated incrementally as entries come and go.
uint64_t entry_hash(const NodeId& id, uint64_t version, uint64_t kind) {
  uint64_t h = fnv1a(kFnvOffset ^ kind, id.view());
  h ^= version + kGoldenGamma + (h << 6) + (h >> 2);
  return finalise(h);
}
constexpr uint64_t kRecordKind = 1, kEvictionKind = 2;

}  // namespace

Table::Merge Table::merge(const NodeRecord& record) {
  auto [it, inserted] = records_.try_emplace(record.id, record);
  if (inserted) {
    hash_ += entry_hash(record.id, record.version, kRecordKind);
    return Merge::kInserted;
  }
  if (!supersedes(record, it->second)) return Merge::kUnchanged;
  hash_ -= entry_hash(it->second.id, it->second.version, kRecordKind);
  it->second = record;
  hash_ += entry_hash(record.id, record.version, kRecordKind);
  return Merge::kReplaced;
}

bool Table::merge(const Eviction& eviction) {
  auto [it, inserted] = evictions_.try_emplace(eviction.id, eviction);
  if (!inserted) {
    if (eviction.up_to_version <= it->second.up_to_version) return false;
    hash_ -= entry_hash(it->second.id, it->second.up_to_version, kEvictionKind);
    it->second = eviction;
  }
  hash_ += entry_hash(eviction.id, eviction.up_to_version, kEvictionKind);
  return true;
}

const NodeRecord* Table::find(const NodeId& id) const {
  auto it = records_.find(id);
  return it == records_.end() ? nullptr : &it->second;
}

bool Table::evicted(const NodeRecord& record) const {
  auto it = evictions_.find(record.id);
  return it != evictions_.end() && record.version <= it->second.up_to_version;
}

bool Table::expired(const NodeRecord& record, WallTime now) const {
  return now >= record.renewed_at + ttl_;
}

bool Table::valid(const NodeRecord& record, WallTime now) const {
  return !record.released && !evicted(record) && !expired(record, now);
}

Owners Table::owners(WallTime now) const {
  struct Candidate {
    HlcStamp claimed_at;
    NodeId node;
    Cidr subnet;
  };
  std::vector<Candidate> candidates;
  for (const auto& [id, record] : records_) {
    if (!valid(record, now)) continue;
    for (const Claim& c : record.claims) candidates.push_back({c.claimed_at, id, c.subnet});
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return std::tie(a.claimed_at, a.node, a.subnet) < std::tie(b.claimed_at, b.node, b.subnet);
  });
  // Earliest first; a later claim overlapping an accepted one loses. Accepted prefixes never
  // overlap, so only two neighbours in address order can conflict with a newcomer: the one
  // starting at or after it, and the one before it.
  Owners owners;
  for (const Candidate& c : candidates) {
    auto next = owners.lower_bound(c.subnet);
    if (next != owners.end() && next->first.overlaps(c.subnet)) continue;
    if (next != owners.begin() && std::prev(next)->first.overlaps(c.subnet)) continue;
    owners.emplace(c.subnet, c.node);
  }
  return owners;
}

Digest Table::digest() const {
  Digest d;
  d.reserve(records_.size());
  for (const auto& [id, record] : records_) d.emplace_back(id, record.version);
  return d;
}

std::vector<const NodeRecord*> Table::newer_than(const Digest& their) const {
  std::map<NodeId, uint64_t> theirs(their.begin(), their.end());
  std::vector<const NodeRecord*> out;
  for (const auto& [id, record] : records_) {
    auto it = theirs.find(id);
    if (it == theirs.end() || it->second < record.version) out.push_back(&record);
  }
  return out;
}

size_t Table::collect_garbage(WallTime now, std::chrono::milliseconds grace) {
  size_t removed = 0;
  for (auto it = records_.begin(); it != records_.end();) {
    const NodeRecord& r = it->second;
    WallTime invalid_since = WallTime::max();
    if (r.released) invalid_since = r.renewed_at;
    if (expired(r, now)) invalid_since = std::min(invalid_since, r.renewed_at + ttl_);
    if (auto e = evictions_.find(r.id); e != evictions_.end() && evicted(r))
      invalid_since = std::min(invalid_since, e->second.evicted_at);
    if (invalid_since != WallTime::max() && now - invalid_since >= grace) {
      hash_ -= entry_hash(r.id, r.version, kRecordKind);
      it = records_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  // A record an eviction voids was renewed before the eviction, so it has expired by
  // evicted_at + ttl: after that (plus grace) the eviction has nothing left to void.
  for (auto it = evictions_.begin(); it != evictions_.end();) {
    if (now - it->second.evicted_at >= ttl_ + grace) {
      hash_ -= entry_hash(it->second.id, it->second.up_to_version, kEvictionKind);
      it = evictions_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

}  // namespace shoal::lease
