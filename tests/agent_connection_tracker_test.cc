#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "agent/connection_tracker.h"

namespace shoal::agent {
namespace {

struct FakeConnection {
  bool closed = false;
  void close() { closed = true; }
};

TEST_CASE("connection_tracker: at the cap the oldest live connection makes room") {
  ConnectionTracker<FakeConnection> tracker(3);
  std::vector<std::shared_ptr<FakeConnection>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_shared<FakeConnection>());
    CHECK_FALSE(tracker.admit(held.back()));
  }
  CHECK(tracker.open() == 3);

  auto fourth = std::make_shared<FakeConnection>();
  CHECK(tracker.admit(fourth));  // full: the first one is closed
  CHECK(held[0]->closed);
  CHECK_FALSE(held[1]->closed);
  CHECK(tracker.open() == 3);

  // A connection that ended by itself frees its slot: nobody is closed for the next one.
  held[1].reset();
  auto fifth = std::make_shared<FakeConnection>();
  CHECK_FALSE(tracker.admit(fifth));
  CHECK_FALSE(held[2]->closed);
  CHECK(tracker.open() == 3);

  tracker.close_all();
  CHECK(held[2]->closed);
  CHECK(fourth->closed);
  CHECK(fifth->closed);
  CHECK(tracker.open() == 0);
}

TEST_CASE("connection_tracker: connections gone before they are closed are skipped") {
  ConnectionTracker<FakeConnection> tracker(1);
  {
    auto brief = std::make_shared<FakeConnection>();
    tracker.admit(brief);
  }
  auto next = std::make_shared<FakeConnection>();
  CHECK_FALSE(tracker.admit(next));  // the expired one took no slot
  CHECK(tracker.open() == 1);
}

}  // namespace
}  // namespace shoal::agent
