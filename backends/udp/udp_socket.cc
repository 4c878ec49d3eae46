#include "backends/udp/udp_socket.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/fd.h"

namespace shoal::udp {

namespace {

constexpr int kBufferBytes = 8 << 20;  // a few ms of traffic at 10 Gbit/s

int buffer_size(int fd, int option) {
  int value = 0;
  socklen_t size = sizeof value;
  ::getsockopt(fd, SOL_SOCKET, option, &value, &size);
  return value;
}

}  // namespace

std::string UdpOffloads::describe() const {
  std::string out = gso ? "gso" : "no-gso";
  out += gro ? " gro" : " no-gro";
  out += " rcvbuf=" + std::to_string(receive_buffer) + " sndbuf=" + std::to_string(send_buffer);
  return out;
}

socklen_t to_sockaddr(const Endpoint& endpoint, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (endpoint.address.is_v4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out);
    in->sin_family = AF_INET;
    in->sin_port = htons(endpoint.port);
    std::memcpy(&in->sin_addr, endpoint.address.view().data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(endpoint.port);
  std::memcpy(&in6->sin6_addr, endpoint.address.view().data(), 16);
  return sizeof(sockaddr_in6);
}

Endpoint from_sockaddr(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    return {*IpAddress::from_bytes({reinterpret_cast<const uint8_t*>(&in->sin_addr), 4}),
            ntohs(in->sin_port)};
  }
  if (address.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    return {*IpAddress::from_bytes({reinterpret_cast<const uint8_t*>(&in6->sin6_addr), 16}),
            ntohs(in6->sin6_port)};
  }
  return {};
}

Result<OpenedSocket> open_udp(const Endpoint& bind) {
  const int family = bind.address.is_v4() ? AF_INET : AF_INET6;
  Fd owned(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!owned.valid()) return errno_status("cannot open a UDP socket");
  const int fd = owned.get();
  sockaddr_storage address{};
  const socklen_t length = to_sockaddr(bind, address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) < 0)
    return errno_status("cannot bind the udp tunnel to " + bind.to_string());
  OpenedSocket out{Fd(), {}};
  // FORCE needs CAP_NET_ADMIN; without it, ask for what the sysctl limits allow.
  const int size = kBufferBytes;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  out.offloads.receive_buffer = buffer_size(fd, SO_RCVBUF);
  out.offloads.send_buffer = buffer_size(fd, SO_SNDBUF);
  // Probe UDP_SEGMENT: setting a socket-wide segment size of 0 (none) succeeds only where the
  // kernel knows the option; the tunnel then passes the size per send in a control message.
  const int zero = 0;
  out.offloads.gso = ::setsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &zero, sizeof zero) == 0;
  const int one = 1;
  out.offloads.gro = ::setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof one) == 0;
  out.fd = std::move(owned);
  return out;
}

}  // namespace shoal::udp
