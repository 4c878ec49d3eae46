#include "agent/metrics_http.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

namespace shoal::agent {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kTextType = "text/plain; charset=utf-8";

// Content-Length is the body's size even for HEAD, whose body is then left out.
MetricsResponse response(http::status status, std::string_view type, std::string body,
                         bool with_body) {
  MetricsResponse out{status, 11};
  out.set(http::field::content_type, std::string(type));
  out.content_length(body.size());
  out.set(http::field::connection, "close");
  if (with_body) out.body() = std::move(body);
  return out;
}

}  // namespace

void limit_metrics_parser(MetricsRequestParser& parser) {
  parser.header_limit(static_cast<std::uint32_t>(kMaxMetricsRequestHead));
  // The body is never read (a POST gets its 405), but one announced past this is refused.
  parser.body_limit(64 * 1024);
}

MetricsResponse metrics_http_bad_request(std::string_view why) {
  return response(http::status::bad_request, kTextType, std::string(why) + "\n", true);
}

MetricsResponse metrics_http_response(const MetricsRequestParser& parser,
                                      const std::function<std::string()>& render) {
  const auto& request = parser.get();
  const std::string_view target(request.target().data(), request.target().size());
  // Beast takes any token as a method and any visible text as a target; the target of a
  // request to this server is a path.
  if (!target.starts_with('/')) return metrics_http_bad_request("malformed HTTP request");
  const bool head_only = request.method() == http::verb::head;
  if (request.method() != http::verb::get && !head_only) {
    MetricsResponse out = response(http::status::method_not_allowed, kTextType,
                                   "only GET and HEAD are served\n", true);
    out.set(http::field::allow, "GET, HEAD");
    return out;
  }
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/metrics") return response(http::status::ok, kMetricsType, render(), !head_only);
  if (path == "/")
    return response(http::status::ok, "text/html; charset=utf-8",
                    "<html><head><title>shoal agent</title></head><body>"
                    "<a href=\"/metrics\">/metrics</a></body></html>\n",
                    !head_only);
  return response(http::status::not_found, kTextType, "not found; metrics are at /metrics\n",
                  !head_only);
}

std::string serialize(const MetricsResponse& response) {
  http::serializer<false, http::string_body> writer(response);
  std::string out;
  boost::beast::error_code ec;
  while (!ec && !writer.is_done()) {
    writer.next(ec, [&](boost::beast::error_code&, const auto& buffers) {
      for (const auto& b : buffers) out.append(static_cast<const char*>(b.data()), b.size());
      writer.consume(boost::asio::buffer_size(buffers));
    });
  }
  return out;
}

std::string metrics_http_exchange(std::string_view raw,
                                  const std::function<std::string()>& render) {
  MetricsRequestParser parser;
  limit_metrics_parser(parser);
  boost::beast::error_code ec;
  while (!raw.empty() && !parser.is_header_done()) {
    const size_t used = parser.put(boost::asio::buffer(raw.data(), raw.size()), ec);
    if (ec && ec != http::error::need_more) break;
    if (used == 0) break;
    raw.remove_prefix(used);
    ec = {};
  }
  if (parser.is_header_done()) return serialize(metrics_http_response(parser, render));
  if (ec == http::error::header_limit)
    return serialize(metrics_http_bad_request("request head larger than 8 KiB"));
  if (!ec || ec == http::error::need_more)
    return serialize(metrics_http_bad_request("request head ended early"));
  return serialize(metrics_http_bad_request("malformed HTTP request"));
}

}  // namespace shoal::agent
