// Byte buffers. `Bytes` owns, `ByteView` borrows; untrusted input arrives as a ByteView.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace shoal {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace shoal
