#include "lease/table.h"

#include <algorithm>
#include <tuple>
#include <type_traits>

#include "common/byte_order.h"
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
constexpr uint64_t kRecordKind = 1, kEvictionKind = 2, kContentKind = 3;

// content_of(), hashed: equal for a record and its renewals. Each variable-length field goes
// in with its length, so that fields cannot run together.
uint64_t record_content_hash(const NodeRecord& r) {
  const auto put = [](uint64_t h, uint64_t value, size_t bytes) {  // its low `bytes` bytes
    uint8_t le[8];
    put_le64(le, value);
    return fnv1a(h, ByteView(le, bytes));
  };
  const auto put_bytes = [&](uint64_t h, ByteView bytes) {
    return fnv1a(put(h, bytes.size(), 4), bytes);
  };
  const auto put_field = [&](uint64_t h, const auto& field) {
    using Field = std::decay_t<decltype(field)>;
    if constexpr (std::is_same_v<Field, bool>) {
      return put(h, field, 1);
    } else if constexpr (std::is_same_v<Field, IpAddress>) {
      return put_bytes(h, field.view());
    } else if constexpr (std::is_same_v<Field, std::string>) {
      return put_bytes(h, as_bytes(field));
    } else if constexpr (std::is_same_v<Field, Bytes>) {
      return put_bytes(h, field);
    } else {
      static_assert(std::is_same_v<Field, std::vector<Claim>>, "a content field to hash");
      h = put(h, field.size(), 4);
      for (const Claim& c : field) {
        h = put_bytes(h, c.subnet.network().view());
        h = put(h, c.subnet.prefix(), 1);
        h = put(h, static_cast<uint64_t>(c.claimed_at.wall_ms), 8);
        h = put(h, c.claimed_at.logical, 4);
      }
      return h;
    }
  };
  uint64_t h = fnv1a(kFnvOffset ^ kContentKind, r.id.view());
  std::apply([&](const auto&... field) { ((h = put_field(h, field)), ...); }, content_of(r));
  return finalise(h);
}

// The smallest id in bucket `b`: where that bucket's run starts in an id-ordered map.
NodeId first_id_in(size_t b) {
  std::array<uint8_t, NodeId::kSize> bytes{};
  bytes[0] = static_cast<uint8_t>((b * 256 + Table::kBuckets - 1) / Table::kBuckets);
  return NodeId(bytes);
}

}  // namespace

void Table::account(const NodeRecord& record, int sign) {
  const uint64_t h = entry_hash(record.id, record.version, kRecordKind);
  const uint64_t delta = sign > 0 ? h : -h;
  hash_ += delta;
  bucket_hashes_[bucket_of(record.id)] += delta;
  const uint64_t c = record_content_hash(record);
  content_hash_ += sign > 0 ? c : -c;
}

void Table::account(const Eviction& eviction, int sign) {
  const uint64_t h = entry_hash(eviction.id, eviction.up_to_version, kEvictionKind);
  const uint64_t delta = sign > 0 ? h : -h;
  hash_ += delta;
  bucket_hashes_[bucket_of(eviction.id)] += delta;
  content_hash_ += delta;  // an eviction is all content
}

template <typename F>
void Table::for_each_in(const Buckets& covered, F&& f) const {
  if (covered.all()) {
    for (const auto& [id, record] : records_) f(record);
    return;
  }
  for (size_t b = 0; b < kBuckets; ++b) {
    if (!covered.test(b)) continue;
    for (auto it = records_.lower_bound(first_id_in(b));
         it != records_.end() && bucket_of(it->first) == b; ++it)
      f(it->second);
  }
}

Table::Merge Table::merge(const NodeRecord& record) {
  auto [it, inserted] = records_.try_emplace(record.id, record);
  if (inserted) {
    account(record, +1);
    return Merge::kInserted;
  }
  if (!supersedes(record, it->second)) return Merge::kUnchanged;
  account(it->second, -1);
  it->second = record;
  account(record, +1);
  return Merge::kReplaced;
}

bool Table::merge(const Eviction& eviction) {
  auto [it, inserted] = evictions_.try_emplace(eviction.id, eviction);
  if (!inserted) {
    if (eviction.up_to_version <= it->second.up_to_version) return false;
    account(it->second, -1);
    it->second = eviction;
  }
  account(eviction, +1);
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

Digest Table::digest(const Buckets& covered) const {
  Digest d;
  if (covered.all()) d.reserve(records_.size());
  for_each_in(covered, [&](const NodeRecord& r) { d.emplace_back(r.id, r.version); });
  return d;
}

std::vector<const NodeRecord*> Table::newer_than(const Digest& their,
                                                 const Buckets& covered) const {
  // A sorted copy rather than a map: one allocation, and their digest is usually sorted.
  Digest theirs = their;
  if (!std::is_sorted(theirs.begin(), theirs.end())) std::sort(theirs.begin(), theirs.end());
  std::vector<const NodeRecord*> out;
  for_each_in(covered, [&](const NodeRecord& r) {
    auto it =
        std::lower_bound(theirs.begin(), theirs.end(), r.id,
                         [](const auto& entry, const NodeId& id) { return entry.first < id; });
    // With duplicate ids in their digest, the lowest version counts: we send rather than miss.
    if (it == theirs.end() || it->first != r.id || it->second < r.version) out.push_back(&r);
  });
  return out;
}

std::vector<const Eviction*> Table::evictions_in(const Buckets& covered) const {
  std::vector<const Eviction*> out;
  for (const auto& [id, eviction] : evictions_)
    if (covered.test(bucket_of(id))) out.push_back(&eviction);
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
      account(r, -1);
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
      account(it->second, -1);
      it = evictions_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

}  // namespace shoal::lease
