// LeaseCore driven by hand: the table digest that probe acks carry, and its sync pacing.
#include <doctest/doctest.h>

#include "common/rng.h"
#include "lease/lease_core.h"

using namespace shoal;
using namespace shoal::lease;
using std::chrono::milliseconds;

namespace {

const WallTime kWall{milliseconds(1767225600000)};

LeaseConfig config() {
  LeaseConfig c;
  c.network = std::get<NetworkConfig>(NetworkConfig::make(NetworkSpec{"198.18.0.0/16"}));
  return c;
}

LeaseCore core(const NodeId& id, std::vector<NodeRecord> stored) {
  return LeaseCore(config(), LocalLease{id, "n", IpAddress::v4(192, 0, 2, 1), "", {}},
                   StoredLeases{std::nullopt, std::move(stored), {}}, kTimeZero, kWall);
}

}  // namespace

TEST_CASE("equal tables have equal digests; a differing one asks for a sync, paced") {
  Rng rng(3);
  const NodeId a_id = NodeId::random(rng), b_id = NodeId::random(rng), other = NodeId::random(rng);
  NodeRecord extra;
  extra.id = other;
  extra.version = 1;
  extra.name = "other";
  extra.underlay = IpAddress::v4(192, 0, 2, 9);
  extra.renewed_at = kWall;

  LeaseCore a = core(a_id, {});
  LeaseCore same = core(b_id, {});
  LeaseCore b = core(b_id, {extra});
  REQUIRE(a.digest().size() == 8);
  CHECK(a.digest() == same.digest());
  CHECK(a.digest() != b.digest());

  const Duration pace = config().sync_interval_busy;
  CHECK_FALSE(a.wants_sync_after(kTimeZero, same.digest()));
  CHECK(a.wants_sync_after(kTimeZero, b.digest()));
  CHECK_FALSE(a.wants_sync_after(kTimeZero + pace / 2, b.digest()));  // one in flight
  CHECK(a.wants_sync_after(kTimeZero + pace, b.digest()));
  CHECK(a.digest_syncs() == 2);
  // Garbage is just "different": at worst it costs one paced sync.
  CHECK(a.wants_sync_after(kTimeZero + 2 * pace, Bytes{1, 2, 3}));
}
