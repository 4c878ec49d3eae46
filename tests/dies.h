// dies(fn): runs fn in a forked child and says whether it ended by abort(), the way a
// broken precondition (SHOAL_REQUIRE, common/status.h) ends a process. The child's stderr
// goes to /dev/null so the expected "precondition failed" line does not clutter the run, and
// so does its stdout: doctest's own SIGABRT handler, inherited by the child, would print a
// "test case CRASHED ... FAILURE!" report there for every abort the test expects.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <functional>

namespace shoal::test {

inline bool dies(const std::function<void()>& fn) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null_fd >= 0) {
      ::dup2(null_fd, STDOUT_FILENO);
      ::dup2(null_fd, STDERR_FILENO);
    }
    fn();
    ::_exit(0);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return false;
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

}  // namespace shoal::test
