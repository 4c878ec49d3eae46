// NodeId names a host for its whole life: 16 random bytes made on first start and kept in
// the store. Human names are labels and may change; the id does not. Ordered, hashable,
// printed as 32 hex digits.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"

namespace shoal {

class Rng;

class NodeId {
 public:
  static constexpr size_t kSize = 16;

  NodeId() = default;  // all zero: "no node"
  explicit NodeId(const std::array<uint8_t, kSize>& bytes) : bytes_(bytes) {}

  static NodeId random(Rng& rng);
  // Exactly kSize bytes, else nullopt.
  static std::optional<NodeId> from_bytes(ByteView bytes);
  // Exactly 32 hex digits, else nullopt.
  static std::optional<NodeId> from_hex(std::string_view hex);

  bool is_zero() const;
  const std::array<uint8_t, kSize>& bytes() const { return bytes_; }
  ByteView view() const { return {bytes_.data(), bytes_.size()}; }
  std::string hex() const;
  std::string short_hex() const { return hex().substr(0, 8); }

  // Byte order (as memcmp would), but on two words: ids are compared a lot in maps.
  std::strong_ordering operator<=>(const NodeId& other) const {
    const uint64_t a = word(0), b = other.word(0);
    if (a != b) return a <=> b;
    return word(1) <=> other.word(1);
  }
  bool operator==(const NodeId& other) const {
    return word(0) == other.word(0) && word(1) == other.word(1);
  }

 private:
  uint64_t word(int i) const {
    uint64_t w;
    std::memcpy(&w, bytes_.data() + 8 * i, 8);
    return __builtin_bswap64(w);  // big-endian, so that word order is byte order
  }

  std::array<uint8_t, kSize> bytes_{};
};

}  // namespace shoal

template <>
struct std::hash<shoal::NodeId> {
  size_t operator()(const shoal::NodeId& id) const noexcept {
    // The bytes are random already; the first eight are as good a hash as any.
    size_t h = 0;
    for (size_t i = 0; i < sizeof(h); ++i) h = (h << 8) | id.bytes()[i];
    return h;
  }
};
