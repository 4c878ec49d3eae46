// Netlink is one rtnetlink request socket (libnl-3) and the one place shoal builds and
// parses rtnetlink messages: links, addresses, routes, neighbours and FDB entries, as the
// plain structs below. Everything returns an error text (empty on success) or the data;
// nothing throws. Dumps interrupted by a concurrent change (NLE_DUMP_INTR) are retried.
//
// Messages are built by hand with libnl's nlmsg/nla helpers rather than through libnl's
// object caches: libnl 3.7's vxlan link sends IFLA_VXLAN_PORT with the wrong size, and its
// neighbour add omits NLM_F_CREATE (see DESIGN.md, "Known pitfalls").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/cidr.h"
#include "common/endpoint.h"
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
using Listed = std::variant<std::vector<T>, std::string>;

class Netlink {
 public:
  static std::variant<std::unique_ptr<Netlink>, std::string> open();
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  Listed<LinkInfo> links();
  Listed<AddressInfo> addresses();                // IPv4
  Listed<RouteInfo> routes(uint8_t protocol);     // IPv4, main table, with that protocol only
  Listed<NeighbourInfo> neighbours(int ifindex);  // IPv4 ARP entries on that device
  Listed<NeighbourInfo> fdb(int ifindex);  // FDB entries of that (vxlan) device with a remote

  std::string create_vxlan(const std::string& name, const VxlanAttributes& vxlan, const Mac& mac,
                           int mtu);
  std::string delete_link(int index);
  std::string set_link(int index, bool up, int mtu);  // mtu 0: unchanged
  std::string add_address(int ifindex, const IpAddress& local, uint8_t prefix);
  std::string delete_address(int ifindex, const IpAddress& local, uint8_t prefix);
  // Replaces any route to the same destination in the main table.
  std::string add_route(const Cidr& destination, const IpAddress& gateway, int oif, bool onlink,
                        uint8_t protocol);
  std::string delete_route(const Cidr& destination, uint8_t protocol);
  std::string add_neighbour(int ifindex, const IpAddress& address, const Mac& mac);  // permanent
  std::string delete_neighbour(int ifindex, const IpAddress& address);
  std::string add_fdb(int ifindex, const Mac& mac, const IpAddress& remote);  // permanent
  std::string delete_fdb(int ifindex, const Mac& mac, const IpAddress& remote);

  // The NLE_* code of the last failed call (0 after a success), for "already gone" checks.
  int last_error() const { return last_error_; }

 private:
  explicit Netlink(nl_sock* socket) : socket_(socket) {}
  std::string finish(int code, const std::string& what);

  nl_sock* socket_;
  int last_error_ = 0;
};

// Human text for a libnl error code.
std::string netlink_error(int code);

}  // namespace shoal::backends
