// SystemdNotifier against a real Unix datagram socket, as systemd listens on one.
#include <doctest/doctest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "agent/systemd_notify.h"
#include "common/fd.h"
#include "common/unix_socket.h"
#include "temp_dir.h"

namespace shoal::agent {
namespace {

// systemd's side: a bound datagram socket; next() returns one message or "" after 1 s.
struct Listener {
  Fd socket{::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  explicit Listener(const std::string& path) {
    auto address = unix_address(path);
    REQUIRE(address);
    REQUIRE(::bind(socket.get(), address->get(), address->length) == 0);
  }
  std::string next() {
    pollfd p{socket.get(), POLLIN, 0};
    if (::poll(&p, 1, 1000) != 1) return "";
    char buffer[512];
    const ssize_t n = ::recv(socket.get(), buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
  }
};

TEST_CASE("systemd notify: READY once, STATUS only when it changes, WATCHDOG and STOPPING") {
  test::TempDir dir("shoal-notify");
  Listener systemd(dir.file("notify"));
  auto notifier = SystemdNotifier::to_socket(dir.file("notify"), std::nullopt);
  REQUIRE(notifier);
  CHECK(notifier->enabled());
  CHECK_FALSE(notifier->watchdog_period());
  notifier->status("1 member(s) alive; subnet not yet; backend vxlan");
  notifier->status("1 member(s) alive; subnet not yet; backend vxlan");  // unchanged: not sent
  notifier->ready();
  notifier->ready();  // once
  notifier->status("3 member(s) alive; subnet 198.18.1.0/24; backend vxlan");
  notifier->watchdog();
  notifier->stopping();
  CHECK(systemd.next() == "STATUS=1 member(s) alive; subnet not yet; backend vxlan");
  CHECK(systemd.next() == "READY=1");
  CHECK(systemd.next() == "STATUS=3 member(s) alive; subnet 198.18.1.0/24; backend vxlan");
  CHECK(systemd.next() == "WATCHDOG=1");
  CHECK(systemd.next() == "STOPPING=1");
  CHECK(systemd.next().empty());
}

TEST_CASE("systemd notify: an abstract socket ('@' in NOTIFY_SOCKET)") {
  const std::string name = "@shoal-test-notify-" + std::to_string(::getpid());
  Listener systemd(name);
  auto notifier = SystemdNotifier::to_socket(name, std::chrono::seconds(10));
  REQUIRE(notifier);
  REQUIRE(notifier->watchdog_period());
  CHECK(*notifier->watchdog_period() == std::chrono::seconds(5));  // half of WatchdogSec
  notifier->ready();
  CHECK(systemd.next() == "READY=1");
}

TEST_CASE("systemd notify: from the environment, and nothing outside systemd") {
  test::TempDir dir("shoal-notify");
  Listener systemd(dir.file("notify"));
  ::setenv("NOTIFY_SOCKET", dir.file("notify").c_str(), 1);
  ::setenv("WATCHDOG_USEC", "4000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  SystemdNotifier notifier = SystemdNotifier::from_environment();
  CHECK(notifier.enabled());
  REQUIRE(notifier.watchdog_period());
  CHECK(*notifier.watchdog_period() == std::chrono::seconds(2));
  notifier.ready();
  CHECK(systemd.next() == "READY=1");

  ::setenv("WATCHDOG_PID", "1", 1);  // the watchdog is for another process
  CHECK_FALSE(SystemdNotifier::from_environment().watchdog_period());
  ::setenv("WATCHDOG_USEC", "soon", 1);  // garbage: no watchdog, no crash
  ::unsetenv("WATCHDOG_PID");
  CHECK_FALSE(SystemdNotifier::from_environment().watchdog_period());

  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  SystemdNotifier outside = SystemdNotifier::from_environment();
  CHECK_FALSE(outside.enabled());
  outside.ready();  // does nothing, and does not fail
  CHECK(systemd.next().empty());
}

TEST_CASE("unix_address: refuses empty and too-long paths, never truncates") {
  CHECK_FALSE(unix_address(""));
  CHECK_FALSE(unix_address("@"));
  CHECK_FALSE(unix_address("/tmp/" + std::string(200, 'x')));
  auto file = unix_address("/run/shoal/control.sock");
  REQUIRE(file);
  CHECK(std::string(file->addr.sun_path) == "/run/shoal/control.sock");
  auto abstract = unix_address("@name");
  REQUIRE(abstract);
  CHECK(abstract->addr.sun_path[0] == '\0');
  CHECK(abstract->length == offsetof(sockaddr_un, sun_path) + 5);
}

}  // namespace
}  // namespace shoal::agent
