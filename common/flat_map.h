// FlatMap: a hash map in one array (open addressing, linear probing, backward-shift
// deletion), for small trivially copyable keys and values such as node ids and positions.
//
// Why not std::unordered_map: every entry there is a node of its own, so a lookup reads
// the bucket array, then the node, and an entry costs a heap block. The simulator keeps
// one map per member per member (10^6 at 1,000 hosts), and its lookups are cache misses:
// here a lookup reads one slot, mostly, and an entry costs its key and value plus at most
// as much again in empty slots.
//
// Promises: find, insert_or_assign and erase are O(1) expected, for keys whose Hash spreads
// them (each hash is mixed again with splitmix64's finaliser, so a hash of a few random
// bytes is enough). A pointer from find() stays valid until the next insert or erase.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/hash.h"

namespace shoal {

template <class Key, class Value, class Hash = std::hash<Key>>
class FlatMap {
  static_assert(std::is_trivially_copyable_v<Key> && std::is_trivially_copyable_v<Value>);

 public:
  Value* find(const Key& key) {
    if (slots_.empty()) return nullptr;
    for (size_t i = home(key);; i = next(i)) {
      Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (s.key == key) return &s.value;
    }
  }
  const Value* find(const Key& key) const { return const_cast<FlatMap*>(this)->find(key); }

  // Returns the value now stored under `key` and whether the key is new.
  std::pair<Value*, bool> try_emplace(const Key& key, const Value& value) {
    if (Value* found = find(key)) return {found, false};
    if (2 * (size_ + 1) > slots_.size()) grow();
    Slot& s = slots_[free_slot(key)];
    s = Slot{key, value, true};
    ++size_;
    return {&s.value, true};
  }
  void insert_or_assign(const Key& key, const Value& value) {
    auto [stored, fresh] = try_emplace(key, value);
    if (!fresh) *stored = value;
  }

  // Returns whether the key was there.
  bool erase(const Key& key) {
    if (slots_.empty()) return false;
    size_t hole = home(key);
    for (;; hole = next(hole)) {
      if (!slots_[hole].used) return false;
      if (slots_[hole].key == key) break;
    }
    // Backward shift: move up each later entry of the run that may sit in the hole (its
    // home is not cyclically within (hole, j]), so that no lookup meets a gap early.
    for (size_t j = next(hole); slots_[j].used; j = next(j)) {
      const size_t h = home(slots_[j].key);
      const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
      if (stays) continue;
      slots_[hole] = slots_[j];
      hole = j;
    }
    slots_[hole].used = false;
    --size_;
    return true;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  struct Slot {
    Key key{};
    Value value{};
    bool used = false;
  };

  size_t home(const Key& key) const { return finalise(Hash{}(key)) & (slots_.size() - 1); }
  size_t next(size_t i) const { return (i + 1) & (slots_.size() - 1); }
  size_t free_slot(const Key& key) const {
    size_t i = home(key);
    while (slots_[i].used) i = next(i);
    return i;
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 8 : 2 * old.size(), Slot{});
    for (const Slot& s : old)
      if (s.used) slots_[free_slot(s.key)] = s;
  }

  std::vector<Slot> slots_;  // a power of two long, at most half used
  size_t size_ = 0;
};

}  // namespace shoal
