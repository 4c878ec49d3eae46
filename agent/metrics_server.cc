#include "agent/metrics_server.h"

#include <array>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>

#include "agent/acceptor.h"
#include "agent/connection_tracker.h"
#include "agent/metrics_http.h"

namespace shoal::agent {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using boost::system::error_code;

constexpr auto kConnectionDeadline = std::chrono::seconds(5);
constexpr size_t kMaxDrainBytes = 64 * 1024;

}  // namespace

struct MetricsServer::State {
  State(asio::io_context& io, std::function<std::string()> render_fn)
      : acceptor(io, "metrics connections"), render(std::move(render_fn)) {}
  Acceptor<tcp> acceptor;
  std::function<std::string()> render;
  ConnectionTracker<Connection> open{kMaxConnections};
};

// One request: read the head with Beast (until the deadline), answer, then drain what the
// client still sends until it closes, so closing with unread input does not reset the
// connection before the client has read the answer.
class MetricsServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<State> state, tcp::socket socket)
      : state_(std::move(state)),
        socket_(std::move(socket)),
        deadline_(socket_.get_executor()),
        buffer_(kMaxMetricsRequestHead + 1024) {
    limit_metrics_parser(parser_);
  }

  void start() {
    deadline_.expires_after(kConnectionDeadline);
    deadline_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->close();
    });
    http::async_read_header(
        socket_, buffer_, parser_,
        [self = shared_from_this()](error_code ec, size_t) { self->on_head(ec); });
  }

  void close() {
    error_code ignored;
    socket_.close(ignored);
    deadline_.cancel();
  }

 private:
  void on_head(error_code ec) {
    if (!ec) return respond(metrics_http_response(parser_, state_->render));
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
      return respond(metrics_http_bad_request("request head larger than 8 KiB"));
    const bool ended = ec == http::error::end_of_stream || ec == http::error::partial_message ||
                       ec == asio::error::eof;
    if (ended && parser_.got_some())
      return respond(metrics_http_bad_request("request head ended early"));
    if (!ended && ec.category() == http::make_error_code(http::error::bad_method).category())
      return respond(metrics_http_bad_request("malformed HTTP request"));
    close();  // nothing sent, a socket error, or the deadline closed it
  }

  void respond(MetricsResponse response) {
    response_ = std::move(response);
    http::async_write(socket_, response_, [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->close();
      error_code ignored;
      self->socket_.shutdown(tcp::socket::shutdown_send, ignored);
      self->drain();
    });
  }

  void drain() {
    socket_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > kMaxDrainBytes) return self->close();
                              self->drain();
                            });
  }

  std::shared_ptr<State> state_;
  tcp::socket socket_;
  asio::steady_timer deadline_;
  boost::beast::flat_buffer buffer_;
  MetricsRequestParser parser_;
  MetricsResponse response_;
  std::array<char, 4096> scratch_;
  size_t drained_ = 0;
};

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(asio::io_context& io,
                                                            const Endpoint& bind,
                                                            std::function<std::string()> render) {
  auto state = std::make_shared<State>(io, std::move(render));
  const tcp::endpoint endpoint = to_asio<tcp>(bind);
  error_code ec = state->acceptor.bind(endpoint);
  if (!ec) ec = state->acceptor.listen();
  if (ec)
    return Status::io_error("cannot listen for metrics on " + bind.to_string() + ": " +
                            ec.message());
  accept(state);
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(state)));
}

void MetricsServer::accept(const std::shared_ptr<State>& state) {
  // The callback holds the State weakly: the State owns the Acceptor that owns the callback.
  state->acceptor.start([weak = std::weak_ptr<State>(state)](tcp::socket socket) {
    const auto live = weak.lock();
    if (!live) return;
    auto connection = std::make_shared<Connection>(live, std::move(socket));
    live->open.admit(connection);
    connection->start();
  });
}

MetricsServer::~MetricsServer() {
  state_->acceptor.close();
  state_->open.close_all();
}

uint16_t MetricsServer::local_port() const { return state_->acceptor.local_endpoint().port(); }

}  // namespace shoal::agent
