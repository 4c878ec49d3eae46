// Acceptor (agent/acceptor.h): hands over connections, stops for good on close(), and at
// the descriptor limit sheds the waiting connection instead of leaving it to hang. The
// limit is reached in a forked child, so the test process keeps its own descriptors.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <vector>

#include "agent/acceptor.h"
#include "common/fd.h"

using namespace shoal;
using namespace shoal::agent;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

const tcp::endpoint kLoopbackAnyPort(asio::ip::address_v4::loopback(), 0);

// A blocking client connection to 127.0.0.1:`port`; invalid if refused.
Fd connect_to(uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) fd.reset();
  return fd;
}

// True once the server closed `fd` (end of stream or reset) within `timeout`.
bool closed_by_peer(const Fd& fd, std::chrono::milliseconds timeout) {
  pollfd p{fd.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  char byte;
  const ssize_t n = ::recv(fd.get(), &byte, 1, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

}  // namespace

TEST_CASE("acceptor: hands every connection over, and nothing after close()") {
  asio::io_context io;
  Acceptor<tcp> acceptor(io, "test connections");
  REQUIRE(!acceptor.bind(kLoopbackAnyPort));
  REQUIRE(!acceptor.listen());
  const uint16_t port = acceptor.local_endpoint().port();
  std::vector<tcp::socket> accepted;
  acceptor.start([&](tcp::socket socket) { accepted.push_back(std::move(socket)); });

  const Fd first = connect_to(port), second = connect_to(port);
  REQUIRE(first.valid());
  REQUIRE(second.valid());
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (accepted.size() < 2 && std::chrono::steady_clock::now() < deadline) io.run_for(10ms);
  CHECK(accepted.size() == 2);
  CHECK(acceptor.shed() == 0);

  acceptor.close();
  CHECK_FALSE(connect_to(port).valid());  // nobody listens any more
  io.restart();
  io.run_for(50ms);  // the cancelled accept completes: it must not call back
  CHECK(accepted.size() == 2);
}

// Under the sanitizers the child, out of descriptors, trips UBSan's vptr check inside Boost's
// error_category (its runtime needs descriptors of its own). The release unit tests and
// e2e.agent_load run this path; here it says it skipped.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

TEST_CASE("acceptor: out of descriptors, the waiting connection is shed, not left to hang" *
          doctest::skip(kSanitized)) {
  int port_pipe[2];
  REQUIRE(::pipe2(port_pipe, O_CLOEXEC) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The server: listen, then use up every descriptor, then serve for at most 5 s.
    ::close(port_pipe[0]);
    asio::io_context io;
    uint64_t errors = 0;
    Acceptor<tcp> acceptor(io, "test connections", &errors);
    if (acceptor.bind(kLoopbackAnyPort) || acceptor.listen()) ::_exit(2);
    acceptor.start([](tcp::socket) { ::_exit(3); });  // nothing can be accepted for real
    const rlimit low{256, 256};
    if (::setrlimit(RLIMIT_NOFILE, &low) != 0) ::_exit(4);
    std::vector<Fd> hog;
    for (int i = 0; i < 256; ++i) {
      Fd fd(::dup(STDIN_FILENO));
      if (!fd.valid()) break;
      hog.push_back(std::move(fd));
    }
    const uint16_t port = acceptor.local_endpoint().port();
    if (::write(port_pipe[1], &port, sizeof port) != sizeof port) ::_exit(5);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (acceptor.shed() == 0 && std::chrono::steady_clock::now() < deadline) io.run_for(10ms);
    ::_exit(acceptor.shed() > 0 && errors > 0 ? 0 : 6);
  }
  ::close(port_pipe[1]);
  uint16_t port = 0;
  const bool got_port = ::read(port_pipe[0], &port, sizeof port) == sizeof port;
  ::close(port_pipe[0]);
  bool shed = false;
  if (got_port) {
    const Fd client = connect_to(port);  // completes in the kernel's backlog
    shed = client.valid() && closed_by_peer(client, 5s);
  }
  int status = 0;
  if (!shed) ::kill(child, SIGKILL);  // ours; do not wait out its own deadline
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(got_port);
  CHECK(shed);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
