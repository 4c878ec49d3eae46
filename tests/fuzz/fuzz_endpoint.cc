// Address and endpoint parsing on arbitrary text: no crash, and what parses prints back to
// text that parses to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/endpoint.h"

using namespace shoal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto ip = IpAddress::parse(text)) {
    if (IpAddress::parse(ip->to_string()) != ip) std::abort();
  }
  if (auto e = Endpoint::parse(text)) {
    if (Endpoint::parse(e->to_string()) != e) std::abort();
  }
  return 0;
}
