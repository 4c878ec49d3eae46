// The agent's start against a store it cannot read: it refuses to start, says why and which
// file, and the host keeps its identity. (Before, a failed read of the node id looked like
// "no id yet", and the host came back as a stranger with a second lease.) The agent stops at
// the store, before it touches the network, so this needs no root.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/agent.h"
#include "agent/config.h"
#include "common/rng.h"
#include "store/store.h"
#include "tests/sqlite_lock.h"
#include "tests/temp_dir.h"

using namespace shoal;

TEST_CASE("agent: a locked store stops the start with a clear error; the identity stays") {
  test::TempDir dir("shoal-agent-start");
  const std::string db = dir.file("shoal.db");
  Rng rng(5);
  NodeId id;
  {
    auto store = store::Store::open(db);
    REQUIRE(store);
    id = store.value()->node_id(rng).value();
  }
  // Another process holds the database locked for as long as the agent waits (5 s).
  auto locker = std::make_unique<test::SqliteLock>(db);

  agent::AgentConfig config;
  // Strings that live through the loop (a c_str() of a temporary would not).
  const std::vector<std::pair<std::string, std::string>> flags = {
      {"network", "198.18.0.0/16"},
      {"bind", "192.0.2.1:7946"},
      {"name", "h1"},
      {"data-dir", dir.path.string()},
      {"subnet-file", dir.file("subnet.env")},
      {"control-socket", dir.file("shoal.sock")}};
  for (const auto& [flag, value] : flags) REQUIRE(agent::apply_flag(config, flag, value).ok());
  REQUIRE(agent::finish(config).ok());
  auto started = agent::Agent::create(config);
  REQUIRE_FALSE(started);
  const std::string& why = started.error().message();
  CHECK(why.find(db) != std::string::npos);
  CHECK(why.find("locked") != std::string::npos);
  MESSAGE("the agent said: " << why);

  locker.reset();
  auto store = store::Store::open(db);
  REQUIRE(store);
  CHECK(store.value()->node_id(rng).value() == id);
}
