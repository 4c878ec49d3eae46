#include "cni/delegate.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/fd.h"

namespace shoal::cni {
namespace {

// The first executable `type` in the colon-separated directories of `cni_path`.
std::string find_plugin(const std::string& type, const std::string& cni_path) {
  size_t start = 0;
  while (start <= cni_path.size()) {
    size_t end = cni_path.find(':', start);
    if (end == std::string::npos) end = cni_path.size();
    const std::string dir = cni_path.substr(start, end - start);
    if (!dir.empty()) {
      const std::string candidate = dir + "/" + type;
      struct stat st {};
      if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
          ::access(candidate.c_str(), X_OK) == 0)
        return candidate;
    }
    start = end + 1;
  }
  return "";
}

}  // namespace

Result<PluginOutput> run_plugin(const std::string& type, const std::string& cni_path,
                                const std::vector<std::pair<std::string, std::string>>& env,
                                const std::string& input) {
  // CNI_PATH first, as the spec says; then where Debian's and the reference plugins live,
  // for runtimes whose CNI_PATH names only the other one (containerd's is /opt/cni/bin).
  constexpr const char* kFallbackPath = "/usr/lib/cni:/opt/cni/bin";
  std::string binary = find_plugin(type, cni_path);
  // Found in a fallback directory, the delegate must find its own delegates (host-local)
  // there too: it searches only the CNI_PATH it is given.
  std::string child_path = cni_path;
  if (binary.empty()) {
    binary = find_plugin(type, kFallbackPath);
    child_path = cni_path.empty() ? kFallbackPath : cni_path + ":" + kFallbackPath;
  }
  if (binary.empty())
    return Status::not_found("the \"" + type + "\" plugin is not in CNI_PATH (" + cni_path +
                             ") nor in /usr/lib/cni or /opt/cni/bin; install Debian's "
                             "containernetworking-plugins");
  int in_pipe[2];
  int out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return errno_status("pipe");
  Fd in_read(in_pipe[0]), in_write(in_pipe[1]);
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return errno_status("pipe");
  Fd out_read(out_pipe[0]), out_write(out_pipe[1]);

  const pid_t child = ::fork();
  if (child < 0) return errno_status("fork");
  if (child == 0) {
    // Only async-signal-safe calls from here on, in spirit: dup2, setenv, execv, _exit.
    if (::dup2(in_read.get(), STDIN_FILENO) < 0 || ::dup2(out_write.get(), STDOUT_FILENO) < 0)
      ::_exit(127);
    ::setenv("CNI_PATH", child_path.c_str(), 1);
    for (const auto& [key, value] : env) ::setenv(key.c_str(), value.c_str(), 1);
    char* const argv[] = {const_cast<char*>(binary.c_str()), nullptr};
    ::execv(binary.c_str(), argv);
    ::_exit(127);
  }
  in_read.reset();
  out_write.reset();

  // The input is small (a delegate config): write it all, then read the answer to EOF. The
  // plugin may exit without reading; EPIPE must not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  size_t written = 0;
  while (written < input.size()) {
    const ssize_t n = ::write(in_write.get(), input.data() + written, input.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  in_write.reset();

  PluginOutput out;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(out_read.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.stdout.size() + static_cast<size_t>(n) <= kMaxOutput)
      out.stdout.append(buffer, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return errno_status("waitpid");
  }
  if (WIFEXITED(status)) {
    out.exit_code = WEXITSTATUS(status);
  } else {
    out.exit_code = 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }
  if (out.exit_code == 127 && out.stdout.empty())
    return Status::io_error("could not run " + binary);
  return out;
}

}  // namespace shoal::cni
