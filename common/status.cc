#include "common/status.h"

#include <cstring>

namespace shoal {

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
