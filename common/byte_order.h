// Fixed-width integers to and from bytes, in one place. Big-endian (network order) is what
// shoal's wire and files use: frame lengths, key ids, the stored incarnation. The lease
// digest is the one little-endian field (it is defined so; see lease/lease_core.h), and the
// virtio_net_hdr a TUN device prepends is little-endian too (host order on the hosts shoal
// runs on). The caller guarantees the bytes are there: `out` and `in` point at 2, 4 or 8
// valid bytes.
#pragma once

#include <cstdint>

#include "common/bytes.h"

namespace shoal {

constexpr void put_be16(uint8_t* out, uint16_t v) {
  out[0] = static_cast<uint8_t>(v >> 8);
  out[1] = static_cast<uint8_t>(v);
}
constexpr uint16_t get_be16(const uint8_t* in) { return static_cast<uint16_t>(in[0] << 8 | in[1]); }
constexpr void put_le16(uint8_t* out, uint16_t v) {
  out[0] = static_cast<uint8_t>(v);
  out[1] = static_cast<uint8_t>(v >> 8);
}
constexpr uint16_t get_le16(const uint8_t* in) { return static_cast<uint16_t>(in[1] << 8 | in[0]); }
constexpr void put_be32(uint8_t* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
constexpr uint32_t get_be32(const uint8_t* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 8 | in[i];
  return v;
}
constexpr void put_be64(uint8_t* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}
constexpr uint64_t get_be64(const uint8_t* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | in[i];
  return v;
}
constexpr void put_le64(uint8_t* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Appends `v` big-endian.
inline void append_be32(Bytes& out, uint32_t v) {
  uint8_t b[4];
  put_be32(b, v);
  out.insert(out.end(), b, b + 4);
}

}  // namespace shoal
