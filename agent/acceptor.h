// Acceptor runs one listening socket's accept loop; the agent's three servers (gossip
// streams, the control socket, metrics) each own one.
//
// Promises: it never spins. After an accept error it waits kAcceptRetry before accepting
// again. When the error is the descriptor limit (EMFILE, ENFILE) it first sheds the
// connection that waits, using a spare descriptor kept for that moment, so the backlog
// drains and clients see a closed connection at once instead of hanging until their own
// timeout. After close() (or destruction) the callback is never called again, even by a
// completion that was already queued.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "agent/asio.h"

namespace shoal::agent {

inline constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

template <class Protocol>  // asio::ip::tcp or asio::local::stream_protocol
class Acceptor {
 public:
  using Socket = typename Protocol::socket;
  using Endpoint = typename Protocol::endpoint;
  using ErrorCode = boost::system::error_code;

  // `what` names the server in the log: "gossip streams", "the control socket", "metrics".
  // `descriptor_errors`, if given, counts accepts that failed for want of descriptors (a
  // metric of the owner's); it must outlive the Acceptor.
  Acceptor(asio::io_context& io, std::string what, uint64_t* descriptor_errors = nullptr);
  ~Acceptor();
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  // Opens and binds (with SO_REUSEADDR for TCP), then listens. The control socket sets
  // its file mode between the two, before anyone can connect.
  ErrorCode bind(const Endpoint& endpoint);
  ErrorCode listen();
  // Accepts until close(), handing every connection to `on_accept`.
  void start(std::function<void(Socket)> on_accept);
  void close();

  Endpoint local_endpoint() const;
  // Connections shed at the descriptor limit.
  uint64_t shed() const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with pending completions, which may outlive us
};

}  // namespace shoal::agent
