#include <doctest/doctest.h>

#include "common/node_id.h"
#include "common/rng.h"

using shoal::NodeId;

TEST_CASE("NodeId round-trips through hex and bytes") {
  shoal::Rng rng(42);
  NodeId id = NodeId::random(rng);
  CHECK_FALSE(id.is_zero());
  CHECK(id.hex().size() == 32);
  CHECK(NodeId::from_hex(id.hex()) == id);
  CHECK(NodeId::from_bytes(id.view()) == id);
  CHECK(NodeId::from_hex(std::string(id.hex()).replace(0, 1, "Z")) == std::nullopt);
  CHECK(NodeId::from_hex("abcd") == std::nullopt);
  const uint8_t short_bytes[3] = {1, 2, 3};
  CHECK(NodeId::from_bytes({short_bytes, 3}) == std::nullopt);
  CHECK(NodeId().is_zero());
}
