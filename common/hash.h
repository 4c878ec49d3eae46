// The small non-cryptographic hashes that hosts compare with each other: the lease table's
// hash goes on the wire, and every host must rank relays and pick subnet tries alike. So
// they are fixed functions (never std::hash, whose values may change between builds), and
// changing one changes the protocol. Not for anything an attacker must not be able to forge.
#pragma once

#include <cstdint>

#include "common/bytes.h"

namespace shoal {

inline constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
inline constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;  // 2^64 / the golden ratio

// FNV-1a over `bytes`, continuing from `h` (start from kFnvOffset).
inline uint64_t fnv1a(uint64_t h, ByteView bytes) {
  for (uint8_t b : bytes) h = (h ^ b) * 0x100000001b3ULL;
  return h;
}

// splitmix64's finaliser: every input bit reaches every output bit. FNV alone mixes its
// last bytes poorly, so each FNV hash here ends with it.
inline uint64_t finalise(uint64_t h) {
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

// splitmix64's step: the next output of the generator whose state is `state`.
inline uint64_t splitmix64(uint64_t& state) { return finalise(state += kGoldenGamma); }

}  // namespace shoal
