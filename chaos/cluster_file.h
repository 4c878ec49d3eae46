// A real cluster for shoal-chaos (`run --cluster FILE`): how to reach each host's `shoal`
// command. The harness never starts, stops or configures these agents: it reads them
// (`shoal members|leases --json`) and puts faults on them (`shoal fault`, which every agent
// must allow: AllowFaults). Scenario host h1 is the file's first host, h2 the second, ...
//
//   {
//     "hosts": [
//       {"name": "nuc1", "exec": ["ssh", "root@192.0.2.21"]},
//       {"name": "nuc2", "exec": ["ssh", "root@192.0.2.22"],
//        "control_socket": "/run/shoal/shoal.sock"}
//     ],
//     "shoal": "shoal",
//     "command_timeout_s": 10
//   }
//
// `name` is the agent's member name (as `shoal members` lists it); `exec` is the command that
// runs a command on that host (empty or absent: on this machine); `control_socket` is passed to
// `shoal` when given. The file is parsed strictly (json/strict_json.h); errors name the key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace shoal::chaos {

inline constexpr size_t kMaxClusterBytes = 256 * 1024;
inline constexpr size_t kMaxClusterHosts = 200;

struct ClusterHost {
  std::string name;
  std::vector<std::string> exec;  // prefix: {"ssh", "root@host"}, {"ip", "netns", "exec", "ns"}
  std::string control_socket;     // empty: shoal's default
};

struct ClusterFile {
  std::vector<ClusterHost> hosts;
  std::string shoal = "shoal";  // the command on the hosts
  double command_timeout_s = 10;

  // argv that runs `shoal ARGS... [--control-socket S]` on host h.
  std::vector<std::string> command(size_t h, std::vector<std::string> args) const;
};

// `source` names the file in errors.
Result<ClusterFile> parse_cluster(std::string_view source, std::string_view text);

}  // namespace shoal::chaos
