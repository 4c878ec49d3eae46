// Feeds arbitrary bytes as a request head to the metrics endpoint's Beast parser and answer,
// with the server's limits: nothing may crash or trip a sanitizer, and every answer is a
// complete HTTP/1.1 response that closes the connection.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/metrics_http.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  const std::string answer =
      shoal::agent::metrics_http_exchange(raw, [] { return std::string("up 1\n"); });
  if (!answer.starts_with("HTTP/1.1 ")) std::abort();
  if (answer.find("\r\nConnection: close\r\n") == std::string::npos) std::abort();
  if (answer.find("\r\n\r\n") == std::string::npos) std::abort();
  return 0;
}
