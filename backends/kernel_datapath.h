// KernelDatapath makes the kernel match a node::DatapathPlan: the vxlan device (created
// with the MAC shoal keeps in its store, learning off, bound to the underlay device and
// address), its address, and per peer a route, and for vxlan peers a permanent neighbour
// and FDB entry. Each reconcile reads what is installed, adds what is missing and removes
// what is stale. It touches only what shoal owns: its own devices (vxlan devices named
// "shoal.<VNI>"; one of another VNI, or any after a switch to host-gw, is removed; the udp
// tunnel's TUN device "shoal0", which the tunnel creates and this gives its MTU, state and
// address, removed after a switch away from udp) and routes
// tagged with kRouteProtocol. A device deleted by hand is recreated and every peer replayed; a
// device with the wrong settings is replaced. Errors are counted and reported, never thrown.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backends/netlink.h"
#include "common/status.h"
#include "node/datapath_plan.h"

namespace shoal::backends {

// shoal's route protocol number (`ip route show proto 83`): not one that iproute2 or a
// routing daemon uses (/etc/iproute2/rt_protos), so shoal never touches routes of others.
inline constexpr uint8_t kRouteProtocol = 83;

enum class ObjectKind { kRoute, kNeighbour, kFdb, kDevice, kAddress };
inline constexpr int kObjectKinds = 5;
std::string_view to_string(ObjectKind kind);

struct ReconcileResult {
  std::array<size_t, kObjectKinds> added{};
  std::array<size_t, kObjectKinds> removed{};
  size_t drift_repaired = 0;  // objects that were in place before and had to be put back
  size_t errors = 0;
  std::vector<Status> first_errors;  // the first few, each naming the object and the call
  size_t changes() const;
};

// The host's links and IPv4 addresses as one read found them.
struct HostLinks {
  std::vector<LinkInfo> links;
  std::vector<AddressInfo> addresses;
};

class KernelDatapath {
 public:
  KernelDatapath(Netlink& netlink, const Mac& vtep_mac, bool tx_checksum_offload = true)
      : netlink_(netlink), vtep_mac_(vtep_mac), tx_checksum_offload_(tx_checksum_offload) {}

  // One read of the host's links and addresses. A reconcile reads them once: the facts the
  // plan needs come from the same read as the devices the reconcile checks.
  Result<HostLinks> read_host();
  // The facts plan() needs about the host whose underlay address is `underlay`.
  Result<node::LocalFacts> gather_facts(const IpAddress& underlay, const HostLinks& host);
  // `host` is read_host()'s answer from just before; the devices it lists are checked, the
  // ones missing created (and listed again for their index).
  ReconcileResult reconcile(const node::DatapathPlan& plan, const node::LocalFacts& facts,
                            const HostLinks& host);
  // Removes everything shoal installed: its routes and the vxlan device `shoal.<vni>`.
  Status remove_all(uint32_t vni);

  // From the last reconcile: the vxlan device's index (0: none) and the underlay's.
  int vxlan_index() const { return vxlan_index_; }
  int tun_index() const { return tun_index_; }
  int underlay_index() const { return underlay_index_; }

 private:
  int ensure_device(const node::VxlanDevice& device, const node::LocalFacts& facts,
                    const HostLinks& host, ReconcileResult& result);
  int ensure_tun(const node::TunDevice& device, const HostLinks& host, ReconcileResult& result);
  void ensure_address(int index, const std::optional<Cidr>& address,
                      const std::vector<AddressInfo>& addresses, ReconcileResult& result);
  void remove_stale_devices(const std::string& keep, bool keep_tun,
                            const std::vector<LinkInfo>& links, ReconcileResult& result);
  void note(ReconcileResult& result, const Status& error);

  Netlink& netlink_;
  Mac vtep_mac_;
  bool tx_checksum_offload_;
  int vxlan_index_ = 0;
  int tun_index_ = 0;
  int underlay_index_ = 0;
  bool device_seen_ = false;
  node::KernelState expected_;  // what the last reconcile left in place
};

// Turns on IPv4 forwarding (net.ipv4.ip_forward), which routing pod traffic needs;
// `turned_on` says whether it was off before.
Status enable_forwarding(bool& turned_on);

}  // namespace shoal::backends
