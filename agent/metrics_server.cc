#include "agent/metrics_server.h"

#include <array>
#include <chrono>
#include <map>
#include <vector>

#include "agent/metrics_http.h"

namespace shoal::agent {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

constexpr auto kConnectionDeadline = std::chrono::seconds(5);
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
constexpr size_t kMaxConnections = 128;  // at the limit the oldest is closed (see accept)
constexpr size_t kMaxDrainBytes = 64 * 1024;

tcp::endpoint to_asio(const Endpoint& e) {
  asio::ip::address address;
  if (e.address.is_v4()) {
    address = asio::ip::address_v4(e.address.v4_host_order());
  } else {
    asio::ip::address_v6::bytes_type bytes;
    std::copy(e.address.view().begin(), e.address.view().end(), bytes.begin());
    address = asio::ip::address_v6(bytes);
  }
  return {address, e.port};
}

}  // namespace

struct MetricsServer::State {
  State(asio::io_context& io, std::function<std::string()> render_fn)
      : acceptor(io), retry(io), render(std::move(render_fn)) {}
  tcp::acceptor acceptor;
  asio::steady_timer retry;  // after an accept error such as EMFILE, instead of spinning
  std::function<std::string()> render;
  std::map<uint64_t, Connection*> open;  // by age: the first is the oldest
  uint64_t next_id = 0;
};

// One request: read the head (until the deadline), answer, then drain what the client
// still sends until it closes, so closing with unread input does not reset the connection
// before the client has read the answer.
class MetricsServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<State> state, tcp::socket socket)
      : state_(std::move(state)),
        socket_(std::move(socket)),
        deadline_(socket_.get_executor()),
        id_(state_->next_id++) {
    state_->open.emplace(id_, this);
  }
  ~Connection() { state_->open.erase(id_); }

  void start() {
    deadline_.expires_after(kConnectionDeadline);
    deadline_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->close();
    });
    asio::async_read_until(
        socket_, asio::dynamic_buffer(head_, kMaxMetricsRequestHead), "\r\n\r\n",
        [self = shared_from_this()](error_code ec, size_t n) { self->on_head(ec, n); });
  }

  void close() {
    error_code ignored;
    socket_.close(ignored);
    deadline_.cancel();
  }

 private:
  void on_head(error_code ec, size_t n) {
    if (ec == asio::error::not_found) {
      respond(metrics_http_bad_request("request head larger than 8 KiB"));
    } else if (ec == asio::error::eof && !head_.empty()) {
      respond(metrics_http_bad_request("request head ended early"));
    } else if (ec) {
      close();
    } else {
      respond(metrics_http_response(std::string_view(head_).substr(0, n), state_->render));
    }
  }

  void respond(std::string response) {
    response_ = std::move(response);
    asio::async_write(socket_, asio::buffer(response_),
                      [self = shared_from_this()](error_code ec, size_t) {
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
  uint64_t id_;
  std::string head_;
  std::string response_;
  std::array<char, 4096> scratch_;
  size_t drained_ = 0;
};

std::variant<std::unique_ptr<MetricsServer>, std::string> MetricsServer::start(
    asio::io_context& io, const Endpoint& bind, std::function<std::string()> render) {
  auto state = std::make_shared<State>(io, std::move(render));
  tcp::endpoint endpoint = to_asio(bind);
  error_code ec;
  state->acceptor.open(endpoint.protocol(), ec);
  if (!ec) state->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) state->acceptor.bind(endpoint, ec);
  if (!ec) state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return "cannot listen for metrics on " + bind.to_string() + ": " + ec.message();
  accept(state);
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(state)));
}

void MetricsServer::accept(const std::shared_ptr<State>& state) {
  state->acceptor.async_accept([state](error_code ec, tcp::socket socket) {
    if (!state->acceptor.is_open()) return;  // the server is gone
    if (ec) {
      state->retry.expires_after(kAcceptRetry);
      state->retry.async_wait([state](error_code wait_ec) {
        if (!wait_ec) accept(state);
      });
      return;
    }
    // Over the limit the oldest connection goes, not the newcomer: a scraper asks at once
    // and is done in milliseconds, so the oldest is a slow or idle client.
    if (state->open.size() >= kMaxConnections) {
      Connection* oldest = state->open.begin()->second;
      state->open.erase(state->open.begin());
      oldest->close();
    }
    std::make_shared<Connection>(state, std::move(socket))->start();
    accept(state);
  });
}

MetricsServer::~MetricsServer() {
  error_code ignored;
  state_->acceptor.close(ignored);
  state_->retry.cancel();
  std::vector<Connection*> open;
  for (const auto& [id, c] : state_->open) open.push_back(c);
  for (Connection* c : open) c->close();
}

uint16_t MetricsServer::local_port() const {
  error_code ec;
  return state_->acceptor.local_endpoint(ec).port();
}

}  // namespace shoal::agent
