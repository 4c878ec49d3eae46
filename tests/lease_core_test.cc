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

namespace {

NodeRecord own_record(const NodeId& id, WallTime renewed, uint64_t version = 3) {
  NodeRecord r;
  r.id = id;
  r.version = version;
  r.name = "n";
  r.underlay = IpAddress::v4(192, 0, 2, 1);
  r.claims.push_back({*Cidr::parse("198.18.7.0/24"), HlcStamp{100, 0}});
  r.renewed_at = renewed;
  return r;
}

}  // namespace

TEST_CASE("a restart keeps an unexpired claim and never revives an expired one") {
  Rng rng(5);
  const NodeId id = NodeId::random(rng);
  const auto ttl = config().ttl;
  {  // down for less than the TTL: the subnet is still ours
    LeaseCore c(config(), LocalLease{id, "n", IpAddress::v4(192, 0, 2, 1), "", {}},
                StoredLeases{own_record(id, kWall - ttl / 2), {}, {}}, kTimeZero, kWall);
    CHECK(c.claimed_subnet() == Cidr::parse("198.18.7.0/24"));
  }
  {  // down for longer: the old claim (and its early stamp) is gone; we claim afresh
    LeaseCore c(config(), LocalLease{id, "n", IpAddress::v4(192, 0, 2, 1), "", {}},
                StoredLeases{own_record(id, kWall - ttl - milliseconds(1)), {}, {}}, kTimeZero, kWall);
    CHECK(!c.claimed_subnet());
    CHECK(c.own().version >= 3);  // the version still never goes back
  }
  {  // the same when the expired copy comes from a peer (we lost our database)
    LeaseCore c(config(), LocalLease{id, "n", IpAddress::v4(192, 0, 2, 1), "", {}},
                StoredLeases{std::nullopt, {own_record(id, kWall - ttl - milliseconds(1), 9)}, {}},
                kTimeZero, kWall);
    CHECK(!c.claimed_subnet());
    CHECK(c.own().version > 9);
  }
  {  // ... while an unexpired copy from a peer is adopted
    LeaseCore c(config(), LocalLease{id, "n", IpAddress::v4(192, 0, 2, 1), "", {}},
                StoredLeases{std::nullopt, {own_record(id, kWall - ttl / 2, 9)}, {}}, kTimeZero, kWall);
    CHECK(c.claimed_subnet() == Cidr::parse("198.18.7.0/24"));
  }
}

TEST_CASE("a restart with an unexpired claim is ready at once, without sync wait or settle") {
  Rng rng(6);
  const NodeId id = NodeId::random(rng);
  LeaseCore c(config(), LocalLease{id, "n", IpAddress::v4(192, 0, 2, 1), "", {}},
              StoredLeases{own_record(id, kWall - config().ttl / 2), {}, {}}, kTimeZero, kWall);
  while (auto r = c.poll_persist()) c.persisted(r->version);  // the renewal is durable
  const TimePoint soon = kTimeZero + std::chrono::milliseconds(200);  // well before 3 s + 2 s
  c.handle_timeout(soon, kWall + std::chrono::milliseconds(200));
  REQUIRE(c.ready_subnet());
  CHECK(*c.ready_subnet() == *Cidr::parse("198.18.7.0/24"));
  bool ready_event = false;
  while (auto e = c.poll_event()) ready_event |= e->kind == LeaseEvent::Kind::kSubnetReady;
  CHECK(ready_event);
}
