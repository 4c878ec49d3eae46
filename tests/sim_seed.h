// Seeds for simulation tests: the test's own, unless SHOAL_SEED replays another.
#pragma once

#include <cstdint>
#include <cstdlib>

inline uint64_t seed_or(uint64_t fallback) {
  const char* s = std::getenv("SHOAL_SEED");
  return s ? std::strtoull(s, nullptr, 10) : fallback;
}
