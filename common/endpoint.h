// IpAddress is an IPv4 or IPv6 address; Endpoint is an address and a UDP/TCP port. Plain
// values: comparable, hashable, printable, and parsed from text without throwing.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"

namespace shoal {

class IpAddress {
 public:
  enum class Family : uint8_t { kV4 = 4, kV6 = 6 };

  IpAddress() = default;  // 0.0.0.0
  static IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
  static IpAddress v4(uint32_t host_order);
  static IpAddress v6(const std::array<uint8_t, 16>& bytes);
  // "192.0.2.1" or "2001:db8::1"; nullopt when not an address.
  static std::optional<IpAddress> parse(std::string_view text);
  // 4 bytes (IPv4) or 16 bytes (IPv6), network order; nullopt for any other length.
  static std::optional<IpAddress> from_bytes(ByteView bytes);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::kV4; }
  // The address bytes in network order: 4 or 16 of them.
  ByteView view() const { return {bytes_.data(), is_v4() ? size_t{4} : size_t{16}}; }
  uint32_t v4_host_order() const;
  std::string to_string() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  Family family_ = Family::kV4;
  std::array<uint8_t, 16> bytes_{};  // IPv4 uses the first 4
};

struct Endpoint {
  IpAddress address;
  uint16_t port = 0;

  // "192.0.2.1:7946" or "[2001:db8::1]:7946"; nullopt when malformed.
  static std::optional<Endpoint> parse(std::string_view text);
  std::string to_string() const;

  auto operator<=>(const Endpoint&) const = default;
};

}  // namespace shoal

template <>
struct std::hash<shoal::IpAddress> {
  size_t operator()(const shoal::IpAddress& a) const noexcept {
    size_t h = 1469598103934665603ULL;
    for (uint8_t b : a.view()) h = (h ^ b) * 1099511628211ULL;
    return h;
  }
};
template <>
struct std::hash<shoal::Endpoint> {
  size_t operator()(const shoal::Endpoint& e) const noexcept {
    return std::hash<shoal::IpAddress>()(e.address) * 31 + e.port;
  }
};
