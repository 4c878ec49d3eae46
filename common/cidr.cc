#include "common/cidr.h"

#include <charconv>

namespace shoal {
namespace {

uint32_t v4_mask(uint8_t prefix) { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }

bool host_bits_zero(const IpAddress& ip, uint8_t prefix) {
  const ByteView b = ip.view();
  for (size_t bit = prefix; bit < b.size() * 8; ++bit)
    if (b[bit / 8] & (0x80 >> (bit % 8))) return false;
  return true;
}

bool prefix_matches(const IpAddress& a, const IpAddress& b, uint8_t prefix) {
  if (a.family() != b.family()) return false;
  const ByteView x = a.view(), y = b.view();
  for (size_t bit = 0; bit < prefix; ++bit) {
    const uint8_t m = 0x80 >> (bit % 8);
    if ((x[bit / 8] & m) != (y[bit / 8] & m)) return false;
  }
  return true;
}

}  // namespace

std::optional<Cidr> Cidr::make(const IpAddress& network, uint8_t prefix) {
  if (prefix > (network.is_v4() ? 32 : 128)) return std::nullopt;
  if (!host_bits_zero(network, prefix)) return std::nullopt;
  return Cidr(network, prefix);
}

std::optional<Cidr> Cidr::containing(const IpAddress& address, uint8_t prefix) {
  if (prefix > (address.is_v4() ? 32 : 128)) return std::nullopt;
  if (address.is_v4())
    return Cidr(IpAddress::v4(address.v4_host_order() & v4_mask(prefix)), prefix);
  std::array<uint8_t, 16> bytes{};
  const ByteView b = address.view();
  for (size_t bit = 0; bit < prefix; ++bit)
    bytes[bit / 8] |= static_cast<uint8_t>(b[bit / 8] & (0x80 >> (bit % 8)));
  return Cidr(IpAddress::v6(bytes), prefix);
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto ip = IpAddress::parse(text.substr(0, slash));
  const std::string_view len = text.substr(slash + 1);
  unsigned prefix = 0;
  auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), prefix);
  if (!ip || len.empty() || len.size() > 3 || ec != std::errc() || end != len.data() + len.size())
    return std::nullopt;
  if (prefix > 128) return std::nullopt;
  return make(*ip, static_cast<uint8_t>(prefix));
}

std::string Cidr::to_string() const { return network_.to_string() + "/" + std::to_string(prefix_); }

bool Cidr::contains(const IpAddress& ip) const { return prefix_matches(network_, ip, prefix_); }

bool Cidr::contains(const Cidr& other) const {
  return other.prefix_ >= prefix_ && prefix_matches(network_, other.network_, prefix_);
}

bool Cidr::overlaps(const Cidr& other) const { return contains(other) || other.contains(*this); }

std::optional<IpAddress> Cidr::address_at(uint64_t offset) const {
  if (!network_.is_v4() || offset >= (uint64_t{1} << (32 - prefix_))) return std::nullopt;
  return IpAddress::v4(network_.v4_host_order() + static_cast<uint32_t>(offset));
}

uint64_t Cidr::subnet_count(uint8_t sub_prefix) const {
  if (!network_.is_v4() || sub_prefix < prefix_ || sub_prefix > 32) return 0;
  return uint64_t{1} << (sub_prefix - prefix_);
}

std::optional<Cidr> Cidr::subnet(uint8_t sub_prefix, uint64_t index) const {
  if (index >= subnet_count(sub_prefix)) return std::nullopt;
  const uint64_t step = uint64_t{1} << (32 - sub_prefix);
  const uint32_t base = network_.v4_host_order() & v4_mask(prefix_);
  return Cidr(IpAddress::v4(base + static_cast<uint32_t>(index * step)), sub_prefix);
}

}  // namespace shoal
