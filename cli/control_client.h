// The `shoal` command's side of the control socket: send one request to the local agent and
// wait for its answer. Blocking, no event loop; the whole exchange is bounded by `timeout`.
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"
#include "proto/control.pb.h"

namespace shoal::cli {

// The agent's response (which may itself carry an `error`), or why there is none: the agent
// is unreachable, too slow, or answered something unreadable. Messages name the socket path
// and say what to try.
Result<proto::ControlResponse> call(const std::string& socket_path,
                                    const proto::ControlRequest& request,
                                    std::chrono::milliseconds timeout);

// After a keys change: asks the agent again (keys list) until every live member has applied
// its keyring, or `wait` has passed. `response` takes the last answer's keyring and member
// states (its message stays). True when every live member has it.
bool wait_for_keys(const std::string& socket_path, proto::ControlResponse& response,
                   std::chrono::seconds wait);

}  // namespace shoal::cli
