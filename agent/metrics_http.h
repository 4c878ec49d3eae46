// The HTTP side of the metrics endpoint, on Boost.Beast: one parsed request head in, the
// whole response out, so the rules MetricsServer promises are tested without sockets. Every
// response is HTTP/1.1 with Content-Length and `Connection: close`.
#pragma once

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace shoal::agent {

inline constexpr size_t kMaxMetricsRequestHead = 8 * 1024;

using MetricsRequestParser = boost::beast::http::request_parser<boost::beast::http::empty_body>;
using MetricsResponse = boost::beast::http::response<boost::beast::http::string_body>;

// A parser with the endpoint's limits: a head of at most kMaxMetricsRequestHead bytes.
void limit_metrics_parser(MetricsRequestParser& parser);

// The answer to a request whose head `parser` has read. render is called only for GET or
// HEAD /metrics. A body the request may announce is never read.
MetricsResponse metrics_http_response(const MetricsRequestParser& parser,
                                      const std::function<std::string()>& render);

// The 400 answer to a head that is malformed, too large or cut short.
MetricsResponse metrics_http_bad_request(std::string_view why);

// The response's bytes on the wire.
std::string serialize(const MetricsResponse& response);

// One raw request head in, the response's bytes out, through the same parser and limits as
// the server: for tests and the fuzz target.
std::string metrics_http_exchange(std::string_view raw, const std::function<std::string()>& render);

}  // namespace shoal::agent
