// A small, fast, seedable random generator (xoshiro256**). The sans-IO cores take their
// randomness from one of these, seeded by the driver, so that a simulation replays exactly
// from its seed. Not for cryptography.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace shoal {

class Rng {
 public:
  explicit Rng(uint64_t seed);

  uint64_t next();
  // Uniform in [0, bound); bound must be > 0.
  uint64_t below(uint64_t bound);
  // Uniform in [0, 1).
  double unit();
  bool chance(double probability) { return unit() < probability; }

  template <typename T>
  void shuffle(std::vector<T>& items) {
    for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[below(i)]);
  }

 private:
  uint64_t s_[4];
};

}  // namespace shoal
