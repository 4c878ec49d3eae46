#include "backends/kernel_datapath.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "common/fd.h"

namespace shoal::backends {

std::string_view to_string(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kRoute:
      return "route";
    case ObjectKind::kNeighbour:
      return "neighbour";
    case ObjectKind::kFdb:
      return "fdb";
    case ObjectKind::kDevice:
      return "device";
    case ObjectKind::kAddress:
      return "address";
  }
  return "?";
}

size_t ReconcileResult::changes() const {
  size_t n = 0;
  for (int i = 0; i < kObjectKinds; ++i) n += added[i] + removed[i];
  return n;
}

namespace {

constexpr size_t kKeptErrors = 8;

size_t& at(std::array<size_t, kObjectKinds>& counts, ObjectKind kind) {
  return counts[static_cast<size_t>(kind)];
}

const LinkInfo* find_link(const std::vector<LinkInfo>& links, const std::string& name) {
  auto it =
      std::find_if(links.begin(), links.end(), [&](const LinkInfo& l) { return l.name == name; });
  return it == links.end() ? nullptr : &*it;
}

// The VXLAN checksum bug of older kernels is avoided by not offloading the transmit checksum
// (what flannel's troubleshooting page has people do with ethtool). An ethtool ioctl, as
// netlink has no message for it.
Status set_tx_checksum(const std::string& device, bool on) {
  const Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_status("cannot set tx checksum offload of " + device + ": socket");
  ethtool_value value{};
  value.cmd = ETHTOOL_STXCSUM;
  value.data = on ? 1 : 0;
  ifreq request{};
  std::strncpy(request.ifr_name, device.c_str(), IFNAMSIZ - 1);
  request.ifr_data = reinterpret_cast<char*>(&value);
  if (::ioctl(fd.get(), SIOCETHTOOL, &request) < 0)
    return errno_status("cannot set tx checksum offload of " + device);
  return {};
}

}  // namespace

void KernelDatapath::note(ReconcileResult& result, const Status& error) {
  if (error.ok()) return;
  ++result.errors;
  if (result.first_errors.size() < kKeptErrors) result.first_errors.push_back(error);
}

Result<HostLinks> KernelDatapath::read_host() {
  auto links = netlink_.links();
  if (!links) return links.error();
  auto addresses = netlink_.addresses();
  if (!addresses) return addresses.error();
  return HostLinks{std::move(links).value(), std::move(addresses).value()};
}

Result<node::LocalFacts> KernelDatapath::gather_facts(const IpAddress& underlay,
                                                      const HostLinks& host) {
  const auto& list = host.addresses;
  auto own = std::find_if(list.begin(), list.end(),
                          [&](const AddressInfo& a) { return a.local == underlay; });
  if (own == list.end())
    return Status::not_found("no device holds the underlay address " + underlay.to_string() +
                             " (set Advertise to an address of this host)");
  node::LocalFacts facts;
  facts.underlay = underlay;
  for (const AddressInfo& a : list) {
    if (a.ifindex != own->ifindex) continue;
    if (auto prefix = Cidr::containing(a.local, a.prefix))
      facts.on_link_prefixes.push_back(*prefix);
  }
  for (const LinkInfo& link : host.links) {
    if (link.index != own->ifindex) continue;
    facts.underlay_device = link.name;
    facts.underlay_mtu = link.mtu;
  }
  if (facts.underlay_device.empty())
    return Status::not_found("the device of " + underlay.to_string() + " vanished");
  underlay_index_ = own->ifindex;
  return facts;
}

int KernelDatapath::ensure_device(const node::VxlanDevice& device, const node::LocalFacts& facts,
                                  const HostLinks& host, ReconcileResult& result) {
  const LinkInfo* underlay = find_link(host.links, facts.underlay_device);
  if (underlay == nullptr) {
    note(result, Status::not_found("underlay device " + facts.underlay_device + " not found"));
    return 0;
  }
  const VxlanAttributes want{device.vni, device.port, facts.underlay, underlay->index, false};
  const LinkInfo* link = find_link(host.links, device.name);
  if (link != nullptr && (link->kind != "vxlan" || link->vxlan != want || link->mac != vtep_mac_)) {
    // Wrong settings (another VNI, port or underlay, learning on, a MAC systemd rewrote):
    // peers' entries would not reach it. Replace it.
    note(result, netlink_.delete_link(link->index));
    ++at(result.removed, ObjectKind::kDevice);
    link = nullptr;
  }
  int index = 0;
  if (link == nullptr) {
    if (Status created = netlink_.create_vxlan(device.name, want, vtep_mac_, device.mtu);
        !created.ok()) {
      note(result, created);
      return 0;
    }
    ++at(result.added, ObjectKind::kDevice);
    if (device_seen_) ++result.drift_repaired;
    expected_ = {};                 // a new device holds no entries: every peer is replayed
    auto again = netlink_.links();  // only a new device needs a second listing: its index
    if (again) {
      if (const LinkInfo* created = find_link(*again, device.name)) index = created->index;
    }
    if (index == 0) {
      note(result, Status::not_found("vxlan device " + device.name + " vanished after creation"));
      return 0;
    }
    if (!tx_checksum_offload_) note(result, set_tx_checksum(device.name, false));
    note(result, netlink_.set_link(index, true, 0));
  } else {
    index = link->index;
    if (!link->up || link->mtu != device.mtu)
      note(result, netlink_.set_link(index, true, device.mtu));
  }
  device_seen_ = true;

  ensure_address(index, device.address, host.addresses, result);
  return index;
}

void KernelDatapath::ensure_address(int index, const std::optional<Cidr>& address,
                                    const std::vector<AddressInfo>& addresses,
                                    ReconcileResult& result) {
  // The device's address: our subnet's .0/32, and nothing else. (A device created in this
  // reconcile is absent from `addresses`, rightly: it has none yet.)
  bool present = false;
  for (const AddressInfo& a : addresses) {
    if (a.ifindex != index) continue;
    if (address && a.local == address->network() && a.prefix == address->prefix()) {
      present = true;
      continue;
    }
    note(result, netlink_.delete_address(index, a.local, a.prefix));
    ++at(result.removed, ObjectKind::kAddress);
  }
  if (address && !present) {
    note(result, netlink_.add_address(index, address->network(), address->prefix()));
    ++at(result.added, ObjectKind::kAddress);
  }
}

int KernelDatapath::ensure_tun(const node::TunDevice& device, const HostLinks& host,
                               ReconcileResult& result) {
  // The tunnel made the device (a TUN device lives as long as the tunnel holds it open);
  // here it gets its MTU, state and address.
  const LinkInfo* link = find_link(host.links, device.name);
  if (link == nullptr) {
    note(result, Status::not_found("TUN device " + device.name +
                                   " not found (is the udp tunnel running?)"));
    return 0;
  }
  if (!link->up || link->mtu != device.mtu)
    note(result, netlink_.set_link(link->index, true, device.mtu));
  ensure_address(link->index, device.address, host.addresses, result);
  return link->index;
}

void KernelDatapath::remove_stale_devices(const std::string& keep, bool keep_tun,
                                          const std::vector<LinkInfo>& links,
                                          ReconcileResult& result) {
  for (const LinkInfo& link : links) {
    // An earlier run's device under another VNI, or any device after a switch to host-gw;
    // the udp tunnel's persistent TUN device after a switch away from udp.
    const bool stale_vxlan =
        link.kind == "vxlan" && link.name.starts_with("shoal.") && link.name != keep;
    const bool stale_tun = !keep_tun && link.kind == "tun" && link.name == node::kTunDeviceName;
    if (!stale_vxlan && !stale_tun) continue;
    note(result, netlink_.delete_link(link.index));
    ++at(result.removed, ObjectKind::kDevice);
  }
}

ReconcileResult KernelDatapath::reconcile(const node::DatapathPlan& plan,
                                          const node::LocalFacts& facts, const HostLinks& host) {
  ReconcileResult result;
  vxlan_index_ = 0;
  tun_index_ = 0;
  remove_stale_devices(plan.vxlan ? plan.vxlan->name : "", plan.tun.has_value(), host.links,
                       result);
  if (plan.vxlan) {
    vxlan_index_ = ensure_device(*plan.vxlan, facts, host, result);
    if (vxlan_index_ == 0) return result;  // without the device no vxlan entry can be placed
  }
  if (plan.tun) {
    tun_index_ = ensure_tun(*plan.tun, host, result);
    if (tun_index_ == 0) return result;
  }

  // What is installed.
  node::KernelState installed;
  auto routes = netlink_.routes(kRouteProtocol);
  if (!routes) {
    note(result, routes.error());
    return result;
  }
  for (const RouteInfo& r : *routes) {
    const node::RouteDevice device =
        vxlan_index_ != 0 && r.oif == vxlan_index_ ? node::RouteDevice::kVxlan
        : tun_index_ != 0 && r.oif == tun_index_   ? node::RouteDevice::kTun
                                                   : node::RouteDevice::kUnderlay;
    installed.routes.insert({r.destination, r.gateway, device});
  }
  if (vxlan_index_ != 0) {
    auto neighbours = netlink_.neighbours(vxlan_index_);
    auto fdb = netlink_.fdb(vxlan_index_);
    if (!neighbours) note(result, neighbours.error());
    if (!fdb) note(result, fdb.error());
    if (result.errors > 0) return result;
    for (const NeighbourInfo& n : *neighbours) {
      if (n.mac)
        installed.neighbours.insert({n.destination, *n.mac});
      else
        installed.neighbours.insert({n.destination, Mac{}});  // incomplete: replaced below
    }
    for (const NeighbourInfo& n : *fdb) {
      if (n.mac) installed.fdb.insert({*n.mac, n.destination});
    }
  }

  const node::KernelState desired = node::desired_state(plan);
  const node::DatapathDiff change = node::diff(desired, installed);
  auto repaired = [&](const auto& set, const auto& item) { return set.count(item) > 0; };

  // Removals first, so an entry that changed form is gone before its new form goes in.
  for (const auto& r : change.remove.routes) {
    const Status e = netlink_.delete_route(r.destination, kRouteProtocol);
    if (e.code() != Status::Code::kNotFound) note(result, e);
    ++at(result.removed, ObjectKind::kRoute);
  }
  for (const auto& n : change.remove.neighbours) {
    const Status e = netlink_.delete_neighbour(vxlan_index_, n.address);
    if (e.code() != Status::Code::kNotFound) note(result, e);
    ++at(result.removed, ObjectKind::kNeighbour);
  }
  for (const auto& f : change.remove.fdb) {
    const Status e = netlink_.delete_fdb(vxlan_index_, f.mac, f.destination);
    if (e.code() != Status::Code::kNotFound) note(result, e);
    ++at(result.removed, ObjectKind::kFdb);
  }
  // Then FDB and neighbour entries before the routes that use them.
  for (const auto& f : change.add.fdb) {
    note(result, netlink_.add_fdb(vxlan_index_, f.mac, f.destination));
    ++at(result.added, ObjectKind::kFdb);
    if (repaired(expected_.fdb, f)) ++result.drift_repaired;
  }
  for (const auto& n : change.add.neighbours) {
    note(result, netlink_.add_neighbour(vxlan_index_, n.address, n.mac));
    ++at(result.added, ObjectKind::kNeighbour);
    if (repaired(expected_.neighbours, n)) ++result.drift_repaired;
  }
  for (const auto& r : change.add.routes) {
    const bool onlink = r.device == node::RouteDevice::kVxlan;
    const int oif = onlink                                ? vxlan_index_
                    : r.device == node::RouteDevice::kTun ? tun_index_
                                                          : underlay_index_;
    note(result, netlink_.add_route(r.destination, r.gateway, oif, onlink, kRouteProtocol));
    ++at(result.added, ObjectKind::kRoute);
    if (repaired(expected_.routes, r)) ++result.drift_repaired;
  }
  expected_ = desired;
  return result;
}

Status KernelDatapath::remove_all(uint32_t vni) {
  Status first_error;
  auto keep = [&](const Status& e) {
    if (first_error.ok()) first_error = e;
  };
  auto routes = netlink_.routes(kRouteProtocol);
  if (!routes)
    keep(routes.error());
  else
    for (const RouteInfo& r : *routes) keep(netlink_.delete_route(r.destination, kRouteProtocol));
  auto links = netlink_.links();
  if (!links)
    keep(links.error());
  else if (const LinkInfo* link = find_link(*links, node::vxlan_device_name(vni)))
    keep(netlink_.delete_link(link->index));  // takes its neighbours and FDB entries along
  expected_ = {};
  device_seen_ = false;
  vxlan_index_ = 0;
  return first_error;
}

Status enable_forwarding(bool& turned_on) {
  const char* path = "/proc/sys/net/ipv4/ip_forward";
  turned_on = false;
  std::ifstream in(path);
  char current = '0';
  if (!(in >> current)) return Status::io_error(std::string("cannot read ") + path);
  if (current == '1') return {};
  std::ofstream out(path);
  out << "1\n";
  out.flush();
  if (!out) return Status::io_error(std::string("cannot write ") + path + " (is this root?)");
  turned_on = true;
  return {};
}

}  // namespace shoal::backends
