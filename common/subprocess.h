// Running other programs: one helper for every place shoal starts one (the CNI plugin's
// delegate, shoal-chaos's `ip`, `nft` and agents), so that descriptors, SIGPIPE, EINTR and
// exit statuses are handled once.
//
//   run_process   runs a program to its end: input on its stdin, stdout captured (capped),
//                 stderr left as ours or captured with stdout, bounded by a timeout.
//   spawn_process starts a program that keeps running (a daemon under test): its stdout and
//                 stderr go to a log file, its PID comes back; the caller signals and reaps it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace shoal {

struct ProcessOptions {
  std::vector<std::pair<std::string, std::string>> env;  // set on top of ours
  std::string input;                                     // written to its stdin, then closed
  size_t max_output = 1 << 20;                           // stdout beyond this is dropped
  bool capture_stderr = false;                           // stderr joins stdout in `output`
  std::chrono::milliseconds timeout{30000};              // then SIGKILL, and an error
};

struct ProcessOutput {
  int exit_code = 0;   // 128 + signal when a signal ended it
  std::string output;  // its stdout (and stderr, if captured)
};

// Errors: the program cannot be started (127 from the child with nothing said), or it ran
// past the timeout. A program that runs and fails is not an error: see exit_code.
// argv[0] is looked up in PATH when it has no slash.
Result<ProcessOutput> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options = {});

// Starts argv with stdin from /dev/null and stdout and stderr appended to `log_path`, in a
// process group of its own (its PID is the group's), so that what it starts can be signalled
// with it: kill(-pid, ...). It gets SIGKILL when the thread that started it ends, so call it
// from a thread that lives as long as the program should run (the caller's main thread).
Result<pid_t> spawn_process(const std::vector<std::string>& argv, const std::string& log_path);

// Waits up to `timeout` for `pid` to end; true when it did (and is reaped).
bool reap_within(pid_t pid, std::chrono::milliseconds timeout);

}  // namespace shoal
