// KernelDatapath against the real kernel, in this process's own network namespace (see
// kernel_main.cc): a dummy underlay, plans with vxlan, host-gw and auto peers; what lands in
// the kernel, that a second reconcile changes nothing, that objects deleted by hand (a
// route, a neighbour, an FDB entry, the whole device) are put back, that stale routes of
// shoal's protocol go, and that remove_all() leaves nothing.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "backends/kernel_datapath.h"
#include "backends/masquerade.h"
#include "backends/netlink.h"
#include "common/rng.h"

using namespace shoal;
using namespace shoal::backends;
using std::chrono::hours;
using std::chrono::milliseconds;

namespace {

const WallTime kNow{milliseconds(1767225600000)};
const Mac kOwnMac{0x02, 0x5e, 0, 0, 0, 1};

void sh(const std::string& command) {
  INFO(command);
  REQUIRE(std::system(command.c_str()) == 0);
}

std::string output(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  REQUIRE(p != nullptr);
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, p)) > 0) out.append(buffer, n);
  ::pclose(p);
  return out;
}

int lines(const std::string& command) {
  const std::string out = output(command);
  int n = 0;
  for (char c : out) n += c == '\n';
  return n;
}

// A fresh underlay u0 (one end of a veth pair) with 192.0.2.1/24; removes what an earlier case
// left.
void fresh_underlay() {
  std::system("ip link del shoal.1 2>/dev/null; ip link del u0 2>/dev/null");
  sh("ip link add u0 type veth peer name u0peer && ip link set u0peer up && ip addr add "
     "192.0.2.1/24 dev u0 && ip link set u0 up && "
     "ip link set lo up");
}

Cidr subnet(int third) { return *Cidr::make(IpAddress::v4(198, 18, uint8_t(third), 0), 24); }

struct Tables {
  lease::Table table{hours(1)};
  Rng rng{3};
  NodeId self = add(IpAddress::v4(192, 0, 2, 1), 1, kOwnMac);
  NodeId add(IpAddress underlay, int third, Mac mac) {
    lease::NodeRecord r;
    r.id = NodeId::random(rng);
    r.version = 1;
    r.name = "h" + std::to_string(third);
    r.underlay = underlay;
    r.backend_data = node::encode_backend_data({mac, {}});
    r.claims.push_back({subnet(third), HlcStamp{third, 0}});
    r.renewed_at = kNow;
    table.merge(r);
    return r.id;
  }
  node::DatapathPlan plan(const node::LocalFacts& facts, node::DatapathMode mode) const {
    node::DatapathConfig config;
    config.mode = mode;
    return node::plan(table, table.owners(kNow), self, kNow, facts, config);
  }
};

struct Fixture {
  std::unique_ptr<Netlink> netlink;
  std::unique_ptr<KernelDatapath> datapath;
  node::LocalFacts facts;
  Fixture() {
    fresh_underlay();
    auto opened = Netlink::open();
    REQUIRE(opened);
    netlink = std::move(opened).value();
    datapath = std::make_unique<KernelDatapath>(*netlink, kOwnMac);
    auto gathered = gather(IpAddress::v4(192, 0, 2, 1));
    REQUIRE(gathered);
    facts = *gathered;
  }
  HostLinks host() {
    auto read = datapath->read_host();
    REQUIRE(read);
    return std::move(read).value();
  }
  Result<node::LocalFacts> gather(const IpAddress& underlay) {
    return datapath->gather_facts(underlay, host());
  }
  ReconcileResult reconcile(const node::DatapathPlan& plan) {
    ReconcileResult r = datapath->reconcile(plan, facts, host());
    for (const auto& e : r.first_errors) MESSAGE(e.to_string());
    CHECK(r.errors == 0);
    return r;
  }
};

}  // namespace

TEST_CASE("facts: the underlay device, its MTU and its prefixes") {
  Fixture f;
  CHECK(f.facts.underlay_device == "u0");
  CHECK(f.facts.underlay_mtu == 1500);
  REQUIRE(f.facts.on_link_prefixes.size() == 1);
  CHECK(f.facts.on_link_prefixes[0] == *Cidr::parse("192.0.2.0/24"));
  auto missing = f.gather(IpAddress::v4(203, 0, 113, 9));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == Status::Code::kNotFound);

  // The pods' MTU follows the underlay's: a jumbo-frame underlay gives 8950 with vxlan.
  sh("ip link set u0 mtu 9000");
  auto jumbo = f.gather(IpAddress::v4(192, 0, 2, 1));
  REQUIRE(jumbo);
  CHECK(jumbo->underlay_mtu == 9000);
  Tables t;
  CHECK(t.plan(*jumbo, node::DatapathMode::kVxlan).pod_mtu == 8950);
  CHECK(t.plan(*jumbo, node::DatapathMode::kHostGw).pod_mtu == 9000);
}

TEST_CASE("vxlan: device, routes, neighbours and FDB entries; drift is repaired") {
  Fixture f;
  Tables t;
  t.add(IpAddress::v4(192, 0, 2, 2), 2, Mac{2, 0, 0, 0, 0, 2});
  t.add(IpAddress::v4(203, 0, 113, 3), 3, Mac{2, 0, 0, 0, 0, 3});
  const auto plan = t.plan(f.facts, node::DatapathMode::kVxlan);
  ReconcileResult r = f.reconcile(plan);
  CHECK(r.added[size_t(ObjectKind::kDevice)] == 1);
  CHECK(r.added[size_t(ObjectKind::kRoute)] == 2);
  CHECK(r.added[size_t(ObjectKind::kNeighbour)] == 2);
  CHECK(r.added[size_t(ObjectKind::kFdb)] == 2);

  const std::string link = output("ip -d link show shoal.1");
  CHECK(link.find("vxlan id 1 ") != std::string::npos);
  CHECK(link.find("dstport 8472") != std::string::npos);  // not libnl 3.7's mangled port
  CHECK(link.find("nolearning") != std::string::npos);
  CHECK(link.find("02:5e:00:00:00:01") != std::string::npos);
  CHECK(link.find("mtu 1450") != std::string::npos);
  CHECK(lines("ip -4 addr show dev shoal.1 | grep 'inet 198.18.1.0/32'") == 1);
  CHECK(lines("ip route show proto 83") == 2);
  CHECK(lines("ip route show proto 83 | grep '198.18.2.0/24 via 198.18.2.0 dev shoal.1 onlink'") ==
        1);
  CHECK(lines("ip neigh show dev shoal.1 nud permanent") == 2);
  CHECK(lines("bridge fdb show dev shoal.1 | grep '02:00:00:00:00:03 dst 203.0.113.3'") == 1);

  // Nothing changed: nothing to do.
  r = f.reconcile(plan);
  CHECK(r.changes() == 0);

  // Hand-deleted objects come back, and count as drift.
  sh("ip route del 198.18.2.0/24 && ip neigh del 198.18.3.0 dev shoal.1 && "
     "bridge fdb del 02:00:00:00:00:02 dev shoal.1 dst 192.0.2.2");
  r = f.reconcile(plan);
  CHECK(r.changes() == 3);
  CHECK(r.drift_repaired == 3);
  CHECK(lines("ip route show proto 83") == 2);

  // The device deleted by hand: recreated with every peer replayed.
  sh("ip link del shoal.1");
  r = f.reconcile(plan);
  CHECK(r.added[size_t(ObjectKind::kDevice)] == 1);
  CHECK(r.added[size_t(ObjectKind::kFdb)] == 2);
  CHECK(lines("ip route show proto 83") == 2);
  CHECK(lines("ip neigh show dev shoal.1 nud permanent") == 2);

  // A device with the wrong settings is replaced.
  sh("ip link del shoal.1 && ip link add shoal.1 type vxlan id 1 dstport 4789 dev u0");
  r = f.reconcile(plan);
  CHECK(r.removed[size_t(ObjectKind::kDevice)] == 1);
  CHECK(output("ip -d link show shoal.1").find("dstport 8472") != std::string::npos);

  // A stale route of shoal's protocol (an earlier run's) goes; others' routes stay.
  sh("ip route add 198.18.250.0/24 via 192.0.2.250 dev u0 proto 83");
  sh("ip route add 198.18.251.0/24 via 192.0.2.251 dev u0 proto static");
  r = f.reconcile(plan);
  CHECK(r.removed[size_t(ObjectKind::kRoute)] == 1);
  CHECK(lines("ip route show 198.18.251.0/24") == 1);

  CHECK(f.datapath->remove_all(1).ok());
  CHECK(lines("ip route show proto 83") == 0);
  CHECK(lines("ip link show shoal.1 2>/dev/null") == 0);
}

TEST_CASE("a reconcile lists the host's links and addresses once") {
  // The facts and the device checks share one read: a steady vxlan reconcile costs one dump
  // each of links, addresses, routes, neighbours and FDB (it used to list links and
  // addresses twice).
  Fixture f;
  Tables t;
  t.add(IpAddress::v4(192, 0, 2, 2), 2, Mac{2, 0, 0, 0, 0, 2});
  const auto plan = t.plan(f.facts, node::DatapathMode::kVxlan);
  f.reconcile(plan);  // creates the device: one more links dump, for its index
  const uint64_t before = f.netlink->dumps();
  auto host = f.host();
  REQUIRE(f.datapath->gather_facts(IpAddress::v4(192, 0, 2, 1), host));
  const ReconcileResult steady = f.datapath->reconcile(plan, f.facts, host);
  CHECK(steady.errors == 0);
  CHECK(steady.changes() == 0);
  CHECK(f.netlink->dumps() - before == 5);
}

TEST_CASE("host-gw routes via the peer's underlay address; auto mixes both paths") {
  Fixture f;
  Tables t;
  t.add(IpAddress::v4(192, 0, 2, 2), 2, Mac{2, 0, 0, 0, 0, 2});
  t.add(IpAddress::v4(203, 0, 113, 3), 3, Mac{2, 0, 0, 0, 0, 3});
  sh("ip link add shoal.7 type vxlan id 7 dstport 8472 dev u0");  // an earlier run's, VNI 7
  auto hostgw = t.plan(f.facts, node::DatapathMode::kHostGw);
  CHECK(hostgw.skipped.size() == 1);
  f.reconcile(hostgw);
  CHECK(lines("ip route show proto 83") == 1);
  CHECK(lines("ip route show proto 83 | grep '198.18.2.0/24 via 192.0.2.2 dev u0'") == 1);
  CHECK(lines("ip link show shoal.7 2>/dev/null") == 0);  // host-gw runs no vxlan device

  // The underlay going down flushes the routes through it (flannel #1434); once it is up
  // again, a reconcile (the agent runs one on the link event) puts them back.
  sh("ip link set u0 down");
  CHECK(lines("ip route show proto 83") == 0);
  sh("ip link set u0 up");
  const ReconcileResult again = f.reconcile(hostgw);
  CHECK(lines("ip route show proto 83 | grep '198.18.2.0/24 via 192.0.2.2 dev u0'") == 1);
  CHECK(again.drift_repaired == 1);

  // Switching to auto: the on-link peer stays host-gw, the other goes over vxlan.
  f.reconcile(t.plan(f.facts, node::DatapathMode::kAuto));
  CHECK(lines("ip route show proto 83 | grep '198.18.2.0/24 via 192.0.2.2 dev u0'") == 1);
  CHECK(lines("ip route show proto 83 | grep '198.18.3.0/24 via 198.18.3.0 dev shoal.1 onlink'") ==
        1);
  CHECK(lines("ip neigh show dev shoal.1 nud permanent") == 1);
}

TEST_CASE("masquerade: shoal's own nftables table, replaced atomically and removed") {
  fresh_underlay();
  const Cidr network = *Cidr::parse("198.18.0.0/16");
  REQUIRE(install_masquerade(network, subnet(1)).ok());
  REQUIRE(install_masquerade(network, subnet(2)).ok());  // replaces, never duplicates
  const std::string rules = output("nft list table ip shoal");
  CHECK(rules.find("198.18.2.0/24") != std::string::npos);
  CHECK(rules.find("198.18.1.0/24") == std::string::npos);
  CHECK(lines("nft list table ip shoal | grep masquerade") == 2);
  REQUIRE(remove_masquerade().ok());
  CHECK(lines("nft list tables | grep 'ip shoal'") == 0);
}

TEST_CASE("TxChecksumOffload false: the device computes its transmit checksums in software") {
  Fixture f;
  KernelDatapath no_offload(*f.netlink, kOwnMac, /*tx_checksum_offload=*/false);
  Tables t;
  t.add(IpAddress::v4(192, 0, 2, 2), 2, Mac{2, 0, 0, 0, 0, 2});
  const ReconcileResult r =
      no_offload.reconcile(t.plan(f.facts, node::DatapathMode::kVxlan), f.facts, f.host());
  for (const auto& e : r.first_errors) MESSAGE(e.to_string());
  CHECK(r.errors == 0);
  CHECK(lines("ethtool -k shoal.1 | grep -E '^tx-checksumming: off'") == 1);
  // The default leaves it on.
  std::system("ip link del shoal.1");
  f.reconcile(t.plan(f.facts, node::DatapathMode::kVxlan));
  CHECK(lines("ethtool -k shoal.1 | grep -E '^tx-checksumming: on'") == 1);
}
