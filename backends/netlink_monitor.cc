#include "backends/netlink_monitor.h"

#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "backends/netlink.h"

namespace shoal::backends {
namespace {

constexpr int kMaxReadsPerDrain = 4096;  // bounded: a flood of events cannot hold the loop
constexpr int kReceiveBuffer = 4 << 20;  // room for a burst (a link flap flushes many routes)

struct Filter {
  int vxlan;
  int underlay;
  uint8_t protocol;
  NetlinkMonitor::Seen* seen;
};

bool watched(const Filter& f, int ifindex) {
  return ifindex != 0 && (ifindex == f.vxlan || ifindex == f.underlay);
}

// Events are not answers to our requests: they carry no sequence number to check.
int accept_any_sequence(nl_msg*, void*) { return NL_OK; }

int on_event(nl_msg* msg, void* arg) {
  const auto& f = *static_cast<Filter*>(arg);
  nlmsghdr* h = nlmsg_hdr(msg);
  ++f.seen->events;
  switch (h->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
      if (nlmsg_datalen(h) >= static_cast<int>(sizeof(ifinfomsg))) {
        const auto* ifi = static_cast<const ifinfomsg*>(nlmsg_data(h));
        // Our device may have been deleted and something else created under its index, or
        // it may be new: any link event for the watched indexes, and every deletion, counts.
        if (watched(f, ifi->ifi_index) || h->nlmsg_type == RTM_DELLINK) f.seen->relevant = true;
      }
      break;
    case RTM_NEWADDR:
    case RTM_DELADDR:
      if (nlmsg_datalen(h) >= static_cast<int>(sizeof(ifaddrmsg))) {
        const auto* ifa = static_cast<const ifaddrmsg*>(nlmsg_data(h));
        if (watched(f, static_cast<int>(ifa->ifa_index))) f.seen->relevant = true;
      }
      break;
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
      if (nlmsg_datalen(h) >= static_cast<int>(sizeof(rtmsg))) {
        const auto* rt = static_cast<const rtmsg*>(nlmsg_data(h));
        if (rt->rtm_protocol == f.protocol) f.seen->relevant = true;
      }
      break;
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH:
      if (nlmsg_datalen(h) >= static_cast<int>(sizeof(ndmsg))) {
        const auto* nd = static_cast<const ndmsg*>(nlmsg_data(h));
        // Only deletions on our device matter: new entries there are ours (learning is off).
        if (nd->ndm_ifindex == f.vxlan && f.vxlan != 0 && h->nlmsg_type == RTM_DELNEIGH)
          f.seen->relevant = true;
      }
      break;
    default:
      break;
  }
  return NL_OK;
}

}  // namespace

Result<std::unique_ptr<NetlinkMonitor>> NetlinkMonitor::open() {
  nl_sock* socket = nl_socket_alloc();
  if (socket == nullptr) return Status::io_error("netlink: cannot allocate a socket");
  nl_socket_disable_seq_check(socket);
  int code = nl_connect(socket, NETLINK_ROUTE);
  if (code >= 0)
    code = nl_socket_add_memberships(socket, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE,
                                     RTNLGRP_NEIGH, 0);
  if (code >= 0) code = nl_socket_set_nonblocking(socket);
  if (code >= 0) code = nl_socket_set_buffer_size(socket, kReceiveBuffer, 0);
  if (code < 0) {
    nl_socket_free(socket);
    return Status::io_error("netlink: cannot listen to kernel events: " + netlink_error(code));
  }
  return std::unique_ptr<NetlinkMonitor>(new NetlinkMonitor(socket));
}

NetlinkMonitor::~NetlinkMonitor() { nl_socket_free(socket_); }

int NetlinkMonitor::fd() const { return nl_socket_get_fd(socket_); }

NetlinkMonitor::Seen NetlinkMonitor::drain(int vxlan, int underlay, uint8_t route_protocol) {
  Seen seen;
  Filter filter{vxlan, underlay, route_protocol, &seen};
  nl_cb* cb = nl_cb_alloc(NL_CB_DEFAULT);
  if (cb == nullptr) {
    seen.error = Status::unavailable("netlink: out of memory");
    return seen;
  }
  nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_event, &filter);
  nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, accept_any_sequence, nullptr);
  for (int i = 0; i < kMaxReadsPerDrain; ++i) {
    const int n = nl_recvmsgs_report(socket_, cb);
    if (n > 0) continue;
    if (n == 0 || n == -NLE_AGAIN) break;
    if (n == -NLE_NOMEM) {  // ENOBUFS: the kernel dropped events for us
      seen.lost = true;
      seen.relevant = true;
      continue;
    }
    seen.error = Status::io_error("netlink events: " + netlink_error(n));
    seen.relevant = true;
    break;
  }
  nl_cb_put(cb);
  return seen;
}

}  // namespace shoal::backends
