// The how of subprocess.h: fork and exec, with pipes polled so that a child which writes much
// and reads little cannot deadlock us, and a deadline that ends a child which hangs.
#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <thread>

#include "common/fd.h"

namespace shoal {
namespace {

using Clock = std::chrono::steady_clock;

// Only async-signal-safe calls in the child, in spirit: dup2, setenv, execvp, _exit. The
// vectors are built before the fork.
[[noreturn]] void exec_child(const std::vector<std::string>& argv,
                             const std::vector<std::pair<std::string, std::string>>& env) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& [key, value] : env) ::setenv(key.c_str(), value.c_str(), 1);
  ::signal(SIGPIPE, SIG_DFL);
  ::execvp(args[0], args.data());
  ::_exit(127);
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace

Result<ProcessOutput> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options) {
  if (argv.empty()) return Status::invalid_argument("run_process: no program given");
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return errno_status("pipe");
  Fd in_read(in_pipe[0]), in_write(in_pipe[1]);
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return errno_status("pipe");
  Fd out_read(out_pipe[0]), out_write(out_pipe[1]);
  // The child may exit without reading its input; EPIPE must not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  const pid_t child = ::fork();
  if (child < 0) return errno_status("fork");
  if (child == 0) {
    if (::dup2(in_read.get(), STDIN_FILENO) < 0 || ::dup2(out_write.get(), STDOUT_FILENO) < 0)
      ::_exit(127);
    if (options.capture_stderr && ::dup2(out_write.get(), STDERR_FILENO) < 0) ::_exit(127);
    exec_child(argv, options.env);
  }
  in_read.reset();
  out_write.reset();
  ::fcntl(in_write.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(out_read.get(), F_SETFL, O_NONBLOCK);
  if (options.input.empty()) in_write.reset();

  const auto deadline = Clock::now() + options.timeout;
  ProcessOutput out;
  size_t written = 0;
  bool timed_out = false;
  while (out_read.valid()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2] = {{out_read.get(), POLLIN, 0}, {in_write.get(), POLLOUT, 0}};
    const int n = ::poll(fds, in_write.valid() ? 2 : 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (in_write.valid() && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t w =
          ::write(in_write.get(), options.input.data() + written, options.input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) written = options.input.size();
      if (written >= options.input.size()) in_write.reset();
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buffer[4096];
      const ssize_t r = ::read(out_read.get(), buffer, sizeof buffer);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) {
        out_read.reset();
        break;
      }
      if (out.output.size() + static_cast<size_t>(r) <= options.max_output)
        out.output.append(buffer, static_cast<size_t>(r));
    }
  }
  in_write.reset();
  if (timed_out) ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0)
    if (errno != EINTR) return errno_status("waitpid");
  if (timed_out)
    return Status::unavailable(argv[0] + " did not finish within " +
                               std::to_string(options.timeout.count()) + " ms and was killed");
  out.exit_code = exit_code_of(status);
  if (out.exit_code == 127 && out.output.empty())
    return Status::io_error("could not run " + argv[0]);
  return out;
}

Result<pid_t> spawn_process(const std::vector<std::string>& argv, const std::string& log_path) {
  if (argv.empty()) return Status::invalid_argument("spawn_process: no program given");
  Fd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log.valid()) return errno_status("open " + log_path);
  Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null.valid()) return errno_status("open /dev/null");
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) return errno_status("fork");
  if (child == 0) {
    // Dies with its starter: a harness that is SIGKILLed (no destructor runs) leaves no
    // daemon behind. The check after prctl closes the race with a starter that died first.
    if (::dup2(null.get(), STDIN_FILENO) < 0 || ::dup2(log.get(), STDOUT_FILENO) < 0 ||
        ::dup2(log.get(), STDERR_FILENO) < 0 || ::setpgid(0, 0) != 0 ||
        ::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent)
      ::_exit(127);
    exec_child(argv, {});
  }
  return child;
}

bool reap_within(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace shoal
