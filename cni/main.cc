// shoal-cni: the CNI plugin that attaches containers to shoal's network. A container
// runtime runs it with CNI_COMMAND and a network configuration; it reads the subnet the
// shoal agent holds from subnet.env and delegates to the standard bridge + host-local
// plugins, as flannel's plugin does. See cni/netconf.h for the configuration it takes.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>

#include "cni/delegate.h"
#include "cni/netconf.h"
#include "common/file_io.h"
#include "common/subnet_env.h"

namespace shoal::cni {
namespace {

using json = nlohmann::json;

constexpr const char* kHelp =
    R"(usage: shoal-cni          (run by a container runtime, as any CNI plugin)
       shoal-cni --help | --version

A CNI plugin (spec 1.0.0 and 1.1.0: ADD, DEL, CHECK, VERSION, STATUS, GC) that attaches
containers to shoal's overlay. It reads this host's pod subnet from the subnet.env that the
shoal agent writes, and hands the work to the standard `bridge` and `host-local` plugins
(Debian: containernetworking-plugins), as flannel's plugin does: bridge cni0 with the
subnet's first address, a route to the whole overlay, the agent's MTU, and IP masquerade
when the agent does not do it itself.

A conflist for /etc/cni/net.d/10-shoal.conflist:

  {"cniVersion": "1.0.0", "name": "shoal",
   "plugins": [{"type": "shoal-cni"},
               {"type": "portmap", "capabilities": {"portMappings": true}}]}

Keys of its own (all optional):
  subnetFile   subnet.env to read             (default /run/shoal/subnet.env)
  dataDir      where each container's bridge config is kept, so DEL works after
               subnet.env changed or went    (default /var/lib/cni/shoal)
  waitSeconds  how long ADD waits for subnet.env while the agent starts (default 30)
  delegate     bridge keys to set or override, e.g. {"bridge": "shoal0", "hairpinMode": false}

Errors are CNI errors on stdout ({"code", "msg", "details"}) and exit status 1.
)";

int fail(const CniError& e, std::string_view version) {
  std::fputs(render_error(e, version).c_str(), stdout);
  return 1;
}

CniError io_failure(const std::string& msg, const Status& why) {
  return {ErrorCode::kIoFailure, msg, why.to_string()};
}

// Reads stdin up to one byte past the limit, so parse_netconf can refuse it.
std::string read_stdin() {
  std::string text;
  char buffer[8192];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, stdin)) > 0) {
    text.append(buffer, n);
    if (text.size() > kMaxNetConfSize) break;
  }
  return text;
}

std::string attachment_dir(const NetConf& conf) { return conf.data_dir + "/" + conf.name; }
std::string attachment_file(const NetConf& conf, const std::string& id, const std::string& ifname) {
  return attachment_dir(conf) + "/" + id + "-" + ifname + ".json";
}

// Waits up to waitSeconds for the agent to write subnet.env. A file that is there but
// broken is not waited for: it will not mend itself.
Result<SubnetEnv, CniError> wait_for_subnet_env(const NetConf& conf) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(conf.wait_seconds);
  for (;;) {
    auto env = read_subnet_env(conf.subnet_file);
    if (env) return *env;
    if (env.error().code() != Status::Code::kNotFound)
      return CniError{ErrorCode::kInvalidNetworkConfig,
                      "shoal's subnet file is not usable: " + env.error().to_string(),
                      "the shoal agent writes it when it holds a subnet; see `journalctl -u "
                      "shoal` and `shoal status`"};
    if (std::chrono::steady_clock::now() >= deadline)
      return CniError{ErrorCode::kTryAgainLater,
                      "shoal's subnet file " + conf.subnet_file + " is not there after " +
                          std::to_string(conf.wait_seconds) + " s",
                      "the shoal agent writes it once it holds a subnet. Is it running? Check "
                      "`systemctl status shoal` and `shoal status`, then start the container "
                      "again. (\"subnetFile\" in the CNI config must match the agent's "
                      "SubnetFile.)"};
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// The delegate config kept for an attachment, or nullopt if none was kept.
std::optional<json> load_attachment(const std::string& path) {
  auto text = read_file_limited(path, kMaxNetConfSize);
  if (!text) return std::nullopt;
  json saved = json::parse(*text, nullptr, false);
  if (saved.is_discarded() || !saved.is_object() || !saved.contains("delegate") ||
      !saved["delegate"].is_object())
    return std::nullopt;
  return saved["delegate"];
}

Status save_attachment(const std::string& path, const Invocation& call, const json& delegate) {
  const json saved = {
      {"containerID", call.container_id}, {"ifname", call.ifname}, {"delegate", delegate}};
  return write_file_atomically(path, saved.dump(2, ' ', false, json::error_handler_t::replace),
                               0600);
}

// Runs bridge with `config`; on its failure passes its error through.
int delegate(const Invocation& call, const NetConf& conf, const json& config, bool print_result,
             const std::vector<std::pair<std::string, std::string>>& env = {}) {
  auto ran = run_plugin("bridge", call.path, env,
                        config.dump(-1, ' ', false, json::error_handler_t::replace));
  if (!ran)
    return fail({ErrorCode::kIoFailure, "cannot run the bridge plugin", ran.error().to_string()},
                conf.cni_version);
  if (ran->exit_code != 0) {
    // bridge's own CNI error; if it printed none, make one.
    if (ran->stdout.find("\"code\"") != std::string::npos) {
      std::fputs(ran->stdout.c_str(), stdout);
      return 1;
    }
    return fail({ErrorCode::kIoFailure,
                 "the bridge plugin failed (exit status " + std::to_string(ran->exit_code) + ")",
                 ran->stdout},
                conf.cni_version);
  }
  if (!print_result) return 0;
  json result = json::parse(ran->stdout, nullptr, false);
  if (result.is_discarded() || !result.is_object())
    return fail({ErrorCode::kDecodeFailure, "the bridge plugin's result is not JSON", ran->stdout},
                conf.cni_version);
  result["cniVersion"] = conf.cni_version;  // 1.1.0 was asked as 1.0.0 (netconf.h)
  std::fputs((result.dump(-1, ' ', false, json::error_handler_t::replace) + "\n").c_str(), stdout);
  return 0;
}

int add(const Invocation& call, const NetConf& conf) {
  auto env = wait_for_subnet_env(conf);
  if (!env) return fail(env.error(), conf.cni_version);
  const json config = delegate_config(conf, *env);
  // Kept before the bridge runs: if ADD fails half-way, the runtime's DEL still finds it.
  if (Status saved =
          save_attachment(attachment_file(conf, call.container_id, call.ifname), call, config);
      !saved.ok())
    return fail(io_failure("cannot keep this container's bridge config", saved), conf.cni_version);
  return delegate(call, conf, config, /*print_result=*/true);
}

int del(const Invocation& call, const NetConf& conf) {
  const std::string path = attachment_file(conf, call.container_id, call.ifname);
  std::optional<json> config = load_attachment(path);
  if (!config) {
    // Nothing kept (an ADD that never ran, or a DEL again): release what today's subnet.env
    // would have given; with no subnet.env there is nothing of ours to undo.
    auto env = read_subnet_env(conf.subnet_file);
    if (!env) return 0;
    config = delegate_config(conf, *env);
  }
  if (const int rc = delegate(call, conf, *config, false); rc != 0) return rc;
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
  return 0;
}

int check(const Invocation& call, const NetConf& conf) {
  std::optional<json> config =
      load_attachment(attachment_file(conf, call.container_id, call.ifname));
  if (!config)
    return fail(
        {ErrorCode::kUnknownContainer,
         "shoal-cni has no attachment of container " + call.container_id + " on " + call.ifname,
         "was it added with another network name or dataDir?"},
        conf.cni_version);
  if (conf.passthrough.contains("prevResult"))
    (*config)["prevResult"] = conf.passthrough["prevResult"];
  return delegate(call, conf, *config, false);
}

int status(const NetConf& conf) {
  auto env = read_subnet_env(conf.subnet_file);
  if (env) return 0;
  return fail({ErrorCode::kPluginNotAvailable,
               "shoal has no subnet on this host yet: " + env.error().to_string(),
               "start the shoal agent (systemctl start shoal) and wait until `shoal status` "
               "shows a subnet"},
              conf.cni_version);
}

// Deletes every attachment the runtime no longer lists.
int gc(const Invocation& call, const NetConf& conf) {
  std::error_code ec;
  std::string failures;
  for (const auto& entry : std::filesystem::directory_iterator(attachment_dir(conf), ec)) {
    const std::string path = entry.path().string();
    auto text = read_file_limited(path, kMaxNetConfSize);
    if (!text) continue;
    const json saved = json::parse(*text, nullptr, false);
    if (saved.is_discarded() || !saved.is_object() || !saved.contains("containerID") ||
        !saved["containerID"].is_string() || !saved.contains("ifname") ||
        !saved["ifname"].is_string() || !saved.contains("delegate"))
      continue;
    const Attachment a{saved["containerID"].get<std::string>(), saved["ifname"].get<std::string>()};
    if (std::find(conf.valid_attachments.begin(), conf.valid_attachments.end(), a) !=
        conf.valid_attachments.end())
      continue;
    Invocation gone = call;
    gone.container_id = a.container_id;
    gone.ifname = a.ifname;
    auto ran = run_plugin("bridge", call.path,
                          {{"CNI_COMMAND", "DEL"},
                           {"CNI_CONTAINERID", a.container_id},
                           {"CNI_IFNAME", a.ifname},
                           {"CNI_NETNS", ""}},
                          saved["delegate"].dump(-1, ' ', false, json::error_handler_t::replace));
    if (ran && ran->exit_code == 0) {
      std::filesystem::remove(path, ec);
    } else {
      failures += (failures.empty() ? "" : "; ") + a.container_id + "/" + a.ifname;
    }
  }
  if (failures.empty()) return 0;
  return fail({ErrorCode::kIoFailure, "could not release every stale attachment", failures},
              conf.cni_version);
}

}  // namespace
}  // namespace shoal::cni

int main(int argc, char** argv) {
  using namespace shoal::cni;
  if (argc > 1) {
    const std::string arg = argv[1];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    }
    if (arg == "--version") {
      std::printf("shoal-cni %s (CNI %s)\n", SHOAL_VERSION, std::string(kSpecVersion).c_str());
      return 0;
    }
    std::fprintf(stderr, "shoal-cni: unknown argument %s (try --help)\n", argv[1]);
    return 2;
  }
  auto call = read_invocation([](const char* name) -> const char* { return std::getenv(name); });
  if (!call) {
    if (::isatty(STDOUT_FILENO)) std::fputs("shoal-cni: run `shoal-cni --help`\n", stderr);
    return fail(call.error(), "");
  }
  const std::string input = read_stdin();
  if (call->command == Command::kVersion) {
    // Answer in the version the caller asked in, when it asked in one we speak.
    const auto conf = nlohmann::json::parse(input, nullptr, false);
    std::string version;
    if (conf.is_object() && conf.contains("cniVersion") && conf["cniVersion"].is_string())
      version = conf["cniVersion"].get<std::string>();
    const auto& known = supported_versions();
    if (std::find(known.begin(), known.end(), version) == known.end()) version = "";
    std::fputs(render_version_info(version).c_str(), stdout);
    return 0;
  }
  auto conf = parse_netconf(input, call->command);
  if (!conf) return fail(conf.error(), "");
  switch (call->command) {
    case Command::kAdd:
      return add(*call, *conf);
    case Command::kDel:
      return del(*call, *conf);
    case Command::kCheck:
      return check(*call, *conf);
    case Command::kStatus:
      return status(*conf);
    case Command::kGc:
      return gc(*call, *conf);
    case Command::kVersion:
      break;
  }
  return 0;
}
