// Netlink is one rtnetlink request socket (libnl-3) and the one place shoal builds and
// parses rtnetlink messages: links, addresses, routes, neighbours and FDB entries, as the
// plain structs below. Everything returns a Status or a Result (an object that is not there
// is Status::Code::kNotFound, so a delete can tell "already gone"); nothing throws. Dumps
// interrupted by a concurrent change (NLE_DUMP_INTR) are retried.
//
// Messages are built by hand with libnl's nlmsg/nla helpers rather than through libnl's
// object caches: libnl 3.7's vxlan link sends IFLA_VXLAN_PORT with the wrong size, and its
// neighbour add omits NLM_F_CREATE (see DESIGN.md, "Known pitfalls").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "common/endpoint.h"
#include "common/status.h"
#include "node/backend_data.h"

struct nl_sock;

namespace shoal::backends {

using node::Mac;

struct VxlanAttributes {
  uint32_t vni = 0;
  uint16_t port = 0;
  IpAddress local;
  int link = 0;  // the underlay device's index
  bool learning = true;
  bool operator==(const VxlanAttributes&) const = default;
};

struct LinkInfo {
  int index = 0;
  std::string name;
  int mtu = 0;
  std::optional<Mac> mac;
  bool up = false;
  std::string kind;  // "vxlan", "veth", ...; empty for plain devices
  std::optional<VxlanAttributes> vxlan;
};

struct AddressInfo {
  int ifindex = 0;
  IpAddress local;
  uint8_t prefix = 0;
};

struct RouteInfo {
  Cidr destination;
  IpAddress gateway;  // 0.0.0.0 when none
  int oif = 0;
  uint8_t protocol = 0;
  uint32_t table = 0;
};

struct NeighbourInfo {  // an ARP entry (AF_INET) or an FDB entry (AF_BRIDGE)
  int ifindex = 0;
  IpAddress destination;  // FDB: the remote VTEP
  std::optional<Mac> mac;
  uint16_t state = 0;
};

template <typename T>
using Listed = Result<std::vector<T>>;

class Netlink {
 public:
  static Result<std::unique_ptr<Netlink>> open();
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  Listed<LinkInfo> links();
  Listed<AddressInfo> addresses();                // IPv4
  Listed<RouteInfo> routes(uint8_t protocol);     // IPv4, main table, with that protocol only
  Listed<NeighbourInfo> neighbours(int ifindex);  // IPv4 ARP entries on that device
  Listed<NeighbourInfo> fdb(int ifindex);  // FDB entries of that (vxlan) device with a remote

  Status create_vxlan(const std::string& name, const VxlanAttributes& vxlan, const Mac& mac,
                      int mtu);
  Status delete_link(int index);
  Status set_link(int index, bool up, int mtu);  // mtu 0: unchanged
  Status add_address(int ifindex, const IpAddress& local, uint8_t prefix);
  Status delete_address(int ifindex, const IpAddress& local, uint8_t prefix);
  // Replaces any route to the same destination in the main table.
  Status add_route(const Cidr& destination, const IpAddress& gateway, int oif, bool onlink,
                   uint8_t protocol);
  Status delete_route(const Cidr& destination, uint8_t protocol);
  Status add_neighbour(int ifindex, const IpAddress& address, const Mac& mac);  // permanent
  Status delete_neighbour(int ifindex, const IpAddress& address);
  Status add_fdb(int ifindex, const Mac& mac, const IpAddress& remote);  // permanent
  Status delete_fdb(int ifindex, const Mac& mac, const IpAddress& remote);

  // Dump requests made so far (links(), addresses(), ...): what a reconcile costs the kernel.
  uint64_t dumps() const { return dumps_; }

 private:
  explicit Netlink(nl_sock* socket) : socket_(socket) {}
  Status finish(int code, const std::string& what);

  nl_sock* socket_;
  uint64_t dumps_ = 0;
};

// Human text for a libnl error code.
std::string netlink_error(int code);

}  // namespace shoal::backends
