// shoal: the one binary. `shoal agent` runs the daemon; the other subcommands are small
// tools (keygen, version) or talk to a running agent over its control socket.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/agent.h"
#include "agent/config.h"
#include "agent/config_values.h"
#include "cli/control_client.h"
#include "cli/print.h"
#include "crypto/key.h"
#include "crypto/sodium_init.h"

using namespace shoal;

namespace {

constexpr std::string_view kUsage = R"(usage: shoal COMMAND [OPTIONS]

An overlay network for container hosts: no etcd, no leader. Hosts find each other with
SWIM gossip and agree on pod subnets through a CRDT lease table.

commands:
  agent      run the daemon (see `shoal agent --help`)
  members    list the cluster's members as this agent sees them
  leases     list who owns which subnet
  status     this agent's state at a glance
  leave      release this host's subnet, tell the cluster, stop the agent
  forget     evict a dead node's lease at once (shoal forget NODE)
  keys       list, install, use or remove cluster keys on a running cluster
  fault      FOR TESTS: drop or lose traffic to given peers (needs AllowFaults)
  keygen     print a new cluster key (put it in a file, mode 0600: KeyFile)
  version    print the version

`shoal COMMAND --help` explains each command.
)";

// `command`: the subcommand whose help to point at; empty for shoal's own usage.
int usage_error(const std::string& message, std::string_view command = {}) {
  const std::string help =
      command.empty() ? "shoal --help" : "shoal " + std::string(command) + " --help";
  std::fprintf(stderr, "shoal: %s\n(run `%s` for usage)\n", message.c_str(), help.c_str());
  return 2;
}

void print_agent_help() {
  std::printf(
      "usage: shoal agent [--config FILE] [--FLAG VALUE ...]\n\n"
      "Runs the shoal daemon. Settings come from a JSON file (flannel's net-conf.json keys\n"
      "plus shoal's own, see docs/config.md) and flags, which override the file.\n"
      "SIGTERM or SIGINT stop it and keep its lease; `shoal leave` releases the lease.\n"
      "SIGHUP re-reads KeyFile. Under systemd (Type=notify) it reports READY=1 once this\n"
      "host's subnet is installed and subnet.env written, and STATUS= lines.\n\n"
      "  --config FILE                 read settings from FILE\n");
  for (const auto& f : agent::flag_help()) {
    if (f.flag.empty()) continue;
    const std::string flag = f.flag + " " + f.metavar;
    std::printf("  %-28s  %s (%s; default %s)\n", flag.c_str(), f.description.c_str(),
                f.json_key.c_str(), f.default_text.c_str());
  }
}

spdlog::level::level_enum to_spdlog(agent::LogLevel level) {
  switch (level) {
    case agent::LogLevel::kTrace:
      return spdlog::level::trace;
    case agent::LogLevel::kDebug:
      return spdlog::level::debug;
    case agent::LogLevel::kInfo:
      return spdlog::level::info;
    case agent::LogLevel::kWarn:
      return spdlog::level::warn;
    case agent::LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

int run_agent(const std::vector<std::string_view>& args) {
  agent::AgentConfig config;
  // --config first, wherever it is, so that every other flag overrides the file.
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      print_agent_help();
      return 0;
    }
    std::string_view path;
    if (args[i] == "--config") {
      if (i + 1 >= args.size()) return usage_error("agent: --config needs a file", "agent");
      path = args[i + 1];
    } else if (args[i].starts_with("--config=")) {
      path = args[i].substr(9);
    } else {
      continue;
    }
    auto loaded = agent::load_config(std::string(path));
    if (!loaded) {
      std::fprintf(stderr, "shoal agent: %s\n", loaded.error().to_string().c_str());
      return 2;
    }
    config = std::move(loaded).value();
  }
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view flag = args[i];
    if (!flag.starts_with("--"))
      return usage_error("agent: unexpected argument '" + std::string(flag) + "'", "agent");
    std::string value;
    if (auto eq = flag.find('='); eq != std::string_view::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (flag == "--ip-masq" && (i + 1 >= args.size() || args[i + 1].starts_with("--"))) {
      value = "true";  // a bare boolean flag
    } else {
      if (i + 1 >= args.size())
        return usage_error("agent: " + std::string(flag) + " needs a value", "agent");
      value = args[++i];
    }
    if (flag == "--config") continue;
    if (const Status applied = agent::apply_flag(config, flag, value); !applied.ok()) {
      std::fprintf(stderr, "shoal agent: %s\n", applied.to_string().c_str());
      return 2;
    }
  }
  if (const Status finished = agent::finish(config); !finished.ok()) {
    std::fprintf(stderr, "shoal agent: %s\n", finished.to_string().c_str());
    return 2;
  }
  // Logs go to stderr, as a daemon's should (journald and `2>` catch them; stdout stays free).
  spdlog::set_default_logger(spdlog::stderr_color_mt("shoal"));
  spdlog::set_level(to_spdlog(config.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  auto created = agent::Agent::create(std::move(config));
  if (!created) {
    spdlog::error("cannot start: {}", created.error().to_string());
    return 1;
  }
  return created.value()->run();
}

int keygen(const std::vector<std::string_view>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::printf(
        "usage: shoal keygen\n\nPrints a new random 32-byte cluster key, base64. Save it in a "
        "file readable only by root\n(umask 077; shoal keygen > /etc/shoal/cluster.key) and "
        "point KeyFile (--key-file) at it\non every host.\n");
    return 0;
  }
  if (!args.empty()) return usage_error("keygen takes no arguments", "keygen");
  if (!crypto::init()) return usage_error("libsodium cannot be initialised");
  std::printf("%s\n", crypto::encode_key(crypto::generate_key()).c_str());
  return 0;
}

struct ClientCommand {
  std::string_view name;
  std::string_view args;  // what follows the name in the usage line
  std::string_view help;
};

constexpr ClientCommand kClientCommands[] = {
    {"members", "",
     "Lists the cluster's members as this agent sees them: name, id, address, state."},
    {"leases", "", "Lists who owns which subnet (this host's lease is starred)."},
    {"status", "", "This agent at a glance: identity, subnet, members and leases by count."},
    {"leave", "",
     "Releases this host's subnet, tells the cluster and stops the agent.\n"
     "(SIGTERM stops it too but keeps the lease for a restart.)"},
    {"forget", "NODE",
     "Evicts a dead node's lease at once, instead of waiting out its TTL.\n"
     "NODE is its name or a prefix of its id (see `shoal leases`)."},
    {"keys", "list|install KEY|use KEY_ID|remove KEY_ID [--force] [--wait SECONDS]",
     "Changes the cluster's keys: the agent asked changes its keyring and key file, and every\n"
     "live member takes the change from it through gossip (sealed with the current key). A\n"
     "member that is down takes it when it comes back, if it still holds a key the cluster\n"
     "accepts. The command waits until every live member has the change (--wait, default 15 s;\n"
     "0: do not wait) and says how many have it and which do not; it fails if a live member\n"
     "has not confirmed in time. To rotate: `install` the new key, `use` it, `remove` the old.\n"
     "`use` and `remove` are refused while a live member lacks the previous change (--force\n"
     "overrides), and removing the primary key is refused.\n\n"
     "  --force                use or remove although a live member is behind\n"
     "  --wait SECONDS         how long to wait for every live member (default 15)"},
    {"fault",
     "drop PEER...|loss PERCENT PEER...|clock OFFSET|clear [ID]|list [--for SECONDS] "
     "[--in|--out]",
     "FOR PARTITION TESTS. Drops (or loses PERCENT of, at random) this host's packets to and\n"
     "from the PEERs: gossip, vxlan, the udp tunnel and host-gw pod traffic alike. A PEER is a\n"
     "member's name or id prefix (its underlay and NAT addresses and its subnet), an address\n"
     "or a CIDR. `clock` moves the wall clock this agent reads (gossip, leases) by OFFSET,\n"
     "ahead or behind: +300, -5m, +1h30m. Every fault expires on its own (--for, default\n"
     "60 s, at most 3600); a network fault even if the agent dies. `clear` ends one fault by\n"
     "id, or all. The agent refuses unless its config has AllowFaults (--allow-faults true),\n"
     "and serves only root and its own user.\n\n"
     "  --for SECONDS          when the fault expires (default 60)\n"
     "  --in                   only packets from the peers (a one-way cut)\n"
     "  --out                  only packets to the peers"},
};

// The number in `text` within [low, high], or nullopt.
std::optional<uint32_t> number_in(std::string_view text, uint32_t low, uint32_t high) {
  uint32_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < low || n > high)
    return std::nullopt;
  return n;
}

// "+300", "-5m", "1h30m": whole seconds, or a duration (agent/config_values.h), with an
// optional sign.
std::optional<std::chrono::seconds> signed_duration(std::string_view text) {
  const bool negative = text.starts_with('-');
  if (negative || text.starts_with('+')) text.remove_prefix(1);
  std::optional<std::chrono::seconds> magnitude;
  if (auto bare = number_in(text, 0, UINT32_MAX)) {
    magnitude = std::chrono::seconds(*bare);
  } else {
    magnitude = agent::parse_duration(text);
  }
  if (!magnitude) return std::nullopt;
  return negative ? -*magnitude : *magnitude;
}

// `shoal fault ...`'s request from its words, or what is wrong with them.
std::string fault_request(const std::vector<std::string_view>& positional, uint32_t seconds,
                          bool in_only, bool out_only, proto::ControlRequest& request) {
  const auto sub = positional.empty() ? std::string_view() : positional[0];
  if (sub == "list" && positional.size() == 1) {
    request.mutable_fault_list();
  } else if (sub == "clear" && positional.size() <= 2) {
    auto* clear = request.mutable_fault_clear();
    if (positional.size() == 2) {
      auto id = number_in(positional[1], 1, UINT32_MAX);
      if (!id) return "fault clear: '" + std::string(positional[1]) + "' is not a fault id";
      clear->set_id(*id);
    }
  } else if ((sub == "drop" && positional.size() >= 2) ||
             (sub == "loss" && positional.size() >= 3)) {
    auto* add = request.mutable_fault_add();
    size_t first_peer = 1;
    if (sub == "loss") {
      auto percent = number_in(positional[1], 1, 100);
      if (!percent) return "fault loss: PERCENT is a whole number from 1 to 100";
      add->set_loss_percent(*percent);
      first_peer = 2;
    }
    for (size_t i = first_peer; i < positional.size(); ++i)
      add->add_peers(std::string(positional[i]));
    add->set_seconds(seconds);
    add->set_inbound_only(in_only);
    add->set_outbound_only(out_only);
  } else if (sub == "clock" && positional.size() == 2) {
    if (in_only || out_only) return "fault clock: --in and --out are for drop and loss";
    auto offset = signed_duration(positional[1]);
    if (!offset || offset->count() == 0)
      return "fault clock: OFFSET is a signed duration, not zero: +300, -5m, +1h30m";
    auto* add = request.mutable_fault_add();
    add->set_clock_offset_ms(std::chrono::milliseconds(*offset).count());
    add->set_seconds(seconds);
  } else {
    return "fault expects drop PEER..., loss PERCENT PEER..., clock OFFSET, clear [ID] or list";
  }
  return {};
}

int run_client(const ClientCommand& command, std::vector<std::string_view> args) {
  std::string socket = agent::kDefaultControlSocket;
  bool json = false;
  bool force = false;
  int wait_seconds = 15;
  uint32_t fault_seconds = 60;
  bool in_only = false, out_only = false;
  std::vector<std::string_view> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto a = args[i];
    if (a == "--help" || a == "-h") {
      std::printf(
          "usage: shoal %s %s%s[--json] [--control-socket PATH]\n\n%s\n\n"
          "  --json                 print the agent's answer as JSON\n"
          "  --control-socket PATH  the agent's control socket (default %s)\n",
          command.name.data(), command.args.data(), command.args.empty() ? "" : " ",
          command.help.data(), agent::kDefaultControlSocket);
      return 0;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--control-socket") {
      if (i + 1 >= args.size())
        return usage_error(std::string(command.name) + ": --control-socket needs a path",
                           command.name);
      socket = args[++i];
    } else if (a.starts_with("--control-socket=")) {
      socket = a.substr(17);
    } else if (command.name == "keys" && a == "--force") {
      force = true;
    } else if (command.name == "keys" && a == "--wait") {
      int seconds = -1;
      if (i + 1 < args.size()) {
        const auto v = args[++i];
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
        if (ec != std::errc() || end != v.data() + v.size()) seconds = -1;
      }
      if (seconds < 0 || seconds > 3600)
        return usage_error("keys: --wait needs a number of seconds, 0 to 3600", command.name);
      wait_seconds = seconds;
    } else if (command.name == "fault" && a == "--for") {
      auto seconds = i + 1 < args.size() ? number_in(args[++i], 1, 3600) : std::nullopt;
      if (!seconds)
        return usage_error("fault: --for needs a number of seconds, 1 to 3600", command.name);
      fault_seconds = *seconds;
    } else if (command.name == "fault" && (a == "--in" || a == "--out")) {
      (a == "--in" ? in_only : out_only) = true;
    } else if (a.starts_with("-") && !(a.size() > 1 && a[1] >= '0' && a[1] <= '9')) {
      // "-5m" is a value (`fault clock -5m`), not an option.
      return usage_error(std::string(command.name) + ": unknown option '" + std::string(a) + "'",
                         command.name);
    } else {
      positional.push_back(a);
    }
  }
  proto::ControlRequest request;
  auto want = [&](size_t n) {
    return positional.size() == n
               ? std::string()
               : std::string(command.name) + " expects " +
                     (command.args.empty() ? "no arguments" : std::string(command.args));
  };
  std::string problem;
  if (command.name == "members") {
    problem = want(0);
    request.mutable_members();
  } else if (command.name == "leases") {
    problem = want(0);
    request.mutable_leases();
  } else if (command.name == "status") {
    problem = want(0);
    request.mutable_status();
  } else if (command.name == "leave") {
    problem = want(0);
    request.mutable_leave();
  } else if (command.name == "forget") {
    problem = want(1);
    if (problem.empty()) request.mutable_forget()->set_node(std::string(positional[0]));
  } else if (command.name == "fault") {
    if (in_only && out_only) {
      problem = "fault: --in and --out together are a plain drop; give neither";
    } else {
      problem = fault_request(positional, fault_seconds, in_only, out_only, request);
    }
  } else {  // keys
    const auto sub = positional.empty() ? std::string_view() : positional[0];
    if (sub == "list" && positional.size() == 1) {
      request.mutable_keys_list();
    } else if (sub == "install" && positional.size() == 2) {
      request.mutable_key_install()->set_key(std::string(positional[1]));
    } else if (sub == "use" && positional.size() == 2) {
      request.mutable_key_use()->set_key_id(std::string(positional[1]));
      request.mutable_key_use()->set_force(force);
    } else if (sub == "remove" && positional.size() == 2) {
      request.mutable_key_remove()->set_key_id(std::string(positional[1]));
      request.mutable_key_remove()->set_force(force);
    } else {
      problem = "keys expects list, install KEY, use KEY_ID or remove KEY_ID";
    }
  }
  if (!problem.empty()) return usage_error(problem);

  if ((request.has_key_use() || request.has_key_remove()) && !force) {
    // The agent refuses while a live member lacks its last change, and its view of the
    // others' meta can trail the change that was just confirmed elsewhere by a moment:
    // give it up to --wait to see every live member current first.
    proto::ControlRequest list;
    list.mutable_keys_list();
    if (auto current = cli::call(socket, list, std::chrono::seconds(5)); current)
      cli::wait_for_keys(socket, *current, std::chrono::seconds(wait_seconds));
  }
  auto answer = cli::call(socket, request, std::chrono::seconds(5));
  if (!answer) {
    std::fprintf(stderr, "shoal %s: %s\n", command.name.data(), answer.error().to_string().c_str());
    return 1;
  }
  proto::ControlResponse response = std::move(answer).value();
  if (!response.error().empty()) {
    std::fprintf(stderr, "shoal %s: %s\n", command.name.data(), response.error().c_str());
    return 1;
  }
  int status = 0;
  if (command.name == "keys" && !request.has_keys_list()) {
    // The change is made here; now watch it reach every live member.
    if (!cli::wait_for_keys(socket, response, std::chrono::seconds(wait_seconds)))
      status = wait_seconds > 0 ? 1 : 0;
  }
  if (json) {
    std::printf("%s\n", cli::to_json(response).c_str());
  } else if (command.name == "members") {
    std::fputs(cli::format_members(response).c_str(), stdout);
  } else if (command.name == "leases") {
    std::fputs(cli::format_leases(response).c_str(), stdout);
  } else if (command.name == "status") {
    std::fputs(cli::format_status(response).c_str(), stdout);
  } else {
    if (!response.message().empty()) std::printf("%s\n", response.message().c_str());
    if (command.name == "keys") std::fputs(cli::format_keys(response).c_str(), stdout);
    if (command.name == "fault") std::fputs(cli::format_faults(response).c_str(), stdout);
  }
  if (status != 0)
    std::fprintf(stderr,
                 "shoal keys: not every live member confirmed the change within %d s; it keeps "
                 "spreading (check with `shoal keys list`)\n",
                 wait_seconds);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kUsage.data(), args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string_view command = args[0];
  args.erase(args.begin());
  if (command == "agent") return run_agent(args);
  if (command == "keygen") return keygen(args);
  for (const auto& c : kClientCommands)
    if (command == c.name) return run_client(c, args);
  if (command == "version" || command == "--version") {
    std::printf("shoal %s\n", agent::shoal_version());
    return 0;
  }
  return usage_error("unknown command '" + std::string(command) + "'");
}
