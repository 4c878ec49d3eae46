// The udp tunnel's socket: bound to the underlay address and the backend's port, with
// socket buffers forced large (SO_RCVBUFFORCE/SO_SNDBUFFORCE: the defaults drop bursts at
// tunnel rates) and UDP segmentation offload probed: UDP_SEGMENT (send one buffer of equal
// datagrams in one call) and UDP_GRO (receive a train of datagrams of one flow as one).
// What the kernel accepted is reported in UdpOffloads; the tunnel falls back without them.
#pragma once

#include <netinet/udp.h>
#include <sys/socket.h>

#include <string>

#include "common/endpoint.h"
#include "common/fd.h"
#include "common/status.h"

// Older libc headers lack the UDP segmentation options (Linux 4.18 and 5.0).
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

namespace shoal::udp {

struct UdpOffloads {
  bool gso = false;  // UDP_SEGMENT
  bool gro = false;  // UDP_GRO
  int receive_buffer = 0;
  int send_buffer = 0;
  std::string describe() const;
};

struct OpenedSocket {
  Fd fd;  // non-blocking, close-on-exec
  UdpOffloads offloads;
};

Result<OpenedSocket> open_udp(const Endpoint& bind);

// sockaddr conversions for the tunnel's sendmmsg/recvmmsg.
socklen_t to_sockaddr(const Endpoint& endpoint, sockaddr_storage& out);
Endpoint from_sockaddr(const sockaddr_storage& address);

}  // namespace shoal::udp
