#include <doctest/doctest.h>

#include <cstdint>
#include <map>

#include "common/flat_map.h"
#include "common/rng.h"

namespace {
// A hash that sends every key to a handful of homes: long runs that wrap around the end,
// the case backward-shift deletion must get right.
struct FewHomes {
  size_t operator()(uint32_t key) const noexcept { return key % 3; }
};
}  // namespace

TEST_CASE("FlatMap finds what it holds, overwrites, and erases") {
  shoal::FlatMap<uint32_t, uint32_t> map;
  CHECK(map.find(1) == nullptr);
  CHECK_FALSE(map.erase(1));
  CHECK(map.try_emplace(1, 10).second);
  CHECK_FALSE(map.try_emplace(1, 11).second);  // a present key keeps its value
  CHECK(*map.find(1) == 10);
  map.insert_or_assign(1, 12);
  CHECK(*map.find(1) == 12);
  CHECK(map.size() == 1);
  CHECK(map.erase(1));
  CHECK(map.find(1) == nullptr);
  CHECK(map.empty());
}

TEST_CASE("FlatMap agrees with std::map over random inserts and erases, colliding or not") {
  shoal::Rng rng(42);
  auto run = [&rng](auto& map) {
    std::map<uint32_t, uint32_t> model;
    for (int step = 0; step < 20000; ++step) {
      const auto key = static_cast<uint32_t>(rng.below(300));  // keys come back often
      const auto value = static_cast<uint32_t>(rng.next());
      switch (rng.below(3)) {
        case 0:
          map.insert_or_assign(key, value);
          model[key] = value;
          break;
        case 1:
          CHECK(map.erase(key) == (model.erase(key) == 1));
          break;
        default: {
          const uint32_t* found = map.find(key);
          const auto it = model.find(key);
          REQUIRE((found != nullptr) == (it != model.end()));
          if (found) CHECK(*found == it->second);
        }
      }
      REQUIRE(map.size() == model.size());
    }
    for (const auto& [key, value] : model) {
      REQUIRE(map.find(key) != nullptr);
      CHECK(*map.find(key) == value);
    }
  };
  shoal::FlatMap<uint32_t, uint32_t> spread;
  run(spread);
  shoal::FlatMap<uint32_t, uint32_t, FewHomes> colliding;
  run(colliding);
}
