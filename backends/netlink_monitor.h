#include "common/status.h"
// NetlinkMonitor listens to the kernel's rtnetlink events (links, addresses, IPv4 routes,
// neighbours) and says whether any of them touched what shoal owns or the underlay link,
// so the agent reconciles at once instead of at the next periodic check. A lost event
// (the socket's buffer overflowed: ENOBUFS, which libnl reports as NLE_NOMEM) is reported
// as `lost`: the caller then does a full resync, which is what every reconcile is anyway.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

struct nl_sock;

namespace shoal::backends {

class NetlinkMonitor {
 public:
  static Result<std::unique_ptr<NetlinkMonitor>> open();
  ~NetlinkMonitor();
  NetlinkMonitor(const NetlinkMonitor&) = delete;
  NetlinkMonitor& operator=(const NetlinkMonitor&) = delete;

  int fd() const;

  struct Seen {
    bool relevant = false;  // an event touched the watched devices or a shoal route
    bool lost = false;      // events were lost: resync
    size_t events = 0;
    Status error;  // ok, or why reading the events failed
  };
  // Reads every pending event without blocking. `vxlan` and `underlay` are device
  // indexes (0: none); routes count when they carry `route_protocol`.
  Seen drain(int vxlan, int underlay, uint8_t route_protocol);

 private:
  explicit NetlinkMonitor(nl_sock* socket) : socket_(socket) {}
  nl_sock* socket_;
};

}  // namespace shoal::backends
