// The lease CRDT: merge laws on random tables, ownership, expiry, evictions, GC.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <functional>

#include "common/rng.h"
#include "lease/table.h"

using namespace shoal;
using namespace shoal::lease;
using std::chrono::hours;
using std::chrono::milliseconds;

namespace {

const WallTime kNow{milliseconds(1767225600000)};

Cidr subnet(int third) { return *Cidr::make(IpAddress::v4(198, 18, uint8_t(third), 0), 24); }

NodeRecord record(const NodeId& id, uint64_t version, std::vector<Claim> claims,
                  WallTime renewed = kNow) {
  NodeRecord r;
  r.id = id;
  r.version = version;
  r.name = "n";
  r.underlay = IpAddress::v4(192, 0, 2, 1);
  r.claims = std::move(claims);
  r.renewed_at = renewed;
  return r;
}

// A random set of records about a few nodes (with version clashes on purpose).
std::vector<NodeRecord> random_records(Rng& rng, const std::vector<NodeId>& ids, int count) {
  std::vector<NodeRecord> out;
  for (int i = 0; i < count; ++i) {
    const NodeId& id = ids[rng.below(ids.size())];
    std::vector<Claim> claims;
    if (rng.chance(0.8))
      claims.push_back(
          {subnet(int(rng.below(6))), HlcStamp{int64_t(rng.below(50)), uint32_t(rng.below(3))}});
    NodeRecord r =
        record(id, 1 + rng.below(5), claims, kNow - milliseconds(rng.below(2) * 25 * 3600 * 1000));
    r.released = rng.chance(0.1);
    out.push_back(r);
  }
  return out;
}

Table merged(const std::vector<NodeRecord>& records, const std::vector<Eviction>& evictions) {
  Table t(hours(24));
  for (const auto& r : records) t.merge(r);
  for (const auto& e : evictions) t.merge(e);
  return t;
}

}  // namespace

TEST_CASE("merge is commutative, associative and idempotent; owners agree in any order") {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    CAPTURE(seed);
    Rng rng(seed);
    std::vector<NodeId> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(NodeId::random(rng));
    auto records = random_records(rng, ids, 12);
    std::vector<Eviction> evictions;
    if (rng.chance(0.5)) evictions.push_back({ids[0], 1 + rng.below(4), kNow});

    const Table a = merged(records, evictions);
    auto shuffled = records;
    rng.shuffle(shuffled);
    const Table b = merged(shuffled, evictions);
    // Merging a table into itself (every record twice) changes nothing.
    auto twice = records;
    twice.insert(twice.end(), records.begin(), records.end());
    const Table c = merged(twice, evictions);
    // (x ∪ y) ∪ z == x ∪ (y ∪ z): merge halves separately, then together.
    Table left(hours(24)), right(hours(24));
    for (size_t i = 0; i < records.size(); ++i) (i % 2 ? left : right).merge(records[i]);
    for (const auto& [id, r] : right.records()) left.merge(r);
    for (const auto& e : evictions) left.merge(e);

    for (const Table* t : {&b, &c, static_cast<const Table*>(&left)}) {
      CHECK(t->records() == a.records());
      CHECK(t->hash() == a.hash());
      CHECK(t->owners(kNow) == a.owners(kNow));
    }
  }
}

TEST_CASE("the earliest valid claim wins; released, evicted and expired claims do not count") {
  Rng rng(7);
  const NodeId a = NodeId::random(rng), b = NodeId::random(rng);
  Table t(hours(24));
  t.merge(record(a, 1, {{subnet(1), {100, 0}}}));
  t.merge(record(b, 1, {{subnet(1), {50, 0}}}));
  CHECK(t.owners(kNow).at(subnet(1)) == b);

  NodeRecord released = record(b, 2, {{subnet(1), {50, 0}}});
  released.released = true;
  t.merge(released);
  CHECK(t.owners(kNow).at(subnet(1)) == a);

  t.merge(record(b, 3, {{subnet(1), {50, 0}}}));
  CHECK(t.owners(kNow).at(subnet(1)) == b);
  CHECK(t.merge(Eviction{b, 3, kNow}));
  CHECK(t.owners(kNow).at(subnet(1)) == a);
  CHECK_FALSE(t.merge(Eviction{b, 2, kNow}));  // grow-only

  // a expires 24 h after its last renewal.
  CHECK(t.owners(kNow + hours(23)).count(subnet(1)) == 1);
  CHECK(t.owners(kNow + hours(24)).empty());
}

TEST_CASE("overlapping claims of different lengths: the earlier wins, never both") {
  Rng rng(8);
  const NodeId a = NodeId::random(rng), b = NodeId::random(rng);
  Table t(hours(24));
  const Cidr wide = *Cidr::parse("198.18.0.0/16");
  t.merge(record(a, 1, {{subnet(5), {20, 0}}}));
  t.merge(record(b, 1, {{wide, {10, 0}}}));
  const Owners owners = t.owners(kNow);
  CHECK(owners.size() == 1);
  CHECK(owners.at(wide) == b);
}

TEST_CASE("equal versions with different content resolve the same way everywhere") {
  Rng rng(9);
  const NodeId a = NodeId::random(rng);
  const NodeRecord x = record(a, 4, {{subnet(1), {1, 0}}});
  const NodeRecord y = record(a, 4, {{subnet(2), {1, 0}}});
  CHECK(supersedes(x, y) != supersedes(y, x));
  CHECK(merged({x, y}, {}).records() == merged({y, x}, {}).records());
}

TEST_CASE("digest and newer_than send only what differs") {
  Rng rng(10);
  std::vector<NodeId> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(NodeId::random(rng));
  Table mine(hours(24)), theirs(hours(24));
  for (const auto& id : ids) {
    mine.merge(record(id, 2, {}));
    theirs.merge(record(id, 2, {}));
  }
  CHECK(mine.hash() == theirs.hash());
  CHECK(mine.newer_than(theirs.digest()).empty());
  mine.merge(record(ids[1], 3, {}));
  const auto delta = mine.newer_than(theirs.digest());
  REQUIRE(delta.size() == 1);
  CHECK(delta[0]->id == ids[1]);
  CHECK(mine.hash() != theirs.hash());
}

TEST_CASE("the content hash ignores renewals and sees every change that can move a route") {
  Rng rng(4);
  const NodeId id = NodeId::random(rng);
  const NodeRecord base = record(id, 3, {{subnet(1), HlcStamp{10, 0}}});
  Table t(hours(24));
  t.merge(base);
  const uint64_t hash = t.hash(), content = t.content_hash();
  NodeRecord renewed = base;
  renewed.version = 4;
  renewed.renewed_at = kNow + hours(1);
  t.merge(renewed);
  CHECK(t.hash() != hash);
  CHECK(t.content_hash() == content);

  std::vector<std::function<void(NodeRecord&)>> changes = {
      [](NodeRecord& r) { r.claims[0].subnet = subnet(2); },
      [](NodeRecord& r) { r.claims[0].claimed_at.logical = 1; },
      [](NodeRecord& r) { r.claims.clear(); },
      [](NodeRecord& r) { r.released = true; },
      [](NodeRecord& r) { r.underlay = IpAddress::v4(192, 0, 2, 2); },
      [](NodeRecord& r) { r.backend_data = {1}; },
      [](NodeRecord& r) { r.name = "m"; },
      [](NodeRecord& r) { r.site = "b"; },
  };
  uint64_t version = 5;
  for (size_t i = 0; i < changes.size(); ++i) {
    CAPTURE(i);
    Table changed(hours(24));
    NodeRecord r = renewed;
    r.version = version++;
    changes[i](r);
    changed.merge(r);
    CHECK(changed.content_hash() != content);
  }
  t.merge(Eviction{id, 2, kNow});
  CHECK(t.content_hash() != content);
}

TEST_CASE("the table hash is pinned: peers of other builds compare it") {
  std::array<uint8_t, NodeId::kSize> bytes{};
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(i);
  Table t(hours(24));
  t.merge(record(NodeId(bytes), 7, {}));
  CHECK(t.hash() == 0x200f231a1c3c417bULL);
}

TEST_CASE("bucket hashes sum to the table hash; a sync of the differing buckets converges") {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    Rng rng(seed);
    std::vector<NodeId> ids;
    for (int i = 0; i < 300; ++i) ids.push_back(NodeId::random(rng));
    // The bucket edges, where an off-by-one in the id ranges would show.
    for (uint8_t first : {0, 3, 4, 127, 128, 251, 252, 255}) {
      std::array<uint8_t, NodeId::kSize> bytes{};
      bytes[0] = first;
      bytes[15] = 1;
      ids.push_back(NodeId(bytes));
      bytes.fill(0xff);
      bytes[0] = first;
      ids.push_back(NodeId(bytes));
    }
    Table a(hours(24)), b(hours(24));
    for (const NodeId& id : ids) {
      a.merge(record(id, 5, {}));
      b.merge(record(id, 5, {}));
    }
    // A few differences on each side, and an eviction only `a` holds.
    for (int i = 0; i < 6; ++i) a.merge(record(ids[rng.below(ids.size())], 6 + rng.below(3), {}));
    for (int i = 0; i < 6; ++i) b.merge(record(ids[rng.below(ids.size())], 6 + rng.below(3), {}));
    b.merge(record(NodeId::random(rng), 1, {}));
    a.merge(Eviction{ids[rng.below(ids.size())], 4, kNow});

    uint64_t sum = 0;
    for (uint64_t h : a.bucket_hashes()) sum += h;
    CHECK(sum == a.hash());
    Table::Buckets differ;
    for (size_t i = 0; i < Table::kBuckets; ++i)
      differ[i] = a.bucket_hashes()[i] != b.bucket_hashes()[i];
    CHECK(differ.count() <= 14);  // at most one bucket per difference

    const auto a_digest = a.digest(differ);
    for (const auto& [id, version] : a_digest) CHECK(differ.test(Table::bucket_of(id)));
    CHECK(a_digest.size() < ids.size() / 2);  // far less than the whole table
    CHECK(a.digest(Table::all_buckets()).size() == a.records().size());
    const auto to_b = a.newer_than(b.digest(differ), differ);
    const auto to_a = b.newer_than(a_digest, differ);
    const auto evictions = a.evictions_in(differ);
    CHECK(evictions.size() == 1);
    for (const NodeRecord* r : to_b) b.merge(*r);
    for (const NodeRecord* r : to_a) a.merge(*r);
    for (const Eviction* e : evictions) b.merge(*e);
    CHECK(a.hash() == b.hash());
    CHECK(a.bucket_hashes() == b.bucket_hashes());
    // Garbage collection takes entries out of their buckets too.
    CHECK(a.collect_garbage(kNow + hours(100), hours(24)) > ids.size());
    CHECK(a.hash() == 0);
    CHECK(a.content_hash() == 0);
    CHECK(a.bucket_hashes() == std::array<uint64_t, Table::kBuckets>{});
  }
}

TEST_CASE("garbage collection forgets long-dead records and old evictions") {
  Rng rng(11);
  const NodeId a = NodeId::random(rng), b = NodeId::random(rng);
  Table t(hours(24));
  NodeRecord gone = record(a, 1, {{subnet(1), {1, 0}}});
  gone.released = true;
  t.merge(gone);
  t.merge(record(b, 1, {{subnet(2), {1, 0}}}));
  t.merge(Eviction{b, 1, kNow});
  CHECK(t.collect_garbage(kNow + hours(1), hours(2)) == 0);
  CHECK(t.collect_garbage(kNow + hours(3), hours(2)) == 2);  // both records
  CHECK(t.records().empty());
  CHECK(t.evictions().size() == 1);
  CHECK(t.collect_garbage(kNow + hours(26), hours(2)) == 1);  // the eviction, ttl + grace on
  CHECK(t.hash() == 0);
}

TEST_CASE("a claim renewed through a long partition beats the newcomer's later claim") {
  // The holder kept renewing on its side; the other side saw its record expire and gave the
  // subnet to a newcomer. After the heal both records are valid: the earliest claim wins,
  // the same on every host, and the newcomer moves (lease/lease_core.h documents the rule).
  Rng rng(9);
  const NodeId holder = NodeId::random(rng), newcomer = NodeId::random(rng);
  Table t(hours(1));
  t.merge(record(holder, 40, {{subnet(5), HlcStamp{100, 0}}}, kNow));
  t.merge(record(newcomer, 2, {{subnet(5), HlcStamp{5000, 0}}}, kNow));
  CHECK(t.owners(kNow).at(subnet(5)) == holder);
  Table other(hours(1));  // merged in the other order: the same owner
  other.merge(record(newcomer, 2, {{subnet(5), HlcStamp{5000, 0}}}, kNow));
  other.merge(record(holder, 40, {{subnet(5), HlcStamp{100, 0}}}, kNow));
  CHECK(other.owners(kNow) == t.owners(kNow));
}
