// Boost.Asio for the agent. Include this, never <boost/asio.hpp> directly: Boost 1.74's
// awaitable.hpp uses std::exchange without including <utility>, which GCC 12 in C++20 mode
// does not pull in on its own. (clang-format would sort the two; the order is the point.)
#pragma once

// clang-format off
#include <utility>
#include <boost/asio.hpp>
// clang-format on

#include <algorithm>

#include "common/endpoint.h"

namespace shoal::agent {
namespace asio = boost::asio;

// Our addresses and endpoints and Asio's, both ways (an IPv4-mapped IPv6 address comes back as
// IPv4).
inline asio::ip::address to_asio(const IpAddress& a) {
  if (a.is_v4()) return asio::ip::address_v4(a.v4_host_order());
  asio::ip::address_v6::bytes_type b;
  std::copy(a.view().begin(), a.view().end(), b.begin());
  return asio::ip::address_v6(b);
}
inline IpAddress from_asio(const asio::ip::address& a) {
  if (a.is_v4()) return IpAddress::v4(a.to_v4().to_uint());
  if (a.to_v6().is_v4_mapped()) return IpAddress::v4(a.to_v6().to_v4().to_uint());
  return IpAddress::v6(a.to_v6().to_bytes());
}
// The same for address and port: to_asio<asio::ip::udp>(e), from_asio(socket's endpoint).
template <class Protocol>
typename Protocol::endpoint to_asio(const Endpoint& e) {
  return {to_asio(e.address), e.port};
}
template <class AsioEndpoint>
Endpoint from_asio(const AsioEndpoint& e) {
  return {from_asio(e.address()), e.port()};
}

}  // namespace shoal::agent
