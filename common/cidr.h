// Cidr is an IP prefix ("198.18.0.0/16"): a network address with its host bits zero and a
// prefix length. Values are normalized, so equal prefixes compare equal. IPv4 today; the
// type carries the family so IPv6 claims can be added without changing callers.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/endpoint.h"

namespace shoal {

class Cidr {
 public:
  Cidr() = default;
  // Nullopt unless prefix fits the family and the host bits of `network` are zero.
  static std::optional<Cidr> make(const IpAddress& network, uint8_t prefix);
  // The prefix of that length holding `address` (192.0.2.11 and 24 give 192.0.2.0/24), as
  // an interface address with its prefix length names its network. Nullopt if too long.
  static std::optional<Cidr> containing(const IpAddress& address, uint8_t prefix);
  // "198.18.0.0/16". Nullopt when malformed or when host bits are set ("198.18.0.1/16").
  static std::optional<Cidr> parse(std::string_view text);

  const IpAddress& network() const { return network_; }
  uint8_t prefix() const { return prefix_; }
  uint8_t max_prefix() const { return network_.is_v4() ? 32 : 128; }
  std::string to_string() const;

  bool contains(const IpAddress& ip) const;
  bool contains(const Cidr& other) const;
  bool overlaps(const Cidr& other) const;
  // The address at `offset` from the network address (IPv4 only); nullopt outside.
  std::optional<IpAddress> address_at(uint64_t offset) const;
  // IPv4: how many /`sub_prefix` subnets fit in this prefix (0 if sub_prefix is shorter).
  uint64_t subnet_count(uint8_t sub_prefix) const;
  // IPv4: the index-th /`sub_prefix` subnet inside this prefix; nullopt out of range.
  std::optional<Cidr> subnet(uint8_t sub_prefix, uint64_t index) const;

  auto operator<=>(const Cidr&) const = default;

 private:
  Cidr(const IpAddress& network, uint8_t prefix) : network_(network), prefix_(prefix) {}
  IpAddress network_;
  uint8_t prefix_ = 0;
};

}  // namespace shoal
