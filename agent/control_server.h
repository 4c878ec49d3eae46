// The agent's control socket: a Unix stream socket where the `shoal` command asks for
// members, leases and status, or tells the agent to leave, forget a node or change keys.
//
// One request per connection: read one frame (5 s at most), call the handler on the
// io_context's thread, write its response, close. Malformed, oversized or unknown requests
// get a response with `error` set and are counted in rejected(). At kMaxConnections the
// oldest connection is closed to make room, so slow or idle clients cannot starve quick ones. The
// socket file is mode 0600 in a directory created if missing; a live agent on the same path makes
// start() fail, a stale file left by a crash is replaced. The destructor closes every connection
// and removes the file; call it on the io_context's thread or while the io_context is not running.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "agent/acceptor.h"
#include "agent/asio.h"
#include "common/status.h"
#include "proto/control.pb.h"

namespace shoal::agent {

// Who is asking, from the kernel (SO_PEERCRED) rather than from the request: the fault
// requests are for root and the agent's own user only.
struct ControlCaller {
  bool known = false;  // false: the kernel did not say (then nothing privileged is allowed)
  uint32_t uid = 0;
  int32_t pid = 0;
};

class ControlServer {
 public:
  using Handler =
      std::function<proto::ControlResponse(const proto::ControlRequest&, const ControlCaller&)>;
  static constexpr std::chrono::seconds kReadTimeout{5};
  // At the limit the oldest connection is closed to admit a new one (see accept()).
  static constexpr size_t kMaxConnections = 128;

  // The listening server, or an error naming the path and what to do.
  static Result<std::unique_ptr<ControlServer>> start(boost::asio::io_context& io,
                                                      const std::string& path, Handler handler);

  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  const std::string& path() const { return path_; }
  // Requests answered with an error because they were malformed, too large, too slow or
  // over the connection limit. Safe to read from any thread.
  uint64_t rejected() const;

  struct Shared;  // what connections keep alive (handler, counters)

 private:
  ControlServer(boost::asio::io_context& io, std::string path, Handler handler);
  void accept();

  std::string path_;
  Acceptor<boost::asio::local::stream_protocol> acceptor_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace shoal::agent
