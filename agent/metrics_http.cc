#include "agent/metrics_http.h"

#include <algorithm>
#include <optional>

namespace shoal::agent {
namespace {

constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kTextType = "text/plain; charset=utf-8";

// RFC 9110 token characters, for methods and header names.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// Visible ASCII or obs-text, no spaces or controls: what a request target may hold.
bool is_target(std::string_view s) {
  return s.starts_with('/') && std::all_of(s.begin(), s.end(), [](char c) {
           auto u = static_cast<unsigned char>(c);
           return u > 0x20 && u != 0x7f;
         });
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

std::string response(std::string_view status, std::string_view type, const std::string& body,
                     bool with_body, std::string_view extra_headers = {}) {
  std::string out = "HTTP/1.1 ";
  out += status;
  out += "\r\nContent-Type: ";
  out += type;
  out += "\r\nContent-Length: " + std::to_string(body.size());
  out += "\r\nConnection: close\r\n";
  out += extra_headers;
  out += "\r\n";
  if (with_body) out += body;
  return out;
}

struct RequestLine {
  std::string_view method;
  std::string_view path;  // the target without its query
};

// nullopt when the head is not a well-formed HTTP/1.x request head.
std::optional<RequestLine> parse_head(std::string_view head) {
  if (!head.ends_with("\r\n\r\n")) return std::nullopt;
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == line.npos ? line.npos : line.find(' ', sp1 + 1);
  if (sp2 == line.npos) return std::nullopt;
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method) || !is_target(target)) return std::nullopt;
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return std::nullopt;

  std::string_view rest = head.substr(eol + 2, head.size() - eol - 4);  // without final CRLF
  while (!rest.empty()) {
    size_t end = rest.find("\r\n");
    std::string_view field = rest.substr(0, end);
    rest = end == rest.npos ? std::string_view() : rest.substr(end + 2);
    size_t colon = field.find(':');
    // A missing name, a space before the colon or obsolete line folding are all refused.
    if (colon == field.npos || !is_token(field.substr(0, colon)) || has_control(field)) {
      return std::nullopt;
    }
  }
  return RequestLine{method, target.substr(0, target.find('?'))};
}

}  // namespace

std::string metrics_http_bad_request(std::string_view why) {
  return response("400 Bad Request", kTextType, std::string(why) + "\n", true);
}

std::string metrics_http_response(std::string_view head,
                                  const std::function<std::string()>& render) {
  auto request = parse_head(head);
  if (!request) return metrics_http_bad_request("malformed HTTP request");
  bool head_only = request->method == "HEAD";
  if (request->method != "GET" && !head_only) {
    return response("405 Method Not Allowed", kTextType, "only GET and HEAD are served\n", true,
                    "Allow: GET, HEAD\r\n");
  }
  if (request->path == "/metrics") {
    return response("200 OK", kMetricsType, render(), !head_only);
  }
  if (request->path == "/") {
    return response("200 OK", "text/html; charset=utf-8",
                    "<html><head><title>shoal agent</title></head><body>"
                    "<a href=\"/metrics\">/metrics</a></body></html>\n",
                    !head_only);
  }
  return response("404 Not Found", kTextType, "not found; metrics are at /metrics\n", !head_only);
}

}  // namespace shoal::agent
