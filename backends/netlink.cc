#include "backends/netlink.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include <cstring>
#include <functional>

namespace shoal::backends {
namespace {

constexpr int kDumpAttempts = 5;  // a dump races with concurrent changes; then it is retried

// Attribute readers that check the length first: kernel messages are trusted, but a short
// attribute must not become an out-of-bounds read.
std::optional<uint32_t> get_u32(const nlattr* a) {
  if (a == nullptr || nla_len(a) < 4) return std::nullopt;
  return nla_get_u32(const_cast<nlattr*>(a));
}
std::optional<uint16_t> get_u16(const nlattr* a) {
  if (a == nullptr || nla_len(a) < 2) return std::nullopt;
  return nla_get_u16(const_cast<nlattr*>(a));
}
std::optional<uint8_t> get_u8(const nlattr* a) {
  if (a == nullptr || nla_len(a) < 1) return std::nullopt;
  return nla_get_u8(const_cast<nlattr*>(a));
}
std::optional<IpAddress> get_ip(const nlattr* a) {
  if (a == nullptr) return std::nullopt;
  const auto* data = static_cast<const uint8_t*>(nla_data(a));
  const int len = nla_len(a);
  if (len != 4 && len != 16) return std::nullopt;
  return IpAddress::from_bytes(ByteView(data, static_cast<size_t>(len)));
}
std::optional<Mac> get_mac(const nlattr* a) {
  if (a == nullptr || nla_len(a) != 6) return std::nullopt;
  Mac mac;
  std::memcpy(mac.data(), nla_data(a), 6);
  return mac;
}
std::string get_string(const nlattr* a) {
  if (a == nullptr) return {};
  const auto* data = static_cast<const char*>(nla_data(a));
  return std::string(data, strnlen(data, static_cast<size_t>(nla_len(a))));
}

using Handler = std::function<void(nlmsghdr*)>;

int on_valid(nl_msg* msg, void* arg) {
  (*static_cast<Handler*>(arg))(nlmsg_hdr(msg));
  return NL_OK;
}

// Dumps `type` with `header` as the request's family header; parse() appends to `out`.
template <typename T, typename Header>
Listed<T> dump(nl_sock* socket, int type, const Header& header,
               const std::function<void(nlmsghdr*, std::vector<T>&)>& parse) {
  int code = 0;
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    std::vector<T> out;
    Handler handler = [&](nlmsghdr* h) { parse(h, out); };
    code = nl_send_simple(socket, type, NLM_F_DUMP, const_cast<Header*>(&header), sizeof(header));
    if (code < 0) break;
    nl_cb* cb = nl_cb_alloc(NL_CB_DEFAULT);
    if (cb == nullptr) return Status::io_error("netlink: out of memory");
    nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, &handler);
    code = nl_recvmsgs(socket, cb);
    nl_cb_put(cb);
    if (code >= 0) return out;
    if (code != -NLE_DUMP_INTR) break;
  }
  return Status::io_error("netlink dump failed: " + netlink_error(code));
}

// One request: the family header, then attributes added by `attributes`; waits for the ack.
template <typename Header>
int request(nl_sock* socket, int type, int flags, const Header& header,
            const std::function<void(nl_msg*)>& attributes = {}) {
  nl_msg* msg = nlmsg_alloc_simple(type, flags);
  if (msg == nullptr) return -NLE_NOMEM;
  int code = nlmsg_append(msg, const_cast<Header*>(&header), sizeof(header), NLMSG_ALIGNTO);
  if (code >= 0 && attributes) attributes(msg);
  if (code >= 0) code = nl_send_auto(socket, msg);
  nlmsg_free(msg);
  if (code < 0) return code;
  return nl_wait_for_ack(socket);
}

void put_ip(nl_msg* msg, int type, const IpAddress& ip) {
  const ByteView b = ip.view();
  nla_put(msg, type, static_cast<int>(b.size()), b.data());
}

uint8_t family_of(const IpAddress& ip) { return ip.is_v4() ? AF_INET : AF_INET6; }

}  // namespace

std::string netlink_error(int code) { return std::string(nl_geterror(code < 0 ? -code : code)); }

Result<std::unique_ptr<Netlink>> Netlink::open() {
  nl_sock* socket = nl_socket_alloc();
  if (socket == nullptr) return Status::io_error("netlink: cannot allocate a socket");
  if (int code = nl_connect(socket, NETLINK_ROUTE); code < 0) {
    nl_socket_free(socket);
    return Status::io_error("netlink: cannot open an rtnetlink socket: " + netlink_error(code));
  }
  return std::unique_ptr<Netlink>(new Netlink(socket));
}

Netlink::~Netlink() { nl_socket_free(socket_); }

Status Netlink::finish(int code, const std::string& what) {
  if (code >= 0) return {};
  const int error = -code;
  if (error == NLE_OBJ_NOTFOUND || error == NLE_NODEV)
    return Status::not_found(what + ": " + netlink_error(code));
  if (error == NLE_OPNOTSUPP) return Status::unsupported(what + ": " + netlink_error(code));
  return Status::io_error(what + ": " + netlink_error(code));
}

Listed<LinkInfo> Netlink::links() {
  ++dumps_;
  ifinfomsg header{};
  header.ifi_family = AF_UNSPEC;
  return dump<LinkInfo>(socket_, RTM_GETLINK, header, [](nlmsghdr* h, std::vector<LinkInfo>& out) {
    if (h->nlmsg_type != RTM_NEWLINK) return;
    nlattr* tb[IFLA_MAX + 1];
    if (nlmsg_parse(h, sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) < 0) return;
    const auto* ifi = static_cast<const ifinfomsg*>(nlmsg_data(h));
    LinkInfo link;
    link.index = ifi->ifi_index;
    link.up = (ifi->ifi_flags & IFF_UP) != 0;
    link.name = get_string(tb[IFLA_IFNAME]);
    link.mtu = static_cast<int>(get_u32(tb[IFLA_MTU]).value_or(0));
    link.mac = get_mac(tb[IFLA_ADDRESS]);
    if (tb[IFLA_LINKINFO] != nullptr) {
      nlattr* info[IFLA_INFO_MAX + 1];
      if (nla_parse_nested(info, IFLA_INFO_MAX, tb[IFLA_LINKINFO], nullptr) >= 0) {
        link.kind = get_string(info[IFLA_INFO_KIND]);
        nlattr* vx[IFLA_VXLAN_MAX + 1];
        if (link.kind == "vxlan" && info[IFLA_INFO_DATA] != nullptr &&
            nla_parse_nested(vx, IFLA_VXLAN_MAX, info[IFLA_INFO_DATA], nullptr) >= 0) {
          VxlanAttributes v;
          v.vni = get_u32(vx[IFLA_VXLAN_ID]).value_or(0);
          v.port = ntohs(get_u16(vx[IFLA_VXLAN_PORT]).value_or(0));
          v.local = get_ip(vx[IFLA_VXLAN_LOCAL]).value_or(IpAddress());
          v.link = static_cast<int>(get_u32(vx[IFLA_VXLAN_LINK]).value_or(0));
          v.learning = get_u8(vx[IFLA_VXLAN_LEARNING]).value_or(1) != 0;
          link.vxlan = v;
        }
      }
    }
    out.push_back(std::move(link));
  });
}

Listed<AddressInfo> Netlink::addresses() {
  ++dumps_;
  ifaddrmsg header{};
  header.ifa_family = AF_INET;
  return dump<AddressInfo>(
      socket_, RTM_GETADDR, header, [](nlmsghdr* h, std::vector<AddressInfo>& out) {
        if (h->nlmsg_type != RTM_NEWADDR) return;
        nlattr* tb[IFA_MAX + 1];
        if (nlmsg_parse(h, sizeof(ifaddrmsg), tb, IFA_MAX, nullptr) < 0) return;
        const auto* ifa = static_cast<const ifaddrmsg*>(nlmsg_data(h));
        if (ifa->ifa_family != AF_INET) return;
        auto local = get_ip(tb[IFA_LOCAL] != nullptr ? tb[IFA_LOCAL] : tb[IFA_ADDRESS]);
        if (!local) return;
        out.push_back({static_cast<int>(ifa->ifa_index), *local, ifa->ifa_prefixlen});
      });
}

Listed<RouteInfo> Netlink::routes(uint8_t protocol) {
  ++dumps_;
  rtmsg header{};
  header.rtm_family = AF_INET;
  return dump<RouteInfo>(
      socket_, RTM_GETROUTE, header, [protocol](nlmsghdr* h, std::vector<RouteInfo>& out) {
        if (h->nlmsg_type != RTM_NEWROUTE) return;
        nlattr* tb[RTA_MAX + 1];
        if (nlmsg_parse(h, sizeof(rtmsg), tb, RTA_MAX, nullptr) < 0) return;
        const auto* rt = static_cast<const rtmsg*>(nlmsg_data(h));
        const uint32_t table = get_u32(tb[RTA_TABLE]).value_or(rt->rtm_table);
        if (rt->rtm_family != AF_INET || rt->rtm_protocol != protocol || table != RT_TABLE_MAIN)
          return;
        auto destination = Cidr::make(get_ip(tb[RTA_DST]).value_or(IpAddress()), rt->rtm_dst_len);
        if (!destination) return;
        out.push_back({*destination, get_ip(tb[RTA_GATEWAY]).value_or(IpAddress()),
                       static_cast<int>(get_u32(tb[RTA_OIF]).value_or(0)), rt->rtm_protocol,
                       table});
      });
}

namespace {

Listed<NeighbourInfo> dump_neighbours(nl_sock* socket, uint8_t family, int ifindex) {
  ndmsg header{};
  header.ndm_family = family;
  return dump<NeighbourInfo>(
      socket, RTM_GETNEIGH, header,
      [family, ifindex](nlmsghdr* h, std::vector<NeighbourInfo>& out) {
        if (h->nlmsg_type != RTM_NEWNEIGH) return;
        nlattr* tb[NDA_MAX + 1];
        if (nlmsg_parse(h, sizeof(ndmsg), tb, NDA_MAX, nullptr) < 0) return;
        const auto* nd = static_cast<const ndmsg*>(nlmsg_data(h));
        if (nd->ndm_family != family || nd->ndm_ifindex != ifindex) return;
        auto destination = get_ip(tb[NDA_DST]);
        if (!destination) return;
        out.push_back({nd->ndm_ifindex, *destination, get_mac(tb[NDA_LLADDR]), nd->ndm_state});
      });
}

}  // namespace

Listed<NeighbourInfo> Netlink::neighbours(int ifindex) {
  ++dumps_;
  return dump_neighbours(socket_, AF_INET, ifindex);
}

Listed<NeighbourInfo> Netlink::fdb(int ifindex) {
  ++dumps_;
  return dump_neighbours(socket_, AF_BRIDGE, ifindex);
}

Status Netlink::create_vxlan(const std::string& name, const VxlanAttributes& vxlan, const Mac& mac,
                             int mtu) {
  ifinfomsg header{};
  header.ifi_family = AF_UNSPEC;
  const int code =
      request(socket_, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, header, [&](nl_msg* msg) {
        nla_put_string(msg, IFLA_IFNAME, name.c_str());
        nla_put_u32(msg, IFLA_MTU, static_cast<uint32_t>(mtu));
        nla_put(msg, IFLA_ADDRESS, 6, mac.data());
        nlattr* info = nla_nest_start(msg, IFLA_LINKINFO);
        nla_put_string(msg, IFLA_INFO_KIND, "vxlan");
        nlattr* data = nla_nest_start(msg, IFLA_INFO_DATA);
        nla_put_u32(msg, IFLA_VXLAN_ID, vxlan.vni);
        nla_put_u32(msg, IFLA_VXLAN_LINK, static_cast<uint32_t>(vxlan.link));
        put_ip(msg, vxlan.local.is_v4() ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6, vxlan.local);
        nla_put_u16(msg, IFLA_VXLAN_PORT, htons(vxlan.port));  // network order, 2 bytes
        nla_put_u8(msg, IFLA_VXLAN_LEARNING, vxlan.learning ? 1 : 0);
        nla_nest_end(msg, data);
        nla_nest_end(msg, info);
      });
  return finish(code, "cannot create vxlan device " + name);
}

Status Netlink::delete_link(int index) {
  ifinfomsg header{};
  header.ifi_family = AF_UNSPEC;
  header.ifi_index = index;
  return finish(request(socket_, RTM_DELLINK, 0, header),
                "cannot delete link " + std::to_string(index));
}

Status Netlink::set_link(int index, bool up, int mtu) {
  ifinfomsg header{};
  header.ifi_family = AF_UNSPEC;
  header.ifi_index = index;
  header.ifi_flags = up ? IFF_UP : 0;
  header.ifi_change = IFF_UP;
  const int code = request(socket_, RTM_NEWLINK, 0, header, [&](nl_msg* msg) {
    if (mtu > 0) nla_put_u32(msg, IFLA_MTU, static_cast<uint32_t>(mtu));
  });
  return finish(code, "cannot set link " + std::to_string(index));
}

namespace {

ifaddrmsg address_header(int ifindex, const IpAddress& local, uint8_t prefix) {
  ifaddrmsg header{};
  header.ifa_family = family_of(local);
  header.ifa_prefixlen = prefix;
  header.ifa_scope = RT_SCOPE_UNIVERSE;
  header.ifa_index = static_cast<uint32_t>(ifindex);
  return header;
}

}  // namespace

Status Netlink::add_address(int ifindex, const IpAddress& local, uint8_t prefix) {
  const int code = request(socket_, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE,
                           address_header(ifindex, local, prefix), [&](nl_msg* msg) {
                             put_ip(msg, IFA_LOCAL, local);
                             put_ip(msg, IFA_ADDRESS, local);
                           });
  return finish(code, "cannot add address " + local.to_string());
}

Status Netlink::delete_address(int ifindex, const IpAddress& local, uint8_t prefix) {
  const int code = request(socket_, RTM_DELADDR, 0, address_header(ifindex, local, prefix),
                           [&](nl_msg* msg) { put_ip(msg, IFA_LOCAL, local); });
  return finish(code, "cannot delete address " + local.to_string());
}

Status Netlink::add_route(const Cidr& destination, const IpAddress& gateway, int oif, bool onlink,
                          uint8_t protocol) {
  rtmsg header{};
  header.rtm_family = family_of(destination.network());
  header.rtm_dst_len = destination.prefix();
  header.rtm_table = RT_TABLE_MAIN;
  header.rtm_protocol = protocol;
  // No gateway (0.0.0.0): a device route (the TUN device), scope link.
  const bool device_route = gateway == IpAddress();
  header.rtm_scope = device_route ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  header.rtm_type = RTN_UNICAST;
  header.rtm_flags = onlink ? RTNH_F_ONLINK : 0;
  const int code =
      request(socket_, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, header, [&](nl_msg* msg) {
        put_ip(msg, RTA_DST, destination.network());
        if (!device_route) put_ip(msg, RTA_GATEWAY, gateway);
        nla_put_u32(msg, RTA_OIF, static_cast<uint32_t>(oif));
      });
  return finish(code,
                "cannot add route " + destination.to_string() + " via " + gateway.to_string());
}

Status Netlink::delete_route(const Cidr& destination, uint8_t protocol) {
  rtmsg header{};
  header.rtm_family = family_of(destination.network());
  header.rtm_dst_len = destination.prefix();
  header.rtm_table = RT_TABLE_MAIN;
  header.rtm_protocol = protocol;
  header.rtm_scope = RT_SCOPE_NOWHERE;  // any scope
  const int code = request(socket_, RTM_DELROUTE, 0, header,
                           [&](nl_msg* msg) { put_ip(msg, RTA_DST, destination.network()); });
  return finish(code, "cannot delete route " + destination.to_string());
}

namespace {

ndmsg neighbour_header(uint8_t family, int ifindex, uint16_t state, uint8_t flags) {
  ndmsg header{};
  header.ndm_family = family;
  header.ndm_ifindex = ifindex;
  header.ndm_state = state;
  header.ndm_flags = flags;
  return header;
}

}  // namespace

Status Netlink::add_neighbour(int ifindex, const IpAddress& address, const Mac& mac) {
  // libnl's own neighbour add forgets NLM_F_CREATE; here it is explicit.
  const int code = request(socket_, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE,
                           neighbour_header(AF_INET, ifindex, NUD_PERMANENT, 0), [&](nl_msg* msg) {
                             put_ip(msg, NDA_DST, address);
                             nla_put(msg, NDA_LLADDR, 6, mac.data());
                           });
  return finish(code, "cannot add neighbour " + address.to_string());
}

Status Netlink::delete_neighbour(int ifindex, const IpAddress& address) {
  const int code = request(socket_, RTM_DELNEIGH, 0, neighbour_header(AF_INET, ifindex, 0, 0),
                           [&](nl_msg* msg) { put_ip(msg, NDA_DST, address); });
  return finish(code, "cannot delete neighbour " + address.to_string());
}

Status Netlink::add_fdb(int ifindex, const Mac& mac, const IpAddress& remote) {
  const int code =
      request(socket_, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE,
              neighbour_header(AF_BRIDGE, ifindex, NUD_PERMANENT, NTF_SELF), [&](nl_msg* msg) {
                nla_put(msg, NDA_LLADDR, 6, mac.data());
                put_ip(msg, NDA_DST, remote);
              });
  return finish(code, "cannot add FDB entry " + node::to_string(mac) + " to " + remote.to_string());
}

Status Netlink::delete_fdb(int ifindex, const Mac& mac, const IpAddress& remote) {
  const int code = request(socket_, RTM_DELNEIGH, 0,
                           neighbour_header(AF_BRIDGE, ifindex, 0, NTF_SELF), [&](nl_msg* msg) {
                             nla_put(msg, NDA_LLADDR, 6, mac.data());
                             put_ip(msg, NDA_DST, remote);
                           });
  return finish(code, "cannot delete FDB entry " + node::to_string(mac));
}

}  // namespace shoal::backends
