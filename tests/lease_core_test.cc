// LeaseCore driven by hand: the table digest that probe acks carry, and its sync pacing;
// then two or three cores wired to each other on virtual time (a small Bench below) for the
// header's promises: durability before announcement, renewal, expiry, self-eviction and
// re-allocation.
#include "lease/lease_core.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <deque>
#include <functional>

#include "common/rng.h"
#include "lease/allocator.h"
#include "proto/shoal.pb.h"

using namespace shoal;
using namespace shoal::lease;
using std::chrono::milliseconds;

namespace {

const WallTime kWall{milliseconds(1767225600000)};

LeaseConfig config() {
  LeaseConfig c;
  c.network = NetworkConfig::make(NetworkSpec{"198.18.0.0/16"}).value();
  return c;
}

LeaseCore core(const NodeId& id, std::vector<NodeRecord> stored) {
  return LeaseCore(config(), LocalLease{id, "n", IpAddress::v4(192, 0, 2, 1), "", {}},
                   StoredLeases{std::nullopt, std::move(stored), {}}, kTimeZero, kWall);
}

}  // namespace

TEST_CASE("lease_core: the digest of a fixed table is pinned: peers of other builds compare it") {
  // A change to what the digest hashes, or how, makes every member of a mixed-version cluster
  // see a differing table at every probe and sync it; such a change needs a wire version.
  Rng rng(5);
  NodeRecord r;
  r.id = NodeId::random(rng);
  r.version = 3;
  r.name = "h7";
  r.site = "home";
  r.underlay = IpAddress::v4(192, 0, 2, 7);
  r.backend_data = {1, 2, 3};
  r.claims = {{*Cidr::parse("198.18.7.0/24"), {1767225600123, 2}}};
  r.renewed_at = kWall;
  std::string hex;
  for (uint8_t b : core(NodeId::random(rng), {r}).digest()) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", b);
    hex += two;
  }
  CHECK(hex == "4b78d34ee1ece80e");
}

TEST_CASE("lease_core: equal tables have equal digests; a differing one asks for a sync, paced") {
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

TEST_CASE("lease_core: large tables sync bucket by bucket; older peers still get a full digest") {
  Rng rng(7);
  std::vector<NodeRecord> shared;
  for (int i = 0; i < 200; ++i) {
    NodeRecord r;
    r.id = NodeId::random(rng);
    r.version = 5;
    r.name = "n" + std::to_string(i);
    r.underlay = IpAddress::v4(192, 0, 2, 9);
    r.renewed_at = kWall;
    shared.push_back(r);
  }
  std::vector<NodeRecord> a_records = shared, b_records = shared;
  a_records[10].version = 6;   // renewed on a's side
  b_records[150].version = 7;  // and another on b's
  LeaseCore a = core(NodeId::random(rng), a_records);
  LeaseCore b = core(NodeId::random(rng), b_records);
  REQUIRE(a.table().hash() != b.table().hash());
  CHECK(a.digest() == b.digest());  // renewals only: nothing for a probe ack to hurry

  // a opens; b answers; and so on, as gossip's push-pull carries it.
  std::vector<proto::LeaseSync> sent;
  Bytes message = a.sync_open();
  LeaseCore* side[2] = {&b, &a};
  for (uint32_t round = 0; round < 8; ++round) {
    proto::LeaseSync m;
    REQUIRE(m.ParseFromArray(message.data(), static_cast<int>(message.size())));
    sent.push_back(m);
    auto answer = side[round % 2]->sync_step(kTimeZero, kWall, message, round);
    if (!answer) break;
    message = std::move(*answer);
  }
  CHECK(a.table().hash() == b.table().hash());
  REQUIRE(sent.size() == 5);  // hash; bucket hashes; digest and ask; records and digest; records
  CHECK(sent[0].reads_buckets());
  CHECK(sent[1].bucket_hashes_size() == int(Table::kBuckets));
  CHECK(sent[1].digest_size() == 0);
  CHECK(sent[2].want_digest());
  CHECK(sent[2].digest_size() < 30);  // two buckets' worth, not 200 entries
  CHECK(sent[3].records_size() == 1);
  CHECK(sent[4].records_size() == 1);

  // An opener that does not read buckets (an older agent) gets the full digest.
  LeaseCore c = core(NodeId::random(rng), shared);
  proto::LeaseSync old_opening;
  old_opening.set_has_hash(true);
  old_opening.set_table_hash(b.table().hash());
  const std::string bytes = old_opening.SerializeAsString();
  auto answer = c.sync_step(kTimeZero, kWall, as_bytes(bytes), 0);
  REQUIRE(answer);
  proto::LeaseSync full;
  REQUIRE(full.ParseFromArray(answer->data(), static_cast<int>(answer->size())));
  CHECK(full.bucket_hashes_size() == 0);
  CHECK(full.digest_size() == int(c.table().records().size()));

  // Bucket hashes of the wrong count are refused, not read past.
  proto::LeaseSync short_buckets;
  short_buckets.add_bucket_hashes(1);
  const std::string bad = short_buckets.SerializeAsString();
  const uint64_t rejected = c.rejected_updates();
  CHECK_FALSE(c.sync_step(kTimeZero, kWall, as_bytes(bad), 1));
  CHECK(c.rejected_updates() == rejected + 1);
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

TEST_CASE("lease_core: a restart keeps an unexpired claim and never revives an expired one") {
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
                StoredLeases{own_record(id, kWall - ttl - milliseconds(1)), {}, {}}, kTimeZero,
                kWall);
    CHECK(!c.claimed_subnet());
    // The record changed, so it has a new version: never two contents under one version.
    CHECK(c.own().version > 3);
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
                StoredLeases{std::nullopt, {own_record(id, kWall - ttl / 2, 9)}, {}}, kTimeZero,
                kWall);
    CHECK(c.claimed_subnet() == Cidr::parse("198.18.7.0/24"));
  }
}

TEST_CASE(
    "lease_core: a restart with an unexpired claim is ready at once, without sync wait or settle") {
  Rng rng(6);
  const NodeId id = NodeId::random(rng);
  LeaseCore c(config(), LocalLease{id, "n", IpAddress::v4(192, 0, 2, 1), "", {}},
              StoredLeases{own_record(id, kWall - config().ttl / 2), {}, {}}, kTimeZero, kWall);
  while (auto r = c.poll_persist()) c.persisted(r->version);          // the renewal is durable
  const TimePoint soon = kTimeZero + std::chrono::milliseconds(200);  // well before 3 s + 2 s
  c.handle_timeout(soon, kWall + std::chrono::milliseconds(200));
  REQUIRE(c.ready_subnet());
  CHECK(*c.ready_subnet() == *Cidr::parse("198.18.7.0/24"));
  bool ready_event = false;
  while (auto e = c.poll_event()) ready_event |= e->kind == LeaseEvent::Kind::kSubnetReady;
  CHECK(ready_event);
}

// --- several cores wired by hand ---------------------------------------------------------

namespace {

constexpr Duration kStep = 100ms;

// A short TTL so that expiry and renewal happen within a test; housekeeping every second.
LeaseConfig short_config(const char* subnet_min = nullptr, const char* subnet_max = nullptr) {
  NetworkSpec spec{"198.18.0.0/16"};
  if (subnet_min) spec.subnet_min = subnet_min;
  if (subnet_max) spec.subnet_max = subnet_max;
  LeaseConfig c;
  c.network = NetworkConfig::make(spec).value();
  c.ttl = 60s;
  c.renew_after = 20s;
  c.housekeeping = 1s;
  c.gc_grace = 1h;  // expired records stay in the table for the whole test
  return c;
}

// One host: its core, its store and what it said.
struct Host {
  LocalLease self;
  std::optional<LeaseCore> core;
  bool durable = true;                   // the store makes every record durable at once
  bool linked = true;                    // the others hear it and it hears them
  std::deque<NodeRecord> pending;        // handed to the store, not durable yet
  std::optional<NodeRecord> stored_own;  // the store: our last durable record, and
  std::vector<NodeRecord> stored_table;  // the rest of the table as of the crash
  std::vector<LeaseCore::Broadcast> sent;
  std::vector<LeaseEvent> events;

  LeaseCore& c() { return *core; }
  const NodeId& id() const { return self.id; }
};

// Drives hosts on virtual time as the node layer would: timeouts every step, every
// broadcast handed to every linked host, syncs when a core asks, the store answering.
class Bench {
 public:
  explicit Bench(LeaseConfig config) : config_(std::move(config)) {}

  TimePoint now = kTimeZero;
  WallTime wall = kWall;

  Host& add(const NodeId& id, uint8_t host) {
    hosts_.emplace_back();
    hosts_.back().self =
        LocalLease{id, "n" + std::to_string(host), IpAddress::v4(192, 0, 2, host), "", {}};
    return hosts_.back();
  }

  void start(Host& h) {
    h.core.emplace(config_, h.self, StoredLeases{h.stored_own, h.stored_table, {}}, now, wall);
    h.sent.clear();
    h.events.clear();
    pump();
  }

  // kill -9: what is not durable is gone; the store keeps the rest.
  void crash(Host& h) {
    h.stored_table.clear();
    for (const auto& [id, r] : h.c().table().records())
      if (id != h.id()) h.stored_table.push_back(r);
    h.core.reset();
    h.pending.clear();
  }

  // The store reports records up to `version` durable.
  void make_durable(Host& h, uint64_t version = UINT64_MAX) {
    uint64_t done = 0;
    while (!h.pending.empty() && h.pending.front().version <= version) {
      h.stored_own = h.pending.front();
      done = h.pending.front().version;
      h.pending.pop_front();
    }
    if (done) h.c().persisted(done);
    pump();
  }

  // A whole push-pull exchange, as gossip carries it.
  void sync(Host& a, Host& b) {
    exchange(a, b);
    pump();
  }

  void link(Host& h) {
    h.linked = true;
    for (Host& other : hosts_)
      if (&other != &h && other.core && other.linked) sync(h, other);
  }

  void run_for(Duration d, const std::function<void()>& each_step = {}) {
    const TimePoint end = now + d;
    while (now < end) {
      now += kStep;
      wall += std::chrono::duration_cast<milliseconds>(kStep);
      for (Host& h : hosts_)
        if (h.core) h.c().handle_timeout(now, wall);
      pump();
      if (each_step) each_step();
    }
  }
  void run_until(WallTime until, const std::function<void()>& each_step = {}) {
    if (until > wall) run_for(until - wall, each_step);
  }

  void pump() {
    for (bool progress = true; progress;) {
      progress = false;
      for (Host& h : hosts_) {
        if (!h.core) continue;
        while (auto r = h.c().poll_persist()) {
          h.pending.push_back(*r);
          progress = true;
        }
        if (h.durable && !h.pending.empty()) {
          while (!h.pending.empty()) {
            h.stored_own = h.pending.front();
            h.pending.pop_front();
          }
          h.c().persisted(h.stored_own->version);
        }
        while (auto b = h.c().poll_broadcast()) {
          progress = true;
          h.sent.push_back(*b);
          if (!h.linked) continue;  // lost
          for (Host& to : hosts_)
            if (&to != &h && to.core && to.linked) to.c().handle_update(now, wall, b->update);
        }
        while (auto e = h.c().poll_event()) h.events.push_back(*e);
        if (h.c().take_sync_request() && h.linked) {
          for (Host& to : hosts_) {
            if (&to == &h || !to.core || !to.linked) continue;
            exchange(h, to);
            progress = true;
          }
        }
      }
    }
  }

 private:
  void exchange(Host& opener, Host& peer) {
    Bytes message = opener.c().sync_open();
    Host* side[2] = {&peer, &opener};
    for (uint32_t round = 0; round < 8; ++round) {
      auto answer = side[round % 2]->c().sync_step(now, wall, message, round);
      if (!answer) break;
      message = std::move(*answer);
    }
  }

  LeaseConfig config_;
  std::deque<Host> hosts_;  // stable references
};

size_t sent_about(const Host& h, const NodeId& id) {
  size_t n = 0;
  for (const auto& b : h.sent) n += b.about == id;
  return n;
}

std::optional<Bytes> last_sent_about(const Host& h, const NodeId& id) {
  std::optional<Bytes> out;
  for (const auto& b : h.sent)
    if (b.about == id) out = b.update;
  return out;
}

bool has_event(const Host& h, LeaseEvent::Kind kind, const NodeId& node,
               std::optional<Cidr> subnet = std::nullopt) {
  for (const auto& e : h.events)
    if (e.kind == kind && e.node == node && (!subnet || e.subnet == *subnet)) return true;
  return false;
}

std::optional<NodeId> owner(Host& h, const Cidr& subnet) {
  auto it = h.c().owners().find(subnet);
  if (it == h.c().owners().end()) return std::nullopt;
  return it->second;
}

// `h`'s copy of `node`'s record counts for ownership now.
bool valid_at(Host& h, const NodeId& node, WallTime wall) {
  const NodeRecord* r = h.c().table().find(node);
  return r && h.c().table().valid(*r, wall);
}

Bytes update_of(const NodeRecord& record) {
  proto::LeaseUpdate u;
  lease::to_proto(record, *u.mutable_record());
  const std::string s = u.SerializeAsString();
  return Bytes(s.begin(), s.end());
}

const Cidr kFirst = *Cidr::parse("198.18.1.0/24");
const Cidr kSecond = *Cidr::parse("198.18.2.0/24");

}  // namespace

TEST_CASE("lease_core: a claim is announced only once the store says it is durable") {
  Rng rng(11);
  Bench bench(short_config());
  Host& a = bench.add(NodeId::random(rng), 1);
  Host& b = bench.add(NodeId::random(rng), 2);
  a.durable = false;
  bench.start(a);
  bench.start(b);
  bench.run_for(6s);  // well past the sync wait and the allocation spread

  REQUIRE(!a.pending.empty());
  const NodeRecord claim = a.pending.back();
  REQUIRE(claim.claims.size() == 1);
  CHECK(a.c().claimed_subnet() == claim.claims.front().subnet);
  // Neither gossip nor a sync tells anyone, and nothing is ready.
  bench.sync(a, b);
  bench.sync(b, a);
  CHECK(sent_about(a, a.id()) == 0);
  CHECK(b.c().table().find(a.id()) == nullptr);
  CHECK(!a.c().ready_subnet());
  CHECK(!owner(b, claim.claims.front().subnet));

  bench.make_durable(a);
  CHECK(sent_about(a, a.id()) >= 1);
  REQUIRE(b.c().table().find(a.id()) != nullptr);
  CHECK(b.c().table().find(a.id())->version == claim.version);
  CHECK(b.c().table().find(a.id())->claims == claim.claims);
  bench.run_for(3s);
  CHECK(a.c().ready_subnet() == claim.claims.front().subnet);
  CHECK(owner(b, claim.claims.front().subnet) == a.id());

  SUBCASE("renewals: durable up to a version announces exactly that far") {
    const uint64_t known = b.c().table().find(a.id())->version;
    bench.run_for(42s);  // two renewals (every 20 s), neither durable; the TTL is 60 s
    REQUIRE(a.pending.size() >= 2);
    CHECK(b.c().table().find(a.id())->version == known);
    const uint64_t first = a.pending.front().version;
    bench.make_durable(a, first);
    CHECK(b.c().table().find(a.id())->version == first);
    CHECK(b.c().table().find(a.id())->renewed_at > claim.renewed_at);
    bench.make_durable(a);
    CHECK(b.c().table().find(a.id())->version == a.c().own().version);
  }
  SUBCASE("a restart's renewal waits for the store too") {
    a.durable = true;
    bench.make_durable(a);
    const uint64_t known = b.c().table().find(a.id())->version;
    bench.crash(a);
    a.durable = false;
    bench.start(a);
    bench.run_for(2s);
    CHECK(sent_about(a, a.id()) == 0);
    CHECK(b.c().table().find(a.id())->version == known);
    CHECK(!a.c().ready_subnet());
    bench.make_durable(a);
    CHECK(sent_about(a, a.id()) >= 1);
    CHECK(b.c().table().find(a.id())->version == a.c().own().version);
    CHECK(a.c().own().version > known);
    bench.run_for(1s);
    CHECK(a.c().ready_subnet() == claim.claims.front().subnet);
  }
}

TEST_CASE("lease_core: renewal keeps a lease valid for peers across many TTLs") {
  Rng rng(12);
  const LeaseConfig cfg = short_config();
  Bench bench(cfg);
  Host& a = bench.add(NodeId::random(rng), 1);
  Host& b = bench.add(NodeId::random(rng), 2);
  bench.start(a);
  bench.start(b);
  bench.run_for(8s);
  REQUIRE(a.c().ready_subnet());
  const Cidr subnet = *a.c().ready_subnet();
  const NodeRecord before = a.c().own();
  REQUIRE(before.claims.size() == 1);
  a.events.clear();
  b.events.clear();

  bool always_valid = true, always_owner = true;
  bench.run_for(5 * cfg.ttl, [&] {
    always_valid &= valid_at(b, a.id(), bench.wall);
    always_owner &= owner(b, subnet) == a.id();
  });
  CHECK(always_valid);
  CHECK(always_owner);
  const NodeRecord& after = a.c().own();
  CHECK(after.version >= before.version + 10);  // about every renew_after
  CHECK(after.renewed_at > before.renewed_at + 4 * cfg.ttl);
  CHECK(after.renewed_at >= bench.wall - cfg.renew_after - cfg.housekeeping);
  CHECK(after.claims == before.claims);  // same subnet, same claim stamp
  CHECK(b.c().table().find(a.id())->version == after.version);
  CHECK(a.c().ready_subnet() == subnet);
  CHECK(a.c().reallocations() == 0);
  CHECK(!has_event(a, LeaseEvent::Kind::kSubnetLost, a.id()));
  CHECK(!has_event(b, LeaseEvent::Kind::kPeerRemoved, a.id()));
}

TEST_CASE(
    "lease_core: a peer's lease that is not renewed expires at the TTL and frees its subnet") {
  Rng rng(13);
  const LeaseConfig cfg = short_config("198.18.1.0", "198.18.2.0");  // two subnets
  Bench bench(cfg);
  Host& a = bench.add(NodeId::random(rng), 1);
  Host& b = bench.add(NodeId::random(rng), 2);
  Host& c = bench.add(NodeId::random(rng), 3);
  bench.start(a);
  bench.start(b);
  bench.run_for(10s);
  REQUIRE(a.c().ready_subnet());
  REQUIRE(b.c().ready_subnet());
  REQUIRE(*a.c().ready_subnet() != *b.c().ready_subnet());
  const Cidr subnet = *a.c().ready_subnet();

  bench.start(c);  // a newcomer finds the pool full
  bench.run_for(5s);
  CHECK(c.c().pool_exhausted());
  CHECK(!c.c().claimed_subnet());

  bench.crash(a);
  const WallTime expires = b.c().table().find(a.id())->renewed_at + cfg.ttl;
  // Leases, not liveness: until the TTL the dead host keeps its subnet.
  bool kept = true;
  bench.run_until(expires - 1s,
                  [&] { kept &= owner(b, subnet) == a.id() && owner(c, subnet) == a.id(); });
  CHECK(kept);
  CHECK(c.c().pool_exhausted());
  CHECK(!has_event(b, LeaseEvent::Kind::kPeerRemoved, a.id()));

  bench.run_until(expires + 1500ms);  // housekeeping notices within a second
  CHECK(!valid_at(b, a.id(), bench.wall));
  CHECK(owner(b, subnet) != a.id());
  CHECK(has_event(b, LeaseEvent::Kind::kPeerRemoved, a.id(), subnet));
  // ... and the newcomer takes it.
  bench.run_for(4s);
  CHECK(!c.c().pool_exhausted());
  CHECK(c.c().ready_subnet() == subnet);
  CHECK(owner(b, subnet) == c.id());
  CHECK(owner(c, subnet) == c.id());
}

TEST_CASE("lease_core: an expired claim of ours is not revived over a live newcomer") {
  // The scenario of issue 12: A holds the only subnet and dies; its lease expires; B takes
  // the subnet; then A comes back. A's old claim stamp is earlier than B's, so reviving it
  // would take the subnet from B.
  Rng rng(14);
  const LeaseConfig cfg = short_config("198.18.1.0", "198.18.1.0");  // one subnet
  Bench bench(cfg);
  Host& a = bench.add(NodeId::random(rng), 1);
  Host& b = bench.add(NodeId::random(rng), 2);
  bench.start(a);
  bench.run_for(8s);
  REQUIRE(a.c().ready_subnet() == kFirst);
  bench.start(b);
  bench.run_for(5s);
  REQUIRE(b.c().pool_exhausted());
  const NodeRecord old = a.c().own();
  const std::optional<Bytes> old_update = last_sent_about(a, a.id());
  REQUIRE(old_update);
  bench.crash(a);
  bench.run_for(cfg.ttl + 5s);
  REQUIRE(b.c().ready_subnet() == kFirst);
  REQUIRE(b.c().own().claims.front().claimed_at > old.claims.front().claimed_at);
  b.events.clear();

  SUBCASE("restarted from its store") {
    REQUIRE(a.stored_own);
    REQUIRE(a.stored_own->claims == old.claims);
    bench.start(a);
    CHECK(!a.c().claimed_subnet());
  }
  SUBCASE("restarted without a store: it adopts its record from a peer's sync") {
    a.stored_own.reset();
    a.stored_table.clear();
    bench.start(a);
  }
  SUBCASE("restarted without a store: gossip replays its old update") {
    a.stored_own.reset();
    a.stored_table.clear();
    a.linked = false;
    bench.start(a);
    a.c().handle_update(bench.now, bench.wall, *old_update);
    bench.pump();
    CHECK(!a.c().claimed_subnet());
    CHECK(a.c().own().version > old.version);
    bench.link(a);
  }
  bench.run_for(10s);
  CHECK(!a.c().claimed_subnet());
  CHECK(!a.c().ready_subnet());
  CHECK(a.c().pool_exhausted());
  // Whether from its store or a peer, the record without the claim has a new version.
  CHECK(a.c().own().version > old.version);
  CHECK(b.c().ready_subnet() == kFirst);
  CHECK(owner(a, kFirst) == b.id());
  CHECK(owner(b, kFirst) == b.id());
  CHECK(b.c().reallocations() == 0);
  CHECK(!has_event(b, LeaseEvent::Kind::kSubnetLost, b.id()));
  CHECK(b.c().table().find(a.id())->version == a.c().own().version);
}

TEST_CASE("lease_core: evicted or released behind our back, we get a valid lease again") {
  Rng rng(15);
  Bench bench(short_config());
  Host& a = bench.add(NodeId::random(rng), 1);
  Host& b = bench.add(NodeId::random(rng), 2);
  bench.start(a);
  bench.start(b);
  bench.run_for(8s);
  REQUIRE(a.c().ready_subnet());
  const Cidr subnet = *a.c().ready_subnet();
  const NodeRecord before = a.c().own();
  a.events.clear();
  b.events.clear();

  SUBCASE("a peer evicts us while we live: we step above the eviction") {
    a.linked = false;  // A is out of reach when B forgets it
    const uint64_t voided = b.c().table().find(a.id())->version;
    CHECK(b.c().evict(a.id(), bench.wall));
    bench.run_for(1s);
    CHECK(!valid_at(b, a.id(), bench.wall));
    CHECK(!owner(b, subnet));
    CHECK(has_event(b, LeaseEvent::Kind::kPeerRemoved, a.id(), subnet));

    bench.link(a);  // the eviction reaches A by sync
    bench.run_for(1s);
    CHECK(a.c().own().version > voided);
    CHECK(valid_at(b, a.id(), bench.wall));
    CHECK(owner(b, subnet) == a.id());
    CHECK(owner(a, subnet) == a.id());
    CHECK(a.c().ready_subnet() == subnet);
    CHECK(a.c().reallocations() == 0);
    CHECK(!has_event(a, LeaseEvent::Kind::kSubnetLost, a.id()));
  }
  SUBCASE("a newer copy of our record says released: we claim afresh") {
    NodeRecord forged = before;
    forged.version += 5;
    forged.released = true;
    a.c().handle_update(bench.now, bench.wall, update_of(forged));
    bench.pump();
    CHECK(a.c().own().version > forged.version);
    CHECK(!a.c().own().released);
    bench.run_for(4s);
    REQUIRE(a.c().claimed_subnet());
    CHECK(a.c().own().claims.front().claimed_at > before.claims.front().claimed_at);
    CHECK(!a.c().own().released);
    CHECK(a.c().ready_subnet() == a.c().claimed_subnet());
    CHECK(valid_at(b, a.id(), bench.wall));
    CHECK(owner(b, *a.c().claimed_subnet()) == a.id());
    CHECK(b.c().table().find(a.id())->version == a.c().own().version);
  }
  SUBCASE("after a leave, a restart claims afresh") {
    a.c().release(bench.now, bench.wall);
    bench.pump();
    CHECK(has_event(a, LeaseEvent::Kind::kSubnetLost, a.id(), subnet));
    CHECK(!a.c().ready_subnet());
    bench.run_for(1s);
    CHECK(!owner(b, subnet));
    CHECK(has_event(b, LeaseEvent::Kind::kPeerRemoved, a.id(), subnet));
    bench.crash(a);
    REQUIRE(a.stored_own);
    CHECK(a.stored_own->released);
    bench.start(a);
    CHECK(!a.c().claimed_subnet());  // nothing kept from the earlier life
    bench.run_for(8s);
    REQUIRE(a.c().claimed_subnet());
    CHECK(!a.c().own().released);
    CHECK(a.c().own().claims.front().claimed_at > before.claims.front().claimed_at);
    CHECK(a.c().ready_subnet() == a.c().claimed_subnet());
    CHECK(owner(b, *a.c().claimed_subnet()) == a.id());
  }
}

TEST_CASE("lease_core: two claims on one subnet: the earliest (claimed_at, node id) keeps it") {
  // Two hosts that cannot hear each other pick the same subnet (ids chosen so that their
  // first tries match), both settle, then meet: the later claim moves.
  Rng rng(16);
  Bench bench(short_config("198.18.1.0", "198.18.2.0"));  // two subnets
  const NodeId a_id = NodeId::random(rng);
  NodeId b_id = NodeId::random(rng);
  while (probe_index(b_id, 0, 2) != probe_index(a_id, 0, 2)) b_id = NodeId::random(rng);
  Host& a = bench.add(a_id, 1);
  Host& b = bench.add(b_id, 2);
  a.linked = b.linked = false;
  bench.start(a);
  bench.start(b);
  bench.run_for(8s);
  REQUIRE(a.c().ready_subnet());
  REQUIRE(a.c().ready_subnet() == b.c().ready_subnet());
  const Cidr subnet = *a.c().ready_subnet();
  const Cidr other = subnet == kFirst ? kSecond : kFirst;
  const bool a_wins = std::tie(a.c().own().claims.front().claimed_at, a_id) <
                      std::tie(b.c().own().claims.front().claimed_at, b_id);
  Host& winner = a_wins ? a : b;
  Host& loser = a_wins ? b : a;
  a.events.clear();
  b.events.clear();

  bench.link(a);
  bench.link(b);
  bench.run_for(3s);
  CHECK(winner.c().ready_subnet() == subnet);
  CHECK(winner.c().reallocations() == 0);
  CHECK(!has_event(winner, LeaseEvent::Kind::kSubnetLost, winner.id()));
  CHECK(loser.c().reallocations() == 1);
  CHECK(has_event(loser, LeaseEvent::Kind::kSubnetLost, loser.id(), subnet));
  CHECK(has_event(loser, LeaseEvent::Kind::kSubnetReady, loser.id(), other));
  CHECK(loser.c().ready_subnet() == other);
  CHECK(loser.c().own().claims.size() == 1);
  const Owners expected{{subnet, winner.id()}, {other, loser.id()}};
  CHECK(a.c().owners() == expected);
  CHECK(b.c().owners() == expected);
}

TEST_CASE("lease_core: the ownership rule orders by claim stamp, then by node id") {
  // A settled claim against a peer's record claiming the same subnet, fed in by hand.
  Rng rng(17);
  Bench bench(short_config());
  Host& a = bench.add(NodeId::random(rng), 1);
  bench.start(a);
  bench.run_for(8s);
  REQUIRE(a.c().ready_subnet());
  const Cidr subnet = *a.c().ready_subnet();
  const HlcStamp stamp = a.c().own().claims.front().claimed_at;
  a.events.clear();

  auto peer = [&](bool below_a, HlcStamp claimed_at) {
    NodeId id = NodeId::random(rng);
    while ((id < a.id()) != below_a) id = NodeId::random(rng);
    NodeRecord r;
    r.id = id;
    r.version = 1;
    r.name = "x";
    r.underlay = IpAddress::v4(192, 0, 2, 9);
    r.claims.push_back({subnet, claimed_at});
    r.renewed_at = bench.wall;
    return r;
  };
  auto expect_loss = [&](const NodeRecord& x) {
    a.c().handle_update(bench.now, bench.wall, update_of(x));
    bench.run_for(3s);
    CHECK(owner(a, subnet) == x.id);
    CHECK(a.c().reallocations() == 1);
    CHECK(has_event(a, LeaseEvent::Kind::kSubnetLost, a.id(), subnet));
    REQUIRE(a.c().ready_subnet());
    CHECK(*a.c().ready_subnet() != subnet);
    CHECK(owner(a, *a.c().ready_subnet()) == a.id());
  };
  SUBCASE("same stamp, higher node id: we keep it") {
    const NodeRecord x = peer(false, stamp);
    a.c().handle_update(bench.now, bench.wall, update_of(x));
    bench.run_for(3s);
    CHECK(owner(a, subnet) == a.id());
    CHECK(a.c().ready_subnet() == subnet);
    CHECK(a.c().reallocations() == 0);
    CHECK(!has_event(a, LeaseEvent::Kind::kSubnetLost, a.id()));
  }
  SUBCASE("same stamp, lower node id: we move") { expect_loss(peer(true, stamp)); }
  SUBCASE("earlier stamp, higher node id: we move") {
    expect_loss(peer(false, HlcStamp{stamp.wall_ms - 1000, 0}));
  }
}

TEST_CASE("lease_core: pool exhausted while every subnet is held; cleared once one frees up") {
  Rng rng(18);
  Bench bench(short_config("198.18.1.0", "198.18.1.0"));  // one subnet
  Host& a = bench.add(NodeId::random(rng), 1);
  Host& b = bench.add(NodeId::random(rng), 2);

  SUBCASE("a newcomer waits for a release") {
    bench.start(a);
    bench.run_for(8s);
    REQUIRE(a.c().ready_subnet() == kFirst);
    CHECK(!a.c().pool_exhausted());
    bench.start(b);
    bench.run_for(5s);
    CHECK(b.c().pool_exhausted());
    CHECK(!b.c().claimed_subnet());
    CHECK(!b.c().ready_subnet());
    bench.run_for(20s);  // and keeps waiting: a full pool is not a reason to take a subnet
    CHECK(b.c().pool_exhausted());
    CHECK(owner(b, kFirst) == a.id());

    a.c().release(bench.now, bench.wall);
    bench.pump();
    bench.run_for(4s);
    CHECK(!b.c().pool_exhausted());
    CHECK(b.c().claimed_subnet() == kFirst);
    CHECK(b.c().ready_subnet() == kFirst);
    CHECK(has_event(b, LeaseEvent::Kind::kSubnetReady, b.id(), kFirst));
    CHECK(owner(a, kFirst) == b.id());
    CHECK(!a.c().claimed_subnet());  // a released host does not claim again
  }
  SUBCASE("the loser of a clash has nowhere to go") {
    a.linked = b.linked = false;
    bench.start(a);
    bench.start(b);
    bench.run_for(8s);
    REQUIRE(a.c().ready_subnet() == kFirst);
    REQUIRE(b.c().ready_subnet() == kFirst);
    const bool a_wins = std::tie(a.c().own().claims.front().claimed_at, a.self.id) <
                        std::tie(b.c().own().claims.front().claimed_at, b.self.id);
    Host& winner = a_wins ? a : b;
    Host& loser = a_wins ? b : a;
    bench.link(a);
    bench.link(b);
    bench.run_for(3s);
    CHECK(winner.c().ready_subnet() == kFirst);
    CHECK(loser.c().reallocations() == 1);
    CHECK(has_event(loser, LeaseEvent::Kind::kSubnetLost, loser.id(), kFirst));
    CHECK(!loser.c().ready_subnet());
    CHECK(!loser.c().claimed_subnet());
    CHECK(loser.c().pool_exhausted());

    winner.c().release(bench.now, bench.wall);
    bench.pump();
    bench.run_for(4s);
    CHECK(!loser.c().pool_exhausted());
    CHECK(loser.c().ready_subnet() == kFirst);
    CHECK(owner(loser, kFirst) == loser.id());
  }
}

// adopt_own_from_peer() clears our claims when a newer copy of our record is released (or
// expired); what we report ready must follow: kSubnetLost for the dropped subnet (so
// subnet.env goes) and kSubnetReady once the fresh claim settles (issue 12: never left naming
// a subnet we do not own). This failed before the fix in adopt_own_from_peer().
TEST_CASE(
    "lease_core: a released copy of our record never leaves us ready on a subnet we dropped") {
  // A holds the second subnet of its probe order (B had its first); B leaves; then a newer
  // copy of A's record marked released arrives (from an earlier life). A drops its claim and
  // claims afresh, now getting its first choice: what it reports ready must follow.
  Rng rng(19);
  Bench bench(short_config("198.18.1.0", "198.18.2.0"));  // two subnets
  const NodeId b_id = NodeId::random(rng);
  NodeId a_id = NodeId::random(rng);
  while (probe_index(a_id, 0, 2) != probe_index(b_id, 0, 2)) a_id = NodeId::random(rng);
  Host& a = bench.add(a_id, 1);
  Host& b = bench.add(b_id, 2);
  bench.start(b);
  bench.run_for(8s);
  REQUIRE(b.c().ready_subnet());
  const Cidr first = *b.c().ready_subnet();
  bench.start(a);
  bench.run_for(8s);
  REQUIRE(a.c().ready_subnet());
  const Cidr second = *a.c().ready_subnet();
  REQUIRE(second != first);
  b.c().release(bench.now, bench.wall);
  bench.pump();
  bench.run_for(2s);

  NodeRecord forged = a.c().own();
  forged.version += 5;
  forged.released = true;
  a.c().handle_update(bench.now, bench.wall, update_of(forged));
  bench.pump();
  bench.run_for(4s);
  REQUIRE(a.c().claimed_subnet());
  INFO("claimed " << a.c().claimed_subnet()->to_string() << ", ready "
                  << (a.c().ready_subnet() ? a.c().ready_subnet()->to_string() : "none"));
  CHECK(a.c().ready_subnet() == a.c().claimed_subnet());
  CHECK(owner(a, *a.c().claimed_subnet()) == a.id());
  if (a.c().claimed_subnet() != second) {
    CHECK(has_event(a, LeaseEvent::Kind::kSubnetLost, a.id(), second));
    CHECK(has_event(a, LeaseEvent::Kind::kSubnetReady, a.id(), *a.c().claimed_subnet()));
  }
}

TEST_CASE("lease_core: a peer's renewal leaves the owners as they were; a late one restores them") {
  Rng rng(31);
  const NodeId self = NodeId::random(rng), peer = NodeId::random(rng);
  const Cidr subnet = *Cidr::parse("198.18.7.0/24");
  const auto ttl = config().ttl;
  LeaseCore c = core(self, {});
  TimePoint now = kTimeZero;
  WallTime wall = kWall;
  auto receive = [&](const NodeRecord& record) {
    proto::LeaseUpdate update;
    to_proto(record, *update.mutable_record());
    const std::string bytes = update.SerializeAsString();
    c.handle_update(now, wall,
                    ByteView(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  };
  auto pass = [&](Duration d) {  // time goes by, as the driver would make it
    for (const TimePoint end = now + d; now < end;) {
      now += 100ms, wall += 100ms;
      c.handle_timeout(now, wall);
    }
  };
  auto owner_of = [&]() -> std::optional<NodeId> {
    auto it = c.owners().find(subnet);
    if (it == c.owners().end()) return std::nullopt;
    return it->second;
  };

  receive(own_record(peer, wall, 3));
  pass(1s);
  REQUIRE(owner_of() == peer);
  const uint64_t hash = c.owners_hash();
  receive(own_record(peer, wall, 4));  // renewed: same claim, newer stamp
  pass(1s);
  CHECK(owner_of() == peer);
  CHECK(c.owners_hash() == hash);
  CHECK(c.table().find(peer)->version == 4);

  pass(ttl + config().housekeeping);  // not renewed: it expires, and housekeeping sees it
  CHECK(!owner_of());
  CHECK(c.owners_hash() != hash);
  receive(own_record(peer, wall, 5));  // back, renewed after its expiry
  pass(1s);
  CHECK(owner_of() == peer);
  CHECK(c.owners_hash() == hash);
}

TEST_CASE("lease_core: peer events: added once, changed on new backend data, removed first") {
  // recompute() updates its peers in place; this pins what it reports: nothing for a
  // recompute that changes no peer, and for a subnet that moves, the old owner's removal
  // before the new owner's addition (the datapath withdraws a route before it adds one).
  Rng rng(37);
  const NodeId self = NodeId::random(rng), a = NodeId::random(rng), b = NodeId::random(rng);
  const Cidr subnet = *Cidr::parse("198.18.7.0/24");
  LeaseCore c = core(self, {});
  TimePoint now = kTimeZero;
  WallTime wall = kWall;
  auto receive = [&](const NodeRecord& record) {
    const Bytes bytes = update_of(record);
    c.handle_update(now, wall, bytes);
  };
  auto pass = [&](Duration d) {
    for (const TimePoint end = now + d; now < end;) {
      now += 100ms, wall += 100ms;
      c.handle_timeout(now, wall);
    }
  };
  auto peer_events = [&] {
    std::vector<LeaseEvent> out;
    while (auto e = c.poll_event())
      if (e->kind == LeaseEvent::Kind::kPeerAdded || e->kind == LeaseEvent::Kind::kPeerChanged ||
          e->kind == LeaseEvent::Kind::kPeerRemoved)
        out.push_back(*e);
    return out;
  };

  NodeRecord first = own_record(a, wall, 3);
  first.backend_data = {1};
  receive(first);
  pass(1s);
  auto events = peer_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == LeaseEvent::Kind::kPeerAdded);
  CHECK(events[0].node == a);
  CHECK(events[0].subnet == subnet);
  CHECK(events[0].backend_data == Bytes{1});

  NodeRecord other = own_record(b, wall, 3);  // a later claim on the same subnet: it loses
  other.claims[0].claimed_at = HlcStamp{200, 0};
  receive(other);
  pass(1s);
  CHECK(peer_events().empty());

  NodeRecord moved = first;  // a's new backend data
  moved.version = 4;
  moved.backend_data = {2};
  receive(moved);
  pass(1s);
  events = peer_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == LeaseEvent::Kind::kPeerChanged);
  CHECK(events[0].backend_data == Bytes{2});

  NodeRecord released = moved;  // a gives the subnet up: b's claim wins it
  released.version = 5;
  released.claims.clear();
  receive(released);
  pass(1s);
  events = peer_events();
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == LeaseEvent::Kind::kPeerRemoved);
  CHECK(events[0].node == a);
  CHECK(events[1].kind == LeaseEvent::Kind::kPeerAdded);
  CHECK(events[1].node == b);
  CHECK(events[1].subnet == subnet);
}
