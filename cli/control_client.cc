#include "cli/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/fd.h"
#include "common/unix_socket.h"
#include "protocol/control_codec.h"

namespace shoal::cli {

namespace {

using Clock = std::chrono::steady_clock;

// Waits until `fd` is ready for `events` or the deadline passes; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return true;  // the read or write reports the error
  }
}

Status unreachable(const std::string& path, int err) {
  std::string hint = "(is `shoal agent` running? --control-socket sets the path)";
  if (err == EACCES || err == EPERM)
    hint = "(the socket is private to the agent's user: try again as that user or with sudo)";
  return Status::unavailable("cannot reach the shoal agent at " + path + ": " + std::strerror(err) +
                             " " + hint);
}

}  // namespace

Result<proto::ControlResponse> call(const std::string& socket_path,
                                    const proto::ControlRequest& request,
                                    std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto address = unix_address(socket_path);
  if (!address) return address.error().prefixed("control socket");
  if (request.ByteSizeLong() > protocol::kMaxControlRequest)
    return Status::invalid_argument("the request is too large to send");

  Fd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (sock.get() < 0) return errno_status("cannot create a Unix socket");
  if (::connect(sock.get(), address->get(), address->length) != 0) {
    // A full backlog makes a non-blocking Unix connect fail with EAGAIN: the agent is busy.
    if (errno == EAGAIN)
      return Status::unavailable("the shoal agent at " + socket_path +
                                 " is too busy to accept; try again");
    return unreachable(socket_path, errno);
  }

  const Status too_slow =
      Status::unavailable("the shoal agent at " + socket_path + " did not answer within " +
                          std::to_string(timeout.count()) + " ms");
  const Bytes frame = protocol::encode_frame(request);
  size_t sent = 0;
  while (sent < frame.size()) {
    if (!wait_for(sock.get(), POLLOUT, deadline)) return too_slow;
    const ssize_t n = ::send(sock.get(), frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) break;  // the agent hung up early; its answer, if any, says why
    sent += static_cast<size_t>(n);
  }

  FrameReader reader(protocol::kMaxControlResponse);
  uint8_t buffer[16 * 1024];
  bool garbled = false;
  for (;;) {
    if (!wait_for(sock.get(), POLLIN, deadline)) return too_slow;
    const ssize_t n = ::recv(sock.get(), buffer, sizeof buffer, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    reader.feed(ByteView(buffer, static_cast<size_t>(n)));
    if (!reader.error().ok()) break;
    if (auto body = reader.next()) {
      if (auto response = protocol::decode_response(*body)) return std::move(*response);
      garbled = true;
      break;
    }
  }
  if (reader.error().ok() && !reader.mid_frame() && !garbled)
    return Status::unavailable(
        "the shoal agent at " + socket_path +
        " closed the connection without answering: it is busy (too many clients at once) or "
        "shutting down; try again");
  return Status::corruption(
      "the shoal agent at " + socket_path +
      " sent an unreadable answer (are `shoal` and the agent the same version?)");
}

namespace {

bool every_live_member_current(const proto::ControlResponse& response) {
  for (const auto& m : response.keys_members())
    if (!m.current() && (m.state() == "alive" || m.state() == "suspect")) return false;
  return true;
}

}  // namespace

bool wait_for_keys(const std::string& socket_path, proto::ControlResponse& response,
                   std::chrono::seconds wait) {
  const auto deadline = Clock::now() + wait;
  proto::ControlRequest list;
  list.mutable_keys_list();
  while (!every_live_member_current(response) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto again = call(socket_path, list, std::chrono::seconds(5));
    if (!again || !again->error().empty()) continue;
    std::string message = response.message();
    response = std::move(again).value();
    response.set_message(std::move(message));
  }
  return every_live_member_current(response);
}

}  // namespace shoal::cli
