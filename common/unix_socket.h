// The one builder of Unix socket addresses. A path that starts with '@' names a socket in
// the abstract namespace (as systemd's NOTIFY_SOCKET may); any other path is a file. A path
// that does not fit sun_path is an error that names it, never a truncated address.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <string>

#include "common/status.h"

namespace shoal {

struct UnixAddress {
  sockaddr_un addr{};
  socklen_t length = 0;  // what bind/connect/sendto take: abstract names are not terminated
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&addr); }
};

// Longest path that fits, not counting the terminating NUL.
inline constexpr size_t kMaxUnixPath = sizeof(sockaddr_un::sun_path) - 1;

Result<UnixAddress> unix_address(const std::string& path);

}  // namespace shoal
