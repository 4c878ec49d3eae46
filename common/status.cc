#include "common/status.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace shoal {

void precondition_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "precondition failed: %s (%s:%d)\n", what, file, line);
  std::abort();
}

Status errno_status(std::string_view what, int error) {
  std::string message = std::string(what) + ": " + std::strerror(error);
  switch (error) {
    case ENOENT:
    case ENODEV:
      return Status::not_found(std::move(message));
    case EAGAIN:
    case EBUSY:
    case EMFILE:
    case ENFILE:
      return Status::unavailable(std::move(message));
    case EOPNOTSUPP:
    case ENOSYS:
      return Status::unsupported(std::move(message));
    default:
      return Status::io_error(std::move(message));
  }
}

}  // namespace shoal
