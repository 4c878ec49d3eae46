#include "common/node_id.h"

#include <algorithm>
#include <cstring>

#include "common/rng.h"

namespace shoal {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

NodeId NodeId::random(Rng& rng) {
  std::array<uint8_t, kSize> bytes;
  for (size_t i = 0; i < kSize; i += 8) {
    uint64_t word = rng.next();
    std::memcpy(bytes.data() + i, &word, 8);
  }
  return NodeId(bytes);
}

std::optional<NodeId> NodeId::from_bytes(ByteView bytes) {
  if (bytes.size() != kSize) return std::nullopt;
  std::array<uint8_t, kSize> out;
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return NodeId(out);
}

std::optional<NodeId> NodeId::from_hex(std::string_view hex) {
  if (hex.size() != 2 * kSize) return std::nullopt;
  std::array<uint8_t, kSize> out;
  for (size_t i = 0; i < kSize; ++i) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return NodeId(out);
}

bool NodeId::is_zero() const {
  return std::all_of(bytes_.begin(), bytes_.end(), [](uint8_t b) { return b == 0; });
}

std::string NodeId::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * kSize, '0');
  for (size_t i = 0; i < kSize; ++i) {
    out[2 * i] = kDigits[bytes_[i] >> 4];
    out[2 * i + 1] = kDigits[bytes_[i] & 0xf];
  }
  return out;
}

}  // namespace shoal
