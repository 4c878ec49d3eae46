// The datapath plan and its diff: per-mode paths, skipped peers and why, MTU, and the
// changes that turn what is installed into what is desired.
#include <doctest/doctest.h>

#include "common/rng.h"
#include "node/datapath_plan.h"

using namespace shoal;
using namespace shoal::node;
using std::chrono::hours;
using std::chrono::milliseconds;

namespace {

const WallTime kNow{milliseconds(1767225600000)};

Cidr subnet(int third) { return *Cidr::make(IpAddress::v4(198, 18, uint8_t(third), 0), 24); }

struct Cluster {
  lease::Table table{hours(1)};
  Rng rng{7};
  NodeId self = add("self", IpAddress::v4(192, 0, 2, 1), 1, Mac{2, 0, 0, 0, 0, 1});

  NodeId add(const std::string& name, IpAddress underlay, int third, std::optional<Mac> mac,
             Bytes backend_data = {}) {
    lease::NodeRecord r;
    r.id = NodeId::random(rng);
    r.version = 1;
    r.name = name;
    r.underlay = underlay;
    r.backend_data = backend_data.empty() ? encode_backend_data({mac, {}}) : backend_data;
    r.claims.push_back({subnet(third), HlcStamp{third, 0}});
    r.renewed_at = kNow;
    table.merge(r);
    return r.id;
  }
  LocalFacts facts() const {
    return {IpAddress::v4(192, 0, 2, 1), "eth0", 1500, {*Cidr::parse("192.0.2.0/24")}, {}};
  }
  DatapathPlan run(DatapathMode mode, int mtu = 0) const {
    DatapathConfig config;
    config.mode = mode;
    config.mtu = mtu;
    return plan(table, table.owners(kNow), self, kNow, facts(), config);
  }
};

}  // namespace

TEST_CASE("vxlan: every other owner's subnet gets a route, a neighbour and an FDB entry") {
  Cluster c;
  const Mac mac_b{2, 0, 0, 0, 0, 2};
  c.add("b", IpAddress::v4(192, 0, 2, 2), 2, mac_b);
  c.add("c", IpAddress::v4(198, 51, 100, 3), 3, Mac{2, 0, 0, 0, 0, 3});
  const DatapathPlan p = c.run(DatapathMode::kVxlan);
  REQUIRE(p.routes.size() == 2);
  CHECK(p.skipped.empty());
  CHECK(p.count(Path::kVxlan) == 2);
  CHECK(p.pod_mtu == 1450);
  REQUIRE(p.vxlan);
  CHECK(p.vxlan->name == "shoal.1");
  CHECK(p.vxlan->address == Cidr::parse("198.18.1.0/32"));
  const KernelState s = desired_state(p);
  CHECK(s.routes.count({subnet(2), IpAddress::v4(198, 18, 2, 0), RouteDevice::kVxlan}) == 1);
  CHECK(s.neighbours.count({IpAddress::v4(198, 18, 2, 0), mac_b}) == 1);
  CHECK(s.fdb.count({mac_b, IpAddress::v4(192, 0, 2, 2)}) == 1);
  CHECK(s.routes.size() == 2);
}

TEST_CASE("host-gw routes on-link peers and reports the others, never a broken route") {
  Cluster c;
  c.add("b", IpAddress::v4(192, 0, 2, 2), 2, std::nullopt);
  c.add("far", IpAddress::v4(198, 51, 100, 3), 3, std::nullopt);
  const DatapathPlan p = c.run(DatapathMode::kHostGw);
  REQUIRE(p.routes.size() == 1);
  CHECK(p.routes[0].path == Path::kHostGw);
  CHECK(p.routes[0].underlay == IpAddress::v4(192, 0, 2, 2));
  REQUIRE(p.skipped.size() == 1);
  CHECK(p.skipped[0].name == "far");
  CHECK(p.skipped[0].reason == SkipReason::kNotOnLink);
  CHECK(!p.vxlan);
  CHECK(p.pod_mtu == 1500);
  const KernelState s = desired_state(p);
  CHECK(s.routes ==
        std::set<KernelRoute>{{subnet(2), IpAddress::v4(192, 0, 2, 2), RouteDevice::kUnderlay}});
  CHECK(s.neighbours.empty());
}

TEST_CASE("auto: host-gw on the segment, vxlan across it") {
  Cluster c;
  c.add("near", IpAddress::v4(192, 0, 2, 2), 2, Mac{2, 0, 0, 0, 0, 2});
  c.add("far", IpAddress::v4(198, 51, 100, 3), 3, Mac{2, 0, 0, 0, 0, 3});
  const DatapathPlan p = c.run(DatapathMode::kAuto);
  REQUIRE(p.routes.size() == 2);
  CHECK(p.routes[0].name == "near");
  CHECK(p.routes[0].path == Path::kHostGw);
  CHECK(p.routes[1].path == Path::kVxlan);
  CHECK(p.pod_mtu == 1450);  // pods may reach a vxlan peer
  CHECK(p.vxlan);
}

TEST_CASE("udp: one route for the network into the TUN device, the tunnel carries every peer") {
  Cluster c;
  const Bytes key(32, 0x11);
  c.add("b", IpAddress::v4(192, 0, 2, 2), 2, std::nullopt,
        encode_backend_data({std::nullopt, key}));
  c.add("nokey", IpAddress::v4(192, 0, 2, 3), 3, std::nullopt);
  const Cidr network = *Cidr::parse("198.18.0.0/16");
  DatapathConfig config{
      .mode = DatapathMode::kUdp, .port = 8285, .encrypt = true, .network = network};
  DatapathPlan p = plan(c.table, c.table.owners(kNow), c.self, kNow, c.facts(), config);
  CHECK(p.pod_mtu == 1404);  // 1500 - IPv4 20 - UDP 8 - header 16 - tag 16 - relay header 36
  CHECK(!p.vxlan);
  REQUIRE(p.tun);
  CHECK(p.tun->name == "shoal0");
  CHECK(p.tun->mtu == 1404);
  CHECK(p.tun->address == Cidr::parse("198.18.1.0/32"));
  REQUIRE(p.routes.size() == 1);
  CHECK(p.routes[0].path == Path::kUdp);
  CHECK(p.routes[0].tunnel_key == key);
  REQUIRE(p.skipped.size() == 1);  // sealing needs the peer's key
  CHECK(p.skipped[0].reason == SkipReason::kNoTunnelKey);
  const KernelState s = desired_state(p);
  CHECK(s.routes == std::set<KernelRoute>{{network, IpAddress(), RouteDevice::kTun}});
  CHECK(s.neighbours.empty());
  CHECK(s.fdb.empty());

  config.encrypt = false;  // plaintext: no key needed, 4 bytes of header
  p = plan(c.table, c.table.owners(kNow), c.self, kNow, c.facts(), config);
  CHECK(p.pod_mtu == 1468);
  CHECK(p.routes.size() == 2);
  CHECK(p.skipped.empty());
}

TEST_CASE("auto with Fallback udp: host-gw on the segment, the tunnel across it") {
  Cluster c;
  c.add("near", IpAddress::v4(192, 0, 2, 2), 2, std::nullopt,
        encode_backend_data({std::nullopt, Bytes(32, 1)}));
  c.add("far", IpAddress::v4(198, 51, 100, 3), 3, std::nullopt,
        encode_backend_data({std::nullopt, Bytes(32, 2)}));
  const DatapathConfig config{.mode = DatapathMode::kAuto,
                              .fallback = Path::kUdp,
                              .port = 8285,
                              .encrypt = true,
                              .network = *Cidr::parse("198.18.0.0/16")};
  const DatapathPlan p = plan(c.table, c.table.owners(kNow), c.self, kNow, c.facts(), config);
  REQUIRE(p.routes.size() == 2);
  CHECK(p.routes[0].path == Path::kHostGw);
  CHECK(p.routes[1].path == Path::kUdp);
  CHECK(p.pod_mtu == 1404);
  CHECK(p.tun);
  CHECK(!p.vxlan);
  // The host-gw route is more specific than the network's route into the tunnel.
  const KernelState s = desired_state(p);
  CHECK(s.routes.size() == 2);
  CHECK(s.routes.count({subnet(2), IpAddress::v4(192, 0, 2, 2), RouteDevice::kUnderlay}) == 1);
  CHECK(s.routes.count({*Cidr::parse("198.18.0.0/16"), IpAddress(), RouteDevice::kTun}) == 1);
}

TEST_CASE("a peer with bad backend data, no MAC or the other family is skipped, the rest stay") {
  Cluster c;
  c.add("garbage", IpAddress::v4(192, 0, 2, 2), 2, std::nullopt, Bytes{0xff, 0xff, 0xff});
  c.add("nomac", IpAddress::v4(192, 0, 2, 3), 3, std::nullopt);
  c.add("v6", *IpAddress::parse("2001:db8::1"), 4, Mac{2, 0, 0, 0, 0, 4});
  c.add("good", IpAddress::v4(192, 0, 2, 5), 5, Mac{2, 0, 0, 0, 0, 5});
  const DatapathPlan p = c.run(DatapathMode::kVxlan);
  REQUIRE(p.routes.size() == 1);
  CHECK(p.routes[0].name == "good");
  REQUIRE(p.skipped.size() == 3);
  CHECK(p.skipped[0].reason == SkipReason::kBadBackendData);
  CHECK(p.skipped[1].reason == SkipReason::kNoVtepMac);
  CHECK(p.skipped[2].reason == SkipReason::kFamilyMismatch);
}

TEST_CASE(
    "routes follow leases: a released or expired lease has no route, liveness does not count") {
  Cluster c;
  const NodeId b = c.add("b", IpAddress::v4(192, 0, 2, 2), 2, Mac{2, 0, 0, 0, 0, 2});
  CHECK(c.run(DatapathMode::kVxlan).routes.size() == 1);
  lease::NodeRecord released = *c.table.find(b);
  released.version = 2;
  released.released = true;
  c.table.merge(released);
  CHECK(c.run(DatapathMode::kVxlan).routes.empty());
  // Owners computed earlier (stale) do not bring back a route for an invalid lease.
  lease::Owners stale{{subnet(2), b}};
  CHECK(plan(c.table, stale, c.self, kNow, c.facts(), {}).routes.empty());
}

TEST_CASE("MTU: derived from the underlay, capped by the configured value") {
  Cluster c;
  CHECK(c.run(DatapathMode::kVxlan, 1400).pod_mtu == 1400);
  CHECK(c.run(DatapathMode::kVxlan, 9000).pod_mtu == 1450);  // more would fragment
  LocalFacts jumbo = c.facts();
  jumbo.underlay_mtu = 9000;
  CHECK(plan(c.table, c.table.owners(kNow), c.self, kNow, jumbo, {}).pod_mtu == 8950);
}

TEST_CASE("diff: removes stale entries, adds missing ones, and is empty once they match") {
  Cluster c;
  c.add("b", IpAddress::v4(192, 0, 2, 2), 2, Mac{2, 0, 0, 0, 0, 2});
  const KernelState desired = desired_state(c.run(DatapathMode::kVxlan));
  KernelState installed;
  installed.routes.insert(
      {subnet(9), IpAddress::v4(198, 18, 9, 0), RouteDevice::kVxlan});  // an old peer
  DatapathDiff d = diff(desired, installed);
  CHECK(d.remove.routes.size() == 1);
  CHECK(d.add.routes.size() == 1);
  CHECK(d.add.neighbours.size() == 1);
  CHECK(d.add.fdb.size() == 1);
  CHECK(d.size() == 4);
  CHECK(diff(desired, desired).empty());
  // A peer that moved to a new underlay address: its old FDB entry goes, the new one comes.
  KernelState moved = desired;
  moved.fdb = {{Mac{2, 0, 0, 0, 0, 2}, IpAddress::v4(192, 0, 2, 99)}};
  d = diff(desired, moved);
  CHECK(d.remove.fdb.size() == 1);
  CHECK(d.add.fdb.size() == 1);
  CHECK(d.add.routes.empty());
}

TEST_CASE("a peer across a NAT never gets host-gw or vxlan, even when its address looks on-link") {
  // Every home uses the same private ranges: "other" sits at another site behind a NAT, at
  // an address that happens to be on our own segment.
  Cluster c;
  const Bytes key(32, 0x22);
  const NodeId other = c.add("other-site", IpAddress::v4(192, 0, 2, 7), 2, Mac{2, 0, 0, 0, 0, 7},
                             encode_backend_data({Mac{2, 0, 0, 0, 0, 7}, key}));
  LocalFacts facts = c.facts();
  facts.behind_nat = {other};
  auto run = [&](DatapathMode mode, Path fallback) {
    DatapathConfig config{
        .mode = mode, .fallback = fallback, .port = 8285, .network = *Cidr::parse("198.18.0.0/16")};
    return plan(c.table, c.table.owners(kNow), c.self, kNow, facts, config);
  };
  for (auto [mode, fallback] : {std::pair{DatapathMode::kHostGw, Path::kVxlan},
                                {DatapathMode::kVxlan, Path::kVxlan},
                                {DatapathMode::kAuto, Path::kVxlan}}) {
    const DatapathPlan p = run(mode, fallback);
    CHECK(p.routes.empty());
    REQUIRE(p.skipped.size() == 1);
    CHECK(p.skipped[0].reason == SkipReason::kBehindNat);
  }
  // The udp tunnel is the one path that may cross a NAT.
  const DatapathPlan p = run(DatapathMode::kAuto, Path::kUdp);
  REQUIRE(p.routes.size() == 1);
  CHECK(p.routes[0].path == Path::kUdp);
}

TEST_CASE("behind_nat: members that advertise a NAT and that gossip does not reach directly") {
  Rng rng(3);
  const NodeId self = NodeId::random(rng);
  auto member = [&](std::vector<Endpoint> candidates, bool symmetric, bool proven_direct) {
    gossip::Member m;
    m.id = NodeId::random(rng);
    m.address = Endpoint{IpAddress::v4(192, 0, 2, 9), 7946};
    m.candidates = std::move(candidates);
    m.symmetric_nat = symmetric;
    m.path.reach = m.address;
    if (proven_direct) m.path.prove(m.address);
    return m;
  };
  const Endpoint outside{IpAddress::v4(203, 0, 113, 5), 20000};
  const auto public_peer = member({}, false, false);
  const auto same_lan = member({outside}, false, true);  // its address answers: our LAN
  const auto other_site = member({outside}, false, false);
  const auto symmetric = member({}, true, false);
  gossip::Member me = member({outside}, false, false);
  me.id = self;
  const auto found = behind_nat({me, public_peer, same_lan, other_site, symmetric}, self);
  CHECK(found == std::set<NodeId>{other_site.id, symmetric.id});
}
