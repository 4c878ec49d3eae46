#include "cni/delegate.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "common/subprocess.h"

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
  ProcessOptions options;
  options.env.emplace_back("CNI_PATH", child_path);
  options.env.insert(options.env.end(), env.begin(), env.end());
  options.input = input;
  options.max_output = kMaxOutput;
  options.timeout = std::chrono::seconds(60);
  auto ran = run_process({binary}, options);
  if (!ran.ok()) return ran.error();
  return PluginOutput{ran->exit_code, std::move(ran->output)};
}

}  // namespace shoal::cni
