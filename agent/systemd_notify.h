// SystemdNotifier tells systemd how the agent is doing, for a unit of Type=notify: READY=1
// once the host's subnet is installed and subnet.env written (so containers start after
// the network), STATUS= lines a person reads in `systemctl status`, and WATCHDOG=1 pings
// while the event loop turns. Outside systemd (no NOTIFY_SOCKET) every call does nothing.
//
// This speaks the protocol of sd_notify(3) itself: one datagram to the Unix socket named in
// NOTIFY_SOCKET ('@' for the abstract namespace). That is the whole protocol, it is stable,
// and writing it keeps the static `shoal` free of libsystemd and the libraries it loads.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/fd.h"
#include "common/status.h"
#include "common/unix_socket.h"

namespace shoal::agent {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment.
  static SystemdNotifier from_environment();
  // For tests: a notifier that sends to `socket_path`, with the given watchdog interval.
  static Result<SystemdNotifier> to_socket(const std::string& socket_path,
                                           std::optional<std::chrono::microseconds> watchdog);

  bool enabled() const { return socket_.valid(); }
  // How often to send WATCHDOG=1: half the interval systemd set (WatchdogSec), or none.
  std::optional<std::chrono::milliseconds> watchdog_period() const;

  void ready();                        // READY=1 (once; later calls do nothing)
  void status(std::string_view line);  // STATUS=<line>, only when it changed
  void watchdog();                     // WATCHDOG=1
  void reloading();                    // RELOADING=1 (then ready() again via reloaded())
  void reloaded();                     // READY=1 after a reload
  void stopping();                     // STOPPING=1

 private:
  void send(const std::string& message);

  Fd socket_;
  UnixAddress address_;
  std::optional<std::chrono::microseconds> watchdog_;
  bool ready_sent_ = false;
  std::string last_status_;
};

}  // namespace shoal::agent
