// Endpoints the unit tests use: only documentation ranges (192.0.2.0/24 for a LAN,
// 203.0.113.0/24 for the outside of a NAT), as the project's network hygiene asks.
#pragma once

#include <cstdint>

#include "common/endpoint.h"

namespace shoal::testing {

inline Endpoint ep(uint8_t host, uint16_t port = 7946) {
  return Endpoint{IpAddress::v4(192, 0, 2, host), port};
}
inline Endpoint outside(uint8_t host, uint16_t port) {
  return Endpoint{IpAddress::v4(203, 0, 113, host), port};
}

}  // namespace shoal::testing
