#include "node/datapath_plan.h"

#include <algorithm>

namespace shoal::node {

std::string_view to_string(Path path) {
  switch (path) {
    case Path::kHostGw:
      return "host-gw";
    case Path::kVxlan:
      return "vxlan";
    case Path::kUdp:
      return "udp";
  }
  return "?";
}

std::string_view to_string(DatapathMode mode) {
  switch (mode) {
    case DatapathMode::kHostGw:
      return "host-gw";
    case DatapathMode::kVxlan:
      return "vxlan";
    case DatapathMode::kUdp:
      return "udp";
    case DatapathMode::kAuto:
      return "auto";
  }
  return "?";
}

std::string_view to_string(SkipReason reason) {
  switch (reason) {
    case SkipReason::kNotOnLink:
      return "not_on_link";
    case SkipReason::kBadBackendData:
      return "bad_backend_data";
    case SkipReason::kNoVtepMac:
      return "no_vtep_mac";
    case SkipReason::kFamilyMismatch:
      return "family_mismatch";
    case SkipReason::kOverlapsOwn:
      return "overlaps_own_subnet";
    case SkipReason::kNoTunnelKey:
      return "no_tunnel_key";
    case SkipReason::kBehindNat:
      return "behind_nat";
  }
  return "?";
}

int udp_overhead(const IpAddress& underlay, bool encrypt) {
  const int ip_udp = (underlay.is_v4() ? 20 : 40) + 8;
  return ip_udp + (encrypt ? kUdpEncryptedHeader + kUdpRelayHeader : kUdpPlainHeader);
}

std::optional<Path> DatapathConfig::carrier() const {
  switch (mode) {
    case DatapathMode::kHostGw:
      return std::nullopt;
    case DatapathMode::kVxlan:
      return Path::kVxlan;
    case DatapathMode::kUdp:
      return Path::kUdp;
    case DatapathMode::kAuto:
      return fallback;
  }
  return std::nullopt;
}

std::string vxlan_device_name(uint32_t vni) { return "shoal." + std::to_string(vni); }

size_t DatapathPlan::count(Path path) const {
  return static_cast<size_t>(std::count_if(routes.begin(), routes.end(),
                                           [&](const PeerRoute& r) { return r.path == path; }));
}

size_t DatapathDiff::size() const {
  return remove.routes.size() + remove.neighbours.size() + remove.fdb.size() + add.routes.size() +
         add.neighbours.size() + add.fdb.size();
}

namespace {

bool on_link(const LocalFacts& facts, const IpAddress& address) {
  return std::any_of(facts.on_link_prefixes.begin(), facts.on_link_prefixes.end(),
                     [&](const Cidr& prefix) { return prefix.contains(address); });
}

// What the carrier adds to every packet; host-gw adds nothing.
int overhead(const IpAddress& underlay, const DatapathConfig& config) {
  const auto carrier = config.carrier();
  if (!carrier) return 0;
  if (*carrier == Path::kUdp) return udp_overhead(underlay, config.encrypt);
  return underlay.is_v4() ? kVxlanOverheadV4 : kVxlanOverheadV6;
}

}  // namespace

DatapathPlan plan(const lease::Table& table, const lease::Owners& owners, const NodeId& self,
                  WallTime wall, const LocalFacts& facts, const DatapathConfig& config) {
  DatapathPlan out;
  out.mode = config.mode;
  // Pods get the smallest MTU of the paths they may take, so no packet needs fragmenting.
  const int derived = facts.underlay_mtu - overhead(facts.underlay, config);
  out.pod_mtu = config.mtu > 0 ? std::min(config.mtu, derived) : derived;

  std::vector<Cidr> own;
  for (const auto& [subnet, owner] : owners) {
    if (owner == self) own.push_back(subnet);
  }
  std::optional<Cidr> device_address;  // the carrier's device holds our subnet's .0/32
  if (!own.empty()) device_address = Cidr::make(own.front().network(), own.front().max_prefix());
  const std::optional<Path> carrier = config.carrier();
  if (carrier == Path::kVxlan) {
    out.vxlan = VxlanDevice{vxlan_device_name(config.vni), config.vni, config.port, out.pod_mtu,
                            device_address};
  } else if (carrier == Path::kUdp) {
    out.tun = TunDevice{kTunDeviceName, out.pod_mtu, config.network, device_address};
  }

  for (const auto& entry : owners) {
    // Named references, not a structured binding: lambdas below capture them (clang 14).
    const Cidr& subnet = entry.first;
    const NodeId& owner = entry.second;
    if (owner == self) continue;
    const lease::NodeRecord* record = table.find(owner);
    if (record == nullptr || !table.valid(*record, wall)) continue;  // owners is stale: no lease
    auto skip = [&](SkipReason reason) {
      out.skipped.push_back({owner, record->name, subnet, reason});
    };
    if (std::any_of(own.begin(), own.end(), [&](const Cidr& c) { return c.overlaps(subnet); })) {
      skip(SkipReason::kOverlapsOwn);
      continue;
    }
    if (record->underlay.family() != facts.underlay.family()) {
      skip(SkipReason::kFamilyMismatch);
      continue;
    }
    const bool nat = facts.behind_nat.contains(owner);
    const bool direct = !nat && on_link(facts, record->underlay);
    Path path = carrier.value_or(Path::kHostGw);
    if (!carrier || (config.mode == DatapathMode::kAuto && direct)) {
      if (!direct) {
        skip(nat ? SkipReason::kBehindNat : SkipReason::kNotOnLink);
        continue;
      }
      path = Path::kHostGw;
    }
    if (nat && path == Path::kVxlan) {  // vxlan would send to a private address of its site
      skip(SkipReason::kBehindNat);
      continue;
    }
    PeerRoute route{subnet, owner, record->name, path, record->underlay, std::nullopt, {}};
    if (path != Path::kHostGw) {
      auto data = decode_backend_data(record->backend_data);
      if (!data) {
        skip(SkipReason::kBadBackendData);
        continue;
      }
      if (path == Path::kVxlan) {
        if (!data->vtep_mac) {
          skip(SkipReason::kNoVtepMac);
          continue;
        }
        route.vtep_mac = data->vtep_mac;
      } else {
        if (config.encrypt && data->tunnel_key.size() != 32) {
          skip(SkipReason::kNoTunnelKey);
          continue;
        }
        route.tunnel_key = data->tunnel_key;
      }
    }
    out.routes.push_back(std::move(route));
  }
  return out;
}

std::set<NodeId> behind_nat(const std::vector<gossip::Member>& members, const NodeId& self) {
  std::set<NodeId> out;
  for (const gossip::Member& m : members) {
    if (m.id == self || (m.candidates.empty() && !m.symmetric_nat)) continue;
    if (gossip::path_kind(m.path, m.address) != gossip::PathKind::kDirect) out.insert(m.id);
  }
  return out;
}

KernelState desired_state(const DatapathPlan& plan) {
  KernelState state;
  // One route for the whole network into the TUN device; host-gw peers' routes are more
  // specific, so in auto mode they win for peers on our segment.
  if (plan.tun) state.routes.insert({plan.tun->network, IpAddress(), RouteDevice::kTun});
  for (const PeerRoute& route : plan.routes) {
    if (route.path == Path::kUdp) continue;  // the tunnel routes these itself
    if (route.path == Path::kHostGw) {
      state.routes.insert({route.subnet, route.underlay, RouteDevice::kUnderlay});
      continue;
    }
    const IpAddress vtep = route.subnet.network();  // the peer's device holds its subnet's .0
    state.routes.insert({route.subnet, vtep, RouteDevice::kVxlan});
    state.neighbours.insert({vtep, *route.vtep_mac});
    state.fdb.insert({*route.vtep_mac, route.underlay});
  }
  return state;
}

namespace {

template <typename T>
void difference(const std::set<T>& a, const std::set<T>& b, std::set<T>& out) {
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
}

}  // namespace

DatapathDiff diff(const KernelState& desired, const KernelState& installed) {
  DatapathDiff out;
  difference(installed.routes, desired.routes, out.remove.routes);
  difference(installed.neighbours, desired.neighbours, out.remove.neighbours);
  difference(installed.fdb, desired.fdb, out.remove.fdb);
  difference(desired.routes, installed.routes, out.add.routes);
  difference(desired.neighbours, installed.neighbours, out.add.neighbours);
  difference(desired.fdb, installed.fdb, out.add.fdb);
  return out;
}

}  // namespace shoal::node
