#include "agent/acceptor.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include "common/fd.h"

namespace shoal::agent {
namespace {

bool out_of_descriptors(const boost::system::error_code& ec) {
  return ec == boost::system::errc::too_many_files_open ||
         ec == boost::system::errc::too_many_files_open_in_system;
}

Fd spare_descriptor() { return Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); }

}  // namespace

template <class Protocol>
struct Acceptor<Protocol>::State : std::enable_shared_from_this<State> {
  State(asio::io_context& io, std::string server, uint64_t* errors_out)
      : acceptor(io),
        retry(io),
        what(std::move(server)),
        spare(spare_descriptor()),
        descriptor_errors(errors_out ? errors_out : &own_errors) {}

  void accept() {
    acceptor.async_accept([self = this->shared_from_this()](const ErrorCode& ec, Socket socket) {
      if (self->closed) return;
      if (ec) return self->after_error(ec);
      self->on_accept(std::move(socket));
      if (!self->closed) self->accept();
    });
  }

  void after_error(const ErrorCode& ec) {
    if (out_of_descriptors(ec)) {
      if ((*descriptor_errors)++ % 100 == 0)
        spdlog::warn(
            "out of file descriptors accepting {} ({} times so far); shedding connections: "
            "raise the limit (LimitNOFILE=, ulimit -n) or find what holds them",
            what, *descriptor_errors);
      shed_one();
    }
    retry.expires_after(kAcceptRetry);
    retry.async_wait([self = this->shared_from_this()](const ErrorCode& e) {
      if (!e && !self->closed) self->accept();
    });
  }

  // Frees the spare descriptor, accepts and closes the connection that waits longest,
  // then takes the spare back.
  void shed_one() {
    if (!spare.valid()) return;
    spare.reset();
    Fd connection(::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC));
    if (connection.valid()) shed_count++;
    connection.reset();
    spare = spare_descriptor();
  }

  typename Protocol::acceptor acceptor;
  asio::steady_timer retry;
  std::string what;
  Fd spare;
  std::function<void(Socket)> on_accept;
  uint64_t own_errors = 0;
  uint64_t* descriptor_errors;
  uint64_t shed_count = 0;
  bool closed = false;
};

template <class Protocol>
Acceptor<Protocol>::Acceptor(asio::io_context& io, std::string what, uint64_t* descriptor_errors)
    : state_(std::make_shared<State>(io, std::move(what), descriptor_errors)) {}

template <class Protocol>
Acceptor<Protocol>::~Acceptor() {
  close();
}

template <class Protocol>
boost::system::error_code Acceptor<Protocol>::bind(const Endpoint& endpoint) {
  ErrorCode ec;
  state_->acceptor.open(endpoint.protocol(), ec);
  if constexpr (std::is_same_v<Protocol, asio::ip::tcp>)
    if (!ec) state_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) state_->acceptor.bind(endpoint, ec);
  return ec;
}

template <class Protocol>
boost::system::error_code Acceptor<Protocol>::listen() {
  ErrorCode ec;
  state_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  return ec;
}

template <class Protocol>
void Acceptor<Protocol>::start(std::function<void(Socket)> on_accept) {
  state_->on_accept = std::move(on_accept);
  state_->accept();
}

template <class Protocol>
void Acceptor<Protocol>::close() {
  if (state_->closed) return;
  state_->closed = true;
  ErrorCode ignored;
  state_->acceptor.close(ignored);
  state_->retry.cancel();
  state_->on_accept = nullptr;  // what it captured (its server) may be going away
  state_->spare.reset();
}

template <class Protocol>
typename Protocol::endpoint Acceptor<Protocol>::local_endpoint() const {
  ErrorCode ignored;
  return state_->acceptor.local_endpoint(ignored);
}

template <class Protocol>
uint64_t Acceptor<Protocol>::shed() const {
  return state_->shed_count;
}

template class Acceptor<asio::ip::tcp>;
template class Acceptor<asio::local::stream_protocol>;

}  // namespace shoal::agent
