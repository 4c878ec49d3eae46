#include "agent/systemd_notify.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace shoal::agent {
namespace {

std::optional<uint64_t> parse_number(const char* text) {
  if (text == nullptr) return std::nullopt;
  uint64_t value = 0;
  const char* end = text + std::strlen(text);
  const auto [ptr, ec] = std::from_chars(text, end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

}  // namespace

Result<SystemdNotifier> SystemdNotifier::to_socket(
    const std::string& socket_path, std::optional<std::chrono::microseconds> watchdog) {
  auto address = unix_address(socket_path);
  if (!address) return address.error().prefixed("NOTIFY_SOCKET");
  SystemdNotifier n;
  n.socket_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!n.socket_.valid()) return errno_status("cannot create the systemd notify socket");
  n.address_ = *address;
  if (watchdog && watchdog->count() > 0) n.watchdog_ = watchdog;
  return n;
}

SystemdNotifier SystemdNotifier::from_environment() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || *path == '\0') return {};
  std::optional<std::chrono::microseconds> watchdog;
  // WATCHDOG_PID, when set, names the process the watchdog is for (not a child we ran).
  const auto pid = parse_number(std::getenv("WATCHDOG_PID"));
  if (const auto usec = parse_number(std::getenv("WATCHDOG_USEC"));
      usec && (!pid || *pid == static_cast<uint64_t>(::getpid())))
    watchdog = std::chrono::microseconds(*usec);
  auto notifier = to_socket(path, watchdog);
  if (!notifier) {
    spdlog::warn("systemd: {}; not notifying", notifier.error().to_string());
    return {};
  }
  return std::move(notifier).value();
}

std::optional<std::chrono::milliseconds> SystemdNotifier::watchdog_period() const {
  if (!enabled() || !watchdog_) return std::nullopt;
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::duration_cast<std::chrono::milliseconds>(*watchdog_ / 2));
}

void SystemdNotifier::ready() {
  if (ready_sent_) return;
  ready_sent_ = true;
  send("READY=1");
}

void SystemdNotifier::status(std::string_view line) {
  if (line == last_status_) return;
  last_status_ = std::string(line);
  send("STATUS=" + last_status_);
}

void SystemdNotifier::watchdog() { send("WATCHDOG=1"); }
void SystemdNotifier::reloading() { send("RELOADING=1"); }
void SystemdNotifier::reloaded() {
  // After a reload during start-up, READY waits for ready(): the subnet is not there yet.
  if (ready_sent_) send("READY=1");
}
void SystemdNotifier::stopping() { send("STOPPING=1"); }

void SystemdNotifier::send(const std::string& message) {
  if (!enabled()) return;
  // A datagram socket: one message, never blocks for long; systemd reads it or it is lost,
  // and a lost status line is not worth stalling the agent for.
  if (::sendto(socket_.get(), message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
               address_.get(), address_.length) < 0) {
    static bool warned = false;
    if (!warned) spdlog::warn("systemd notify socket: {}", std::strerror(errno));
    warned = true;
  }
}

}  // namespace shoal::agent
