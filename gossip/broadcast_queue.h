// The queue of updates waiting to be piggybacked (memberlist's TransmitLimitedQueue).
//
// Each item is an already-encoded update, optionally keyed by what it is about (a topic and
// a node id). A new item replaces any queued item with the same key (a newer alive for a member
// replaces the older suspect). take() hands out the items sent fewest times first (newest first
// among equals) that fit a byte budget, counts one transmission for each, and drops an item once it
// has been sent `limit` times.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <vector>

#include "common/bytes.h"
#include "common/flat_map.h"
#include "common/node_id.h"

namespace shoal::gossip {

struct BroadcastKey {
  enum class Topic : uint8_t { kMember, kUser };
  Topic topic;
  NodeId about;
  bool operator==(const BroadcastKey&) const = default;
};

struct BroadcastKeyHash {
  size_t operator()(const BroadcastKey& k) const noexcept {
    return std::hash<NodeId>()(k.about) ^ static_cast<size_t>(k.topic);
  }
};

class BroadcastQueue {
 public:
  // No key: never replaced by a later item.
  void push(std::optional<BroadcastKey> key, Bytes encoded);

  // Hands to `emit` the items that fit in `budget` bytes, where an item costs its size plus
  // overhead(size). Returns the bytes used. Gives up after a few items that did not fit,
  // so a nearly full packet does not cost a scan of the whole queue.
  size_t take(size_t budget, int limit, size_t (*overhead)(size_t),
              const std::function<void(ByteView)>& emit);

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

 private:
  struct Item {
    int transmits;
    uint64_t id;  // insertion order; larger is newer
    std::optional<BroadcastKey> key;
    Bytes encoded;
    bool operator<(const Item& other) const {
      if (transmits != other.transmits) return transmits < other.transmits;
      return id > other.id;
    }
  };
  using Items = std::set<Item>;

  Items items_;
  FlatMap<BroadcastKey, Items::iterator, BroadcastKeyHash> by_key_;
  uint64_t next_id_ = 0;
  size_t smallest_ = SIZE_MAX;  // lower bound on the cost of any queued item
};

}  // namespace shoal::gossip
