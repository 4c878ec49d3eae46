// MetricsServer answers Prometheus scrapes over HTTP/1.1 (Boost.Beast) on `--metrics-addr`: `GET
// /metrics` returns what the render function produces (text format 0.0.4), `GET /` a pointer to
// /metrics, anything else 404, methods other than GET and HEAD 405, a malformed request
// head or one over 8 KiB 400. One request per connection (`Connection: close`); a client
// gets 5 s from connecting to finish its request, and at most kMaxConnections are open at
// once (then the oldest is closed to admit a new one, see connection_tracker.h), so a slow
// or hostile scraper costs little.
//
// Runs on the caller's io_context; render is called on that thread. Create, use and destroy
// the server on that thread, and destroy it before the io_context. Destruction stops
// accepting and closes open connections.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "agent/asio.h"
#include "common/endpoint.h"
#include "common/status.h"

namespace shoal::agent {

class MetricsServer {
 public:
  static constexpr size_t kMaxConnections = 128;

  // Listens on `bind` (port 0: an ephemeral port, see local_port()). The error names the
  // address: "cannot listen for metrics on 192.0.2.1:9100: Address already in use".
  static Result<std::unique_ptr<MetricsServer>> start(boost::asio::io_context& io,
                                                      const Endpoint& bind,
                                                      std::function<std::string()> render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  uint16_t local_port() const;

 private:
  struct State;
  class Connection;
  explicit MetricsServer(std::shared_ptr<State> state) : state_(std::move(state)) {}
  static void accept(const std::shared_ptr<State>& state);

  std::shared_ptr<State> state_;
};

}  // namespace shoal::agent
