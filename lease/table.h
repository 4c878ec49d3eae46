// Table is the lease CRDT: every node's latest record plus a grow-only set of evictions.
//
// merge() keeps, per node, the record that supersedes (higher version; equal versions by a
// fixed content order), so merging is commutative, associative and idempotent. Who owns a
// subnet is a pure function of the table and the wall time: among valid claims (record not
// released, not evicted, not expired) the earliest (claimed_at, node id) wins, and a claim
// that overlaps an earlier winner loses. Every host computes the same owners from the same
// table. Sans-IO: the time is always passed in.
#pragma once

#include <array>
#include <bitset>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "common/cidr.h"
#include "common/hlc.h"
#include "common/node_id.h"
#include "lease/node_record.h"

namespace shoal::lease {

struct Eviction {
  NodeId id;
  uint64_t up_to_version = 0;  // records of `id` with version <= this are void
  WallTime evicted_at{};
  bool operator==(const Eviction&) const = default;
};

using Digest = std::vector<std::pair<NodeId, uint64_t>>;
using Owners = std::map<Cidr, NodeId>;

class Table {
 public:
  explicit Table(std::chrono::milliseconds ttl) : ttl_(ttl) {}

  enum class Merge { kUnchanged, kInserted, kReplaced };
  Merge merge(const NodeRecord& record);
  // Grow-only: keeps the higher up_to_version per node. True if it changed anything.
  bool merge(const Eviction& eviction);

  const NodeRecord* find(const NodeId& id) const;
  const std::map<NodeId, NodeRecord>& records() const { return records_; }
  const std::map<NodeId, Eviction>& evictions() const { return evictions_; }
  std::chrono::milliseconds ttl() const { return ttl_; }

  bool evicted(const NodeRecord& record) const;
  bool expired(const NodeRecord& record, WallTime now) const;
  // Counts for ownership: not released, not evicted, not expired.
  bool valid(const NodeRecord& record, WallTime now) const;
  Owners owners(WallTime now) const;

  // Anti-entropy. hash() is order-independent and changes with every merge that changes
  // anything; equal hashes mean (with overwhelming probability) equal tables.
  uint64_t hash() const { return hash_; }
  // The same sum over what decides who routes what: a record's claims, addresses, data and
  // release, and the evictions; not versions or renewal stamps. It stays equal between two
  // hosts while a renewal spreads, which every host sends each ttl/2: probe acks carry this
  // one, so that only a change that can move a subnet or a route starts a sync at once.
  uint64_t content_hash() const { return content_hash_; }
  // The same in two levels, so that two large tables that differ in a few entries compare
  // in O(kBuckets + what differs) rather than O(table): every entry falls into one of
  // kBuckets buckets by its id's first byte, each bucket keeps its own hash (hash() is their
  // sum), and digests, newer_than() and evictions can be limited to some buckets.
  static constexpr size_t kBuckets = 64;
  using Buckets = std::bitset<kBuckets>;
  static Buckets all_buckets() { return Buckets().set(); }
  static size_t bucket_of(const NodeId& id) { return id.bytes()[0] * kBuckets / 256; }
  const std::array<uint64_t, kBuckets>& bucket_hashes() const { return bucket_hashes_; }
  // (id, version) of every record in `covered`, in id order.
  Digest digest(const Buckets& covered = all_buckets()) const;
  // Records in `covered` that this table holds newer than (or missing from) `their` digest,
  // which must cover the same buckets.
  std::vector<const NodeRecord*> newer_than(const Digest& their,
                                            const Buckets& covered = all_buckets()) const;
  std::vector<const Eviction*> evictions_in(const Buckets& covered) const;

  // Forgets records invalid for longer than `grace` (so the table does not grow forever)
  // and evictions old enough that every record they void has expired anyway. Returns how
  // many entries went.
  size_t collect_garbage(WallTime now, std::chrono::milliseconds grace);

 private:
  std::chrono::milliseconds ttl_;
  std::map<NodeId, NodeRecord> records_;
  std::map<NodeId, Eviction> evictions_;
  // Adds an entry to (sign +1) or takes it out of (-1) the hashes.
  void account(const NodeRecord& record, int sign);
  void account(const Eviction& eviction, int sign);
  // Calls f(record) for each record in `covered`, in id order, visiting nothing else.
  template <typename F>
  void for_each_in(const Buckets& covered, F&& f) const;

  uint64_t hash_ = 0;
  uint64_t content_hash_ = 0;
  std::array<uint64_t, kBuckets> bucket_hashes_{};
};

}  // namespace shoal::lease
