#include "common/endpoint.h"

#include <algorithm>
#include <charconv>
#include <vector>

namespace shoal {
namespace {

// Parses a decimal number of at most `max_digits` digits that is <= max_value.
std::optional<uint32_t> parse_decimal(std::string_view s, size_t max_digits, uint32_t max_value) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value > max_value) return std::nullopt;
  return value;
}

std::optional<std::array<uint8_t, 4>> parse_v4(std::string_view text) {
  std::array<uint8_t, 4> out{};
  for (size_t i = 0; i < 4; ++i) {
    size_t dot = i < 3 ? text.find('.') : text.size();
    if (dot == std::string_view::npos) return std::nullopt;
    auto part = parse_decimal(text.substr(0, dot), 3, 255);
    // Leading zeros are refused: "010" means octal to some parsers and decimal to others.
    if (!part || (dot > 1 && text[0] == '0')) return std::nullopt;
    out[i] = static_cast<uint8_t>(*part);
    text.remove_prefix(std::min(text.size(), dot + (i < 3 ? 1 : 0)));
  }
  if (!text.empty()) return std::nullopt;
  return out;
}

std::optional<std::vector<uint16_t>> parse_v6_groups(std::string_view text) {
  std::vector<uint16_t> groups;
  if (text.empty()) return groups;
  while (true) {
    size_t colon = text.find(':');
    std::string_view part = text.substr(0, colon);
    if (part.empty() || part.size() > 4) return std::nullopt;
    uint16_t value = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value, 16);
    if (ec != std::errc() || end != part.data() + part.size()) return std::nullopt;
    groups.push_back(value);
    if (groups.size() > 8) return std::nullopt;
    if (colon == std::string_view::npos) return groups;
    text.remove_prefix(colon + 1);
  }
}

std::optional<std::array<uint8_t, 16>> parse_v6(std::string_view text) {
  if (text.size() > 39) return std::nullopt;
  size_t gap = text.find("::");
  std::optional<std::vector<uint16_t>> head, tail;
  if (gap == std::string_view::npos) {
    head = parse_v6_groups(text);
    tail = std::vector<uint16_t>{};
    if (!head || head->size() != 8) return std::nullopt;
  } else {
    head = parse_v6_groups(text.substr(0, gap));
    tail = parse_v6_groups(text.substr(gap + 2));
    if (!head || !tail || head->size() + tail->size() > 7) return std::nullopt;
  }
  std::array<uint8_t, 16> out{};
  auto put = [&](size_t index, uint16_t g) {
    out[2 * index] = static_cast<uint8_t>(g >> 8);
    out[2 * index + 1] = static_cast<uint8_t>(g);
  };
  for (size_t i = 0; i < head->size(); ++i) put(i, (*head)[i]);
  for (size_t i = 0; i < tail->size(); ++i) put(8 - tail->size() + i, (*tail)[i]);
  return out;
}

}  // namespace

IpAddress IpAddress::v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress ip;
  ip.bytes_[0] = a;
  ip.bytes_[1] = b;
  ip.bytes_[2] = c;
  ip.bytes_[3] = d;
  return ip;
}

IpAddress IpAddress::v4(uint32_t host_order) {
  return v4(static_cast<uint8_t>(host_order >> 24), static_cast<uint8_t>(host_order >> 16),
            static_cast<uint8_t>(host_order >> 8), static_cast<uint8_t>(host_order));
}

IpAddress IpAddress::v6(const std::array<uint8_t, 16>& bytes) {
  IpAddress ip;
  ip.family_ = Family::kV6;
  ip.bytes_ = bytes;
  return ip;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    if (auto b = parse_v6(text)) return v6(*b);
    return std::nullopt;
  }
  if (auto b = parse_v4(text)) return v4((*b)[0], (*b)[1], (*b)[2], (*b)[3]);
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::from_bytes(ByteView bytes) {
  if (bytes.size() == 4) return v4(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (bytes.size() == 16) {
    std::array<uint8_t, 16> b;
    std::copy(bytes.begin(), bytes.end(), b.begin());
    return v6(b);
  }
  return std::nullopt;
}

uint32_t IpAddress::v4_host_order() const {
  return uint32_t{bytes_[0]} << 24 | uint32_t{bytes_[1]} << 16 | uint32_t{bytes_[2]} << 8 |
         bytes_[3];
}

std::string IpAddress::to_string() const {
  if (is_v4()) {
    return std::to_string(bytes_[0]) + "." + std::to_string(bytes_[1]) + "." +
           std::to_string(bytes_[2]) + "." + std::to_string(bytes_[3]);
  }
  // RFC 5952: lower case, the longest run (>= 2) of zero groups becomes "::".
  uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = static_cast<uint16_t>(bytes_[2 * i] << 8 | bytes_[2 * i + 1]);
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) best = i, best_len = j - i;
    i = j == i ? i + 1 : j;
  }
  std::string out;
  char buf[8];
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), g[i], 16);
    out.append(buf, end);
  }
  return out;
}

std::optional<Endpoint> Endpoint::parse(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (host.find(':') == std::string_view::npos) return std::nullopt;
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // IPv6 needs brackets
  }
  auto address = IpAddress::parse(host);
  auto port_number = parse_decimal(port, 5, 65535);
  if (!address || !port_number) return std::nullopt;
  return Endpoint{*address, static_cast<uint16_t>(*port_number)};
}

std::string Endpoint::to_string() const {
  if (address.is_v4()) return address.to_string() + ":" + std::to_string(port);
  return "[" + address.to_string() + "]:" + std::to_string(port);
}

}  // namespace shoal
