// The HTTP side of the metrics endpoint as a pure function: one request head in, the whole
// response out, so the rules MetricsServer promises are tested without sockets. Every
// response is HTTP/1.1 with Content-Length and `Connection: close`.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace shoal::agent {

inline constexpr size_t kMaxMetricsRequestHead = 8 * 1024;

// `head` is the request line and headers up to and including the blank line ("\r\n\r\n").
// render is called only for GET or HEAD /metrics.
std::string metrics_http_response(std::string_view head,
                                  const std::function<std::string()>& render);

// The 400 answer for a head that never ended within kMaxMetricsRequestHead bytes.
std::string metrics_http_bad_request(std::string_view why);

}  // namespace shoal::agent
