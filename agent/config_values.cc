#include "agent/config_values.h"

#include <algorithm>
#include <charconv>

namespace shoal::agent {

std::optional<Endpoint> parse_endpoint(std::string_view text,
                                       std::optional<uint16_t> default_port) {
  if (auto endpoint = Endpoint::parse(text)) return endpoint;
  if (!default_port) return std::nullopt;
  std::string_view address = text;
  if (address.size() > 2 && address.front() == '[' && address.back() == ']')
    address = address.substr(1, address.size() - 2);
  if (auto ip = IpAddress::parse(address)) return Endpoint{*ip, *default_port};
  return std::nullopt;
}

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
  constexpr int64_t kMaxSeconds = int64_t{10} * 366 * 24 * 3600;  // keeps the sum far from overflow
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  while (!text.empty()) {
    int64_t number = 0;
    const char* begin = text.data();
    const char* end = begin + std::min<size_t>(text.size(), 12);  // 12 digits: no overflow
    auto [stop, ec] = std::from_chars(begin, end, number);
    if (ec != std::errc() || stop == begin || number < 0 || *begin == '+' || *begin == '-')
      return std::nullopt;
    text.remove_prefix(static_cast<size_t>(stop - begin));
    if (text.empty()) return std::nullopt;  // a number without a unit
    int64_t unit = 0;
    switch (text.front()) {
      case 'h':
        unit = 3600;
        break;
      case 'm':
        unit = 60;
        break;
      case 's':
        unit = 1;
        break;
      default:
        return std::nullopt;
    }
    text.remove_prefix(1);
    if (number > kMaxSeconds / unit) return std::nullopt;
    total += number * unit;
    if (total > kMaxSeconds) return std::nullopt;
  }
  return std::chrono::seconds(total);
}

bool is_unspecified(const IpAddress& address) {
  const ByteView bytes = address.view();
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

bool has_control_chars(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char ch) {
    const auto byte = static_cast<unsigned char>(ch);
    return byte < 0x20 || byte == 0x7f;
  });
}

}  // namespace shoal::agent
