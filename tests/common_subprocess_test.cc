// run_process and spawn_process: exit codes, captured output, input, the output cap, the
// timeout, and a program that is not there, all without leaving a child behind.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "common/subprocess.h"

using namespace shoal;
using namespace std::chrono_literals;

TEST_CASE("run_process: exit code and stdout") {
  auto ran = run_process({"sh", "-c", "echo hello; exit 3"});
  REQUIRE(ran.ok());
  CHECK(ran->exit_code == 3);
  CHECK(ran->output == "hello\n");
}

TEST_CASE("run_process: input on stdin, stderr joined when asked") {
  ProcessOptions options;
  options.input = "abc";
  options.capture_stderr = true;
  auto ran = run_process({"sh", "-c", "cat; echo oops >&2"}, options);
  REQUIRE(ran.ok());
  CHECK(ran->exit_code == 0);
  CHECK(ran->output == "abcoops\n");
}

TEST_CASE("run_process: output beyond the cap is dropped, and the child still ends") {
  ProcessOptions options;
  options.max_output = 100;
  auto ran = run_process({"sh", "-c", "head -c 100000 /dev/zero"}, options);
  REQUIRE(ran.ok());
  CHECK(ran->exit_code == 0);
  CHECK(ran->output.size() <= 100);
}

TEST_CASE("run_process: a program past its timeout is killed and said so") {
  ProcessOptions options;
  options.timeout = 200ms;
  const auto start = std::chrono::steady_clock::now();
  auto ran = run_process({"sleep", "30"}, options);
  REQUIRE_FALSE(ran.ok());
  CHECK(ran.error().message().find("did not finish") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < 10s);
}

TEST_CASE("run_process: a program that is not there is an error, a signal an exit code") {
  auto missing = run_process({"/nonexistent/shoal-test-binary"});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message().find("could not run") != std::string::npos);
  auto killed = run_process({"sh", "-c", "kill -KILL $$"});
  REQUIRE(killed.ok());
  CHECK(killed->exit_code == 128 + SIGKILL);
  CHECK_FALSE(run_process({}).ok());
}

TEST_CASE("spawn_process: runs on, writes its log, and is reaped once signalled") {
  char dir[] = "/tmp/shoal-subprocess-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  const std::string log = std::string(dir) + "/log";
  auto pid = spawn_process({"sh", "-c", "echo started; exec sleep 30"}, log);
  REQUIRE(pid.ok());
  CHECK_FALSE(reap_within(*pid, 100ms));  // still running
  ::kill(*pid, SIGKILL);
  CHECK(reap_within(*pid, 5s));
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == "started\n");
  std::remove(log.c_str());
  ::rmdir(dir);
}

TEST_CASE("spawn_process: what it started dies with its starter, even one that is SIGKILLed") {
  char dir[] = "/tmp/shoal-subprocess-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  const std::string log = std::string(dir) + "/log";
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t starter = ::fork();
  REQUIRE(starter >= 0);
  if (starter == 0) {  // a harness: starts a daemon, says its PID, then is killed
    auto pid = spawn_process({"sleep", "30"}, log);
    const pid_t daemon = pid.ok() ? *pid : -1;
    if (::write(pipe_fds[1], &daemon, sizeof daemon) != sizeof daemon) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  pid_t daemon = -1;
  REQUIRE(::read(pipe_fds[0], &daemon, sizeof daemon) == sizeof daemon);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  REQUIRE(daemon > 0);
  CHECK(::kill(daemon, 0) == 0);  // it runs
  ::kill(starter, SIGKILL);
  CHECK(reap_within(starter, 5s));
  // The orphan goes to init, which may be slow to reap it (or, in a container, never): a
  // zombie counts as gone.
  auto gone_now = [daemon] {
    if (::kill(daemon, 0) != 0) return true;
    std::ifstream stat("/proc/" + std::to_string(daemon) + "/stat");
    std::string pid, comm, state;
    stat >> pid >> comm >> state;
    return !stat || state == "Z";
  };
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {
    gone = gone_now();
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  CHECK(gone);
  if (!gone) ::kill(daemon, SIGKILL);
  std::remove(log.c_str());
  ::rmdir(dir);
}
