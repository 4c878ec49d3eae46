// Runs another CNI plugin (the delegate: bridge) the way a runtime would: found in one of
// CNI_PATH's directories (else in /usr/lib/cni or /opt/cni/bin), with our environment plus
// the overrides given, the configuration on its stdin, and its stdout captured (at most
// kMaxOutput bytes). Its stderr stays ours,
// so what it says reaches the runtime's log.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace shoal::cni {

struct PluginOutput {
  int exit_code = 0;   // 0: success; else stdout holds the plugin's CNI error
  std::string stdout;  // its result or error JSON
};

inline constexpr size_t kMaxOutput = 1 << 20;

// Errors: the plugin is not found in `cni_path`, or cannot be started. A plugin that runs
// and fails is not an error here: its exit code and output are returned.
Result<PluginOutput> run_plugin(const std::string& type, const std::string& cni_path,
                                const std::vector<std::pair<std::string, std::string>>& env,
                                const std::string& input);

}  // namespace shoal::cni
