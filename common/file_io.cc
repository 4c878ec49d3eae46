#include "common/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "common/fd.h"

namespace shoal {
namespace {

Status describe(const std::string& what, const std::string& path, int error) {
  return errno_status(what + " " + path, error);
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

Result<std::string> read_file_limited(const std::string& path, size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
  Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (file.get() < 0) return describe("cannot open", path, errno);
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) return describe("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) return Status::invalid_argument(path + " is not a regular file");
  if (static_cast<size_t>(st.st_size) > max_bytes)
    return Status::invalid_argument(path + " is too large (" + std::to_string(st.st_size) +
                                    " bytes, at most " + std::to_string(max_bytes) + " allowed)");
  std::string content;
  char buffer[8192];
  while (true) {
    const ssize_t n = ::read(file.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return describe("cannot read", path, errno);
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
    if (content.size() > max_bytes)  // it grew while we read
      return Status::invalid_argument(path + " is too large");
  }
  return content;
}

Status write_file_atomically(const std::string& path, std::string_view content, mode_t mode) {
  const std::filesystem::path target(path);
  const std::filesystem::path dir =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::io_error("cannot create directory " + dir.string() + ": " + ec.message());

  std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    Fd file(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (file.get() < 0) return describe("cannot create", temp, errno);
    // open() applies the umask; the caller asked for exactly `mode` (a key file wants 0600).
    if (::fchmod(file.get(), mode) != 0 || !write_all(file.get(), content) ||
        ::fsync(file.get()) != 0) {
      const int error = errno;
      ::unlink(temp.c_str());
      return describe("cannot write", temp, error);
    }
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return describe("cannot rename " + temp + " to", path, error);
  }
  // The rename itself is durable only once the directory entry is.
  Fd directory(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (directory.get() >= 0) ::fsync(directory.get());
  return {};
}

}  // namespace shoal
