// The datapath plan: what the kernel should hold, as a pure function of the lease table.
//
// plan() reads the whole table every time (never patched from add/remove events), so a
// restart, the periodic check and a route deleted by hand all take the same path. Routes
// follow leases, not liveness: a suspect or dead peer keeps its route until its lease is
// released, evicted or expired. Facts about this host (the underlay device, its MTU, the
// prefixes it is on-link with) are gathered by the driver and passed in as data.
//
// desired_state() turns a plan into kernel objects, and diff() says what to add and remove
// to turn what is installed into what is desired. Nothing here touches the kernel.
#pragma once

#include <compare>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.h"
#include "common/endpoint.h"
#include "common/hlc.h"
#include "common/node_id.h"
#include "gossip/member.h"
#include "lease/table.h"
#include "node/backend_data.h"

namespace shoal::node {

enum class Path { kHostGw, kVxlan, kUdp };
enum class DatapathMode { kHostGw, kVxlan, kUdp, kAuto };
std::string_view to_string(Path path);
std::string_view to_string(DatapathMode mode);

// Why a peer's subnet is not routed.
enum class SkipReason {
  kNotOnLink,       // host-gw: the peer's underlay address is not on our segment
  kBadBackendData,  // the peer's published datapath data does not decode
  kNoVtepMac,       // vxlan: the peer runs no vxlan device (it publishes no MAC)
  kFamilyMismatch,  // the peer's underlay address family is not ours
  kOverlapsOwn,     // the peer's subnet overlaps one of ours (the table is mid-merge)
  kNoTunnelKey,     // udp, encrypted: the peer publishes no (valid) tunnel public key
  kBehindNat,       // host-gw, vxlan: a NAT lies between us (its address is not ours to route)
};
std::string_view to_string(SkipReason reason);
inline constexpr int kSkipReasonCount = 7;

inline constexpr int kVxlanOverheadV4 = 50;  // outer IPv4 20 + UDP 8 + VXLAN 8 + Ethernet 14
inline constexpr int kVxlanOverheadV6 = 70;
// The udp tunnel: outer IP + UDP 8 + the tunnel's header (plaintext: 4 bytes; encrypted: 16 bytes
// of type, receiver index and counter, and the AEAD's 16-byte tag). See docs/udp.md.
inline constexpr int kUdpPlainHeader = 4;
inline constexpr int kUdpEncryptedHeader = 16 + 16;
// Sealed traffic may go through a relay at any time (a NATed peer, or a punched hole that died),
// wrapped in the relay header: type, 3 zero, destination and source node ids. The MTU reserves
// room for it up front, because a pod's TCP cannot learn a smaller MTU mid-stream when the path
// changes.
inline constexpr int kUdpRelayHeader = 4 + 16 + 16;
int udp_overhead(const IpAddress& underlay, bool encrypt);

inline constexpr const char* kTunDeviceName = "shoal0";

struct DatapathConfig {
  DatapathMode mode = DatapathMode::kVxlan;
  Path fallback = Path::kVxlan;  // auto: what carries traffic off our segment (vxlan or udp)
  uint32_t vni = 1;
  uint16_t port = 8472;  // the carrier's port: vxlan's, or the udp tunnel's
  int mtu = 0;           // 0: derived from the underlay device's MTU
  bool encrypt = false;  // udp: sealed packets (peers must publish a tunnel key)
  Cidr network;          // udp: the overlay network, routed whole into the TUN device
  // The carrier for peers that are not reached by host-gw: kVxlan or kUdp, or nullopt for
  // host-gw mode.
  std::optional<Path> carrier() const;
};

struct LocalFacts {
  IpAddress underlay;                  // our underlay address
  std::string underlay_device;         // the device that holds it
  int underlay_mtu = 1500;             // that device's MTU
  std::vector<Cidr> on_link_prefixes;  // the prefixes of the addresses on that device
  // Peers that gossip found on the far side of a NAT from here (behind_nat() below). Their
  // underlay address is a private one of their own site, which may even look on-link here
  // (every home uses the same ranges): host-gw and vxlan are never planned for them.
  std::set<NodeId> behind_nat;
};

// The members `members` says sit across a NAT from `self`: they advertise where they are
// reached from outside (candidates) or a symmetric NAT, and gossip does not reach them at
// their own address (its path to them is not direct).
std::set<NodeId> behind_nat(const std::vector<gossip::Member>& members, const NodeId& self);

struct PeerRoute {
  Cidr subnet;
  NodeId owner;
  std::string name;
  Path path = Path::kVxlan;
  IpAddress underlay;           // host-gw: the next hop; vxlan, udp: where packets are sent
  std::optional<Mac> vtep_mac;  // vxlan only
  Bytes tunnel_key;             // udp only: the peer's X25519 public key (32 bytes) or empty
  bool operator==(const PeerRoute&) const = default;
};

struct SkippedPeer {
  NodeId owner;
  std::string name;
  Cidr subnet;
  SkipReason reason = SkipReason::kNotOnLink;
  bool operator==(const SkippedPeer&) const = default;
};

// The vxlan device this host needs (in vxlan and auto modes).
struct VxlanDevice {
  std::string name;  // "shoal.<VNI>"
  uint32_t vni = 1;
  uint16_t port = 8472;
  int mtu = 1450;
  std::optional<Cidr> address;  // our subnet's .0/32, once we hold a subnet
  bool operator==(const VxlanDevice&) const = default;
};

// The udp tunnel's TUN device (in udp mode, and auto with Fallback udp): the whole overlay
// network is routed into it; the tunnel picks the peer by the destination's subnet.
struct TunDevice {
  std::string name = kTunDeviceName;
  int mtu = 1440;
  Cidr network;                 // routed into the device
  std::optional<Cidr> address;  // our subnet's .0/32, once we hold a subnet
  bool operator==(const TunDevice&) const = default;
};

struct DatapathPlan {
  DatapathMode mode = DatapathMode::kVxlan;
  int pod_mtu = 1450;  // what subnet.env says
  std::optional<VxlanDevice> vxlan;
  std::optional<TunDevice> tun;
  std::vector<PeerRoute> routes;  // by subnet
  std::vector<SkippedPeer> skipped;
  size_t count(Path path) const;
};

std::string vxlan_device_name(uint32_t vni);

DatapathPlan plan(const lease::Table& table, const lease::Owners& owners, const NodeId& self,
                  WallTime wall, const LocalFacts& facts, const DatapathConfig& config);

// Kernel objects, in the terms the backends install them. Routes carry shoal's route
// protocol; neighbours and FDB entries live on the vxlan device and are permanent.
enum class RouteDevice : uint8_t {
  kUnderlay,  // host-gw: via the peer's underlay address
  kVxlan,     // onlink via the peer's VTEP address
  kTun,       // the whole overlay network into the TUN device, no gateway
};
struct KernelRoute {
  Cidr destination;
  IpAddress gateway;  // host-gw: the peer's underlay address; vxlan: its VTEP; tun: 0.0.0.0
  RouteDevice device = RouteDevice::kUnderlay;
  auto operator<=>(const KernelRoute&) const = default;
};
struct KernelNeighbour {  // peer VTEP address -> VTEP MAC
  IpAddress address;
  Mac mac{};
  auto operator<=>(const KernelNeighbour&) const = default;
};
struct KernelFdbEntry {  // VTEP MAC -> peer underlay address
  Mac mac{};
  IpAddress destination;
  auto operator<=>(const KernelFdbEntry&) const = default;
};
struct KernelState {
  std::set<KernelRoute> routes;
  std::set<KernelNeighbour> neighbours;
  std::set<KernelFdbEntry> fdb;
  bool operator==(const KernelState&) const = default;
};

KernelState desired_state(const DatapathPlan& plan);

// Removals first: an entry that changed (a peer's new underlay address) is removed in its
// old form before it is added in its new one.
struct DatapathDiff {
  KernelState remove;
  KernelState add;
  bool empty() const { return remove == KernelState{} && add == KernelState{}; }
  size_t size() const;
};
DatapathDiff diff(const KernelState& desired, const KernelState& installed);

}  // namespace shoal::node
