#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmath>
#include <string>
#include <thread>

#include "agent/metrics.h"
#include "agent/metrics_http.h"
#include "agent/metrics_server.h"
#include "dies.h"

using namespace shoal;
using namespace shoal::agent;

namespace {

// One request over a plain blocking socket: sends `request`, reads until the server closes.
std::string http_exchange(uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) reply.append(buf, n);
  }
  ::close(fd);
  return reply;
}

std::string status_line(const std::string& reply) { return reply.substr(0, reply.find("\r\n")); }
std::string body(const std::string& reply) {
  size_t end = reply.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : reply.substr(end + 4);
}

}  // namespace

TEST_CASE("metrics: render is the exact text exposition format, sorted and escaped") {
  Metrics m;
  m.counter("shoal_packets_dropped_total", "Packets dropped.", {{"reason", "bad_auth"}}).inc(3);
  m.counter("shoal_packets_dropped_total", "Packets dropped.", {{"reason", "decode"}}).inc();
  // Registering again returns the same series.
  m.counter("shoal_packets_dropped_total", "Packets dropped.", {{"reason", "bad_auth"}}).inc(2);
  m.counter("shoal_gossip_packets_total", "Back\\slash and\nnewline \"quoted\".").inc(7);
  m.gauge("shoal_lease_subnets", "Subnets.", {{"site", "a\"b\\c\nd"}, {"kind", "own"}}).set(1.5);
  int members = 4;
  m.gauge_fn("shoal_members", "", {{"state", "alive"}}, [&] { return double(members); });
  m.gauge_fn("shoal_members", "", {{"state", "dead"}}, [] { return INFINITY; });
  members = 5;  // computed at render time

  CHECK(m.render() ==
        "# HELP shoal_gossip_packets_total Back\\\\slash and\\nnewline \"quoted\".\n"
        "# TYPE shoal_gossip_packets_total counter\n"
        "shoal_gossip_packets_total 7\n"
        "# HELP shoal_lease_subnets Subnets.\n"
        "# TYPE shoal_lease_subnets gauge\n"
        "shoal_lease_subnets{kind=\"own\",site=\"a\\\"b\\\\c\\nd\"} 1.5\n"
        "# TYPE shoal_members gauge\n"
        "shoal_members{state=\"alive\"} 5\n"
        "shoal_members{state=\"dead\"} +Inf\n"
        "# HELP shoal_packets_dropped_total Packets dropped.\n"
        "# TYPE shoal_packets_dropped_total counter\n"
        "shoal_packets_dropped_total{reason=\"bad_auth\"} 5\n"
        "shoal_packets_dropped_total{reason=\"decode\"} 1\n");
  CHECK(Metrics().render().empty());
}

TEST_CASE("metrics: bad names and conflicting registrations are refused") {
  Metrics m;
  CHECK(shoal::test::dies([&] { (void)m.counter("", "h"); }));
  CHECK(shoal::test::dies([&] { (void)m.counter("1abc", "h"); }));
  CHECK(shoal::test::dies([&] { (void)m.gauge("shoal-members", "h"); }));
  CHECK(shoal::test::dies([&] { (void)m.counter("ok_total", "h", {{"bad-label", "x"}}); }));
  CHECK(shoal::test::dies([&] { (void)m.counter("ok_total", "h", {{"__reserved", "x"}}); }));
  CHECK(shoal::test::dies([&] { (void)m.counter("ok_total", "h", {{"a", "1"}, {"a", "2"}}); }));
  CHECK(m.render().empty());  // refused registrations leave nothing behind

  m.counter("ns:ok_total", "h");
  CHECK(shoal::test::dies([&] { (void)m.gauge("ns:ok_total", "h"); }));        // other type
  CHECK(shoal::test::dies([&] { (void)m.counter("ns:ok_total", "other"); }));  // other help
  m.gauge_fn("g", "h", {}, [] { return 1.0; });
  CHECK(shoal::test::dies([&] { (void)m.gauge_fn("g", "h", {}, [] { return 2.0; }); }));
  CHECK(shoal::test::dies([&] { (void)m.gauge("g", "h"); }));  // that series is computed
  CHECK(shoal::test::dies([&] { (void)m.gauge_fn("g2", "h", {}, nullptr); }));
}

TEST_CASE("metrics: HTTP answers by method, path and well-formedness") {
  int renders = 0;
  auto render = [&] {
    ++renders;
    return std::string("up 1\n");
  };
  auto get = metrics_http_exchange("GET /metrics?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", render);
  CHECK(get ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
        "Content-Length: 5\r\nConnection: close\r\n\r\nup 1\n");
  auto head = metrics_http_exchange("HEAD /metrics HTTP/1.0\r\n\r\n", render);
  CHECK(head.find("Content-Length: 5\r\n") != std::string::npos);
  CHECK(head.ends_with("\r\n\r\n"));
  CHECK(renders == 2);

  CHECK(status_line(metrics_http_exchange("GET / HTTP/1.1\r\n\r\n", render)) == "HTTP/1.1 200 OK");
  CHECK(status_line(metrics_http_exchange("GET /nope HTTP/1.1\r\n\r\n", render)) ==
        "HTTP/1.1 404 Not Found");
  auto post = metrics_http_exchange("POST /metrics HTTP/1.1\r\n\r\n", render);
  CHECK(status_line(post) == "HTTP/1.1 405 Method Not Allowed");
  CHECK(post.find("Allow: GET, HEAD\r\n") != std::string::npos);
  for (const char* bad :
       {"garbage\r\n\r\n", "GET /metrics\r\n\r\n", "GET metrics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/2\r\n\r\n", "GET  /metrics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nNoColon\r\n\r\n", "GET /metrics HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nA: b\x01\r\n\r\n", "GET /metrics HTTP/1.1\r\n"}) {
    CAPTURE(bad);
    CHECK(status_line(metrics_http_exchange(bad, render)) == "HTTP/1.1 400 Bad Request");
  }
  // Obsolete line folding is read as a space, as RFC 9112 lets a server do (Beast does).
  CHECK(status_line(metrics_http_exchange("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", render)) ==
        "HTTP/1.1 200 OK");
  // A head over 8 KiB, and a body a POST announces, are never read.
  CHECK(metrics_http_exchange("GET / HTTP/1.1\r\nA: " + std::string(9000, 'x') + "\r\n\r\n", render)
            .find("larger than 8 KiB") != std::string::npos);
  CHECK(status_line(metrics_http_exchange("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
                                          render)) == "HTTP/1.1 405 Method Not Allowed");
  CHECK(renders == 2);
}

TEST_CASE("metrics: the server answers real HTTP on loopback") {
  boost::asio::io_context io;
  Metrics metrics;
  metrics.counter("shoal_test_total", "A test counter.").inc(42);
  auto started =
      MetricsServer::start(io, *Endpoint::parse("127.0.0.1:0"), [&] { return metrics.render(); });
  REQUIRE_MESSAGE(started.ok(), started.error().to_string());
  std::unique_ptr<MetricsServer> server = std::move(started).value();
  uint16_t port = server->local_port();
  REQUIRE(port != 0);

  Endpoint taken = *Endpoint::parse("127.0.0.1:" + std::to_string(port));
  auto conflict = MetricsServer::start(io, taken, [] { return std::string(); });
  REQUIRE_FALSE(conflict);
  CHECK(conflict.error().to_string() ==
        "cannot listen for metrics on " + taken.to_string() + ": Address already in use");

  std::thread runner([&] { io.run_for(std::chrono::seconds(30)); });

  auto ok = http_exchange(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
  CHECK(status_line(ok) == "HTTP/1.1 200 OK");
  CHECK(ok.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") != ok.npos);
  CHECK(ok.find("Connection: close\r\n") != ok.npos);
  CHECK(body(ok) ==
        "# HELP shoal_test_total A test counter.\n"
        "# TYPE shoal_test_total counter\n"
        "shoal_test_total 42\n");
  CHECK(status_line(http_exchange(port, "GET /nope HTTP/1.1\r\n\r\n")) == "HTTP/1.1 404 Not Found");
  CHECK(status_line(http_exchange(port, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")) ==
        "HTTP/1.1 405 Method Not Allowed");
  CHECK(status_line(http_exchange(port, "garbage\r\n\r\n")) == "HTTP/1.1 400 Bad Request");
  std::string huge = "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  auto oversized = http_exchange(port, huge);
  CHECK(status_line(oversized) == "HTTP/1.1 400 Bad Request");
  CHECK(body(oversized) == "request head larger than 8 KiB\n");

  boost::asio::post(io, [&] { server.reset(); });  // destroyed on the io thread; run() ends
  runner.join();
  CHECK(server == nullptr);
}
