#include <doctest/doctest.h>

#include "gossip/broadcast_queue.h"

using shoal::Bytes;
using shoal::gossip::BroadcastKey;
using shoal::gossip::BroadcastQueue;

namespace {
size_t no_overhead(size_t) { return 0; }
size_t two(size_t) { return 2; }

// Takes into a vector, for checking.
size_t take(BroadcastQueue& q, size_t budget, int limit, size_t (*overhead)(size_t),
            std::vector<Bytes>& out) {
  return q.take(budget, limit, overhead,
                [&](shoal::ByteView b) { out.emplace_back(b.begin(), b.end()); });
}
Bytes bytes(size_t n, uint8_t fill) { return Bytes(n, fill); }

std::optional<BroadcastKey> key(uint8_t n) {
  std::array<uint8_t, shoal::NodeId::kSize> b{};
  b[0] = n;
  return BroadcastKey{BroadcastKey::Topic::kMember, shoal::NodeId(b)};
}
const std::optional<BroadcastKey> kNoKey;
}  // namespace

TEST_CASE("newer item with the same key replaces the older one") {
  // A user item about the same node is a different key from a member item.
  BroadcastQueue other;
  other.push(key(1), bytes(1, 1));
  other.push(BroadcastKey{BroadcastKey::Topic::kUser, key(1)->about}, bytes(1, 2));
  CHECK(other.size() == 2);

  BroadcastQueue q;
  q.push(key(1), bytes(10, 1));
  q.push(key(1), bytes(10, 2));
  q.push(kNoKey, bytes(10, 3));
  q.push(kNoKey, bytes(10, 4));
  CHECK(q.size() == 3);
  std::vector<Bytes> out;
  take(q, 1000, 5, no_overhead, out);
  REQUIRE(out.size() == 3);
  CHECK(std::count(out.begin(), out.end(), bytes(10, 1)) == 0);
  CHECK(std::count(out.begin(), out.end(), bytes(10, 2)) == 1);
}

TEST_CASE("fewest-sent first, newest first among equals, dropped at the limit") {
  BroadcastQueue q;
  q.push(key(1), bytes(10, 1));
  std::vector<Bytes> out;
  take(q, 10, 3, no_overhead, out);  // a sent once
  q.push(key(2), bytes(10, 2));
  q.push(key(3), bytes(10, 3));
  out.clear();
  take(q, 10, 3, no_overhead, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0] == bytes(10, 3));  // c: unsent and newest
  out.clear();
  take(q, 20, 3, no_overhead, out);
  REQUIRE(out.size() == 2);
  CHECK(out[0] == bytes(10, 2));  // b: the only unsent one
  for (int i = 0; i < 5; ++i) {
    out.clear();
    take(q, 1000, 3, no_overhead, out);
  }
  CHECK(q.empty());
}

TEST_CASE("take respects the budget and its overhead, skipping what does not fit") {
  BroadcastQueue q;
  q.push(key(4), bytes(100, 1));
  q.push(key(5), bytes(10, 2));
  std::vector<Bytes> out;
  const size_t used = take(q, 50, 5, two, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].size() == 10);
  CHECK(used == 12);
}
