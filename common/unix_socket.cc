#include "common/unix_socket.h"

#include <cstddef>
#include <cstring>

namespace shoal {

Result<UnixAddress> unix_address(const std::string& path) {
  if (path.empty() || path == "@") return Status::invalid_argument("a Unix socket path is empty");
  if (path.size() > kMaxUnixPath)
    return Status::invalid_argument("Unix socket path " + path + " is " +
                                    std::to_string(path.size()) + " bytes; at most " +
                                    std::to_string(kMaxUnixPath) + " fit");
  UnixAddress a;
  a.addr.sun_family = AF_UNIX;
  std::memcpy(a.addr.sun_path, path.data(), path.size());
  if (path[0] == '@') {
    a.addr.sun_path[0] = '\0';  // abstract: the name is the bytes after the NUL, unterminated
    a.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  } else {
    a.length = static_cast<socklen_t>(sizeof a.addr);
  }
  return a;
}

}  // namespace shoal
