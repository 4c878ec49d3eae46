// shoal-chaos: runs a partition-testing scenario file and says whether the cluster held up,
// on network namespaces with real agents (root), against a real cluster (--cluster FILE), or
// in the simulator (--sim). docs/chaos.md says what each mode can do.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "chaos/cluster_run.h"
#include "chaos/netns_run.h"
#include "chaos/run_report.h"
#include "chaos/scenario_file.h"
#include "chaos/sim_run.h"
#include "common/file_io.h"

using namespace shoal;
using namespace shoal::chaos;

namespace {

constexpr const char* kUsage =
    R"(usage: shoal-chaos run SCENARIO.json [--sim | --cluster FILE] [options]
       shoal-chaos check SCENARIO.json [--hosts N] [--short]

Runs a scenario (a topology, a timeline of faults, the checks to make: docs/chaos.md) and
prints what the cluster did and a verdict per check. The exit status is 0 only when every
check holds; 1 when one failed; 2 on bad usage or a bad scenario file; 3 when the run could
not be made (not root, a set-up step failed, too little memory for --sim); 130 when
interrupted. Ctrl-C and SIGTERM stop a run and remove everything it made.

  run      runs the scenario
  check    reads the file and prints the timeline it resolves to, without running it

where it runs:
  (default)      on network namespaces on this machine, as root: real `shoal agent`s, real
                 pods pinging each other over the real datapath, faults on the underlay
                 switch and as signals to the agents; up to 200 hosts
  --sim          in the simulator: every host a real gossip and lease core on virtual
                 time, from 2 hosts to what memory holds (it grows as hosts squared:
                 1.5 GB at 1,000, 150 GB at 10,000; a run that does not fit is refused);
                 no root needed, deterministic per seed
  --cluster FILE against a running shoal cluster the harness did not start: FILE says how
                 to reach each host's `shoal` (ssh, ...); every agent needs AllowFaults.
                 Only what `shoal fault` does (cuts, flaps, loss, a moved clock), each
                 fault expiring on its own; no pods, so pods_reach is skipped

options:
  --hosts N      run with N hosts instead of the file's topology.hosts
  --short        the file's short form (its "short" block: fewer hosts, shorter times)
  --seed N       the random seed (default: the file's "seed")
  --out DIR      also write report.txt, report.json and report.html (an SVG timeline) there
  --json         print the JSON report instead of the text one
  --shoal PATH   namespaces: the shoal binary the agents run (default: the one beside
                 shoal-chaos, else `shoal` in PATH)
  --work DIR     namespaces: where the agents keep their files and logs, left there
                 (default: a new directory under /tmp, removed when the run passes or is
                 interrupted, kept when it fails)
  --verbose      namespaces and --cluster: say each step on stderr
  -h, --help     this text
)";

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr, "shoal-chaos: %s\n(see shoal-chaos --help)\n", what.c_str());
  std::exit(2);
}

uint64_t whole(const char* flag, const char* value, uint64_t min, uint64_t max) {
  if (!value) usage_error(std::string(flag) + " needs a value");
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(value, &end, 10);
  if (end == value || *end != '\0' || errno != 0 || v < min || v > max || value[0] == '-')
    usage_error(std::string(flag) + " must be a whole number from " + std::to_string(min) + " to " +
                std::to_string(max) + ", not '" + value + "'");
  return v;
}

std::atomic<bool> g_stop{false};
void on_stop_signal(int) { g_stop = true; }

// Without SA_RESTART, so that a wait in progress ends at once and the run stops and cleans up.
void stop_on_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signal, &action, nullptr);
}

// The shoal binary beside this one (an installed pair, or the build tree's cli/), else PATH's.
std::string default_shoal() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec)
    for (const auto& candidate :
         {self.parent_path() / "shoal", self.parent_path() / "../cli/shoal"})
      if (std::filesystem::exists(candidate, ec)) return std::filesystem::absolute(candidate, ec);
  return "shoal";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage_error("say what to do: run or check");
  const std::string_view command = argv[1];
  if (command == "-h" || command == "--help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (command == "--version") {
    std::printf("shoal-chaos %s\n", SHOAL_VERSION);
    return 0;
  }
  if (command != "run" && command != "check")
    usage_error("unknown command '" + std::string(command) + "'; it is run or check");
  std::string path, out_dir, cluster_path;
  bool sim = false, json = false;
  NetnsOptions netns;
  ScenarioSize size;
  std::optional<uint64_t> seed;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--sim") {
      sim = true;
    } else if (a == "--cluster") {
      if (!v) usage_error("--cluster needs a cluster file");
      cluster_path = v, ++i;
    } else if (a == "--short") {
      size.short_form = true;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--hosts") {
      size.hosts = whole("--hosts", v, 2, kMaxScenarioHosts), ++i;
    } else if (a == "--seed") {
      seed = whole("--seed", v, 0, uint64_t{1} << 53), ++i;
    } else if (a == "--verbose") {
      netns.verbose = true;
    } else if (a == "--shoal") {
      if (!v) usage_error("--shoal needs a path");
      netns.shoal = v, ++i;
    } else if (a == "--work") {
      if (!v) usage_error("--work needs a directory");
      netns.work_dir = v, ++i;
    } else if (a == "--out") {
      if (!v) usage_error("--out needs a directory");
      out_dir = v, ++i;
    } else if (!a.empty() && a[0] == '-') {
      usage_error("unknown option '" + std::string(a) + "'");
    } else if (path.empty()) {
      path = a;
    } else {
      usage_error("one scenario file at a time; '" + std::string(a) + "' is one too many");
    }
  }
  if (path.empty()) usage_error("name a scenario file (chaos/scenarios/ has examples)");
  auto text = read_file_limited(path, kMaxScenarioBytes);
  if (!text.ok()) usage_error(text.error().to_string());
  auto file = parse_scenario(path, *text, size);
  if (!file.ok()) usage_error(file.error().to_string());
  if (seed) file->seed = *seed;

  if (command == "check") {
    std::printf("%s: %zu hosts in %zu sites, %.0f s, seed %llu\n", file->name.c_str(), file->hosts,
                file->sites.size(), file->duration_s, static_cast<unsigned long long>(file->seed));
    for (const FaultSpec& f : file->timeline)
      std::printf(
          "  %8.1fs  %s%s\n", f.at_s, f.text.c_str(),
          f.for_s > 0 ? (" for " + std::to_string(f.for_s).substr(0, 5) + " s").c_str() : "");
    return 0;
  }
  if (sim && !cluster_path.empty()) usage_error("--sim and --cluster: choose one");
  RunReport report;
  if (sim) {
    if (Status s = simulator_can_run(*file, memory_available()); !s.ok()) {
      if (s.code() != Status::Code::kUnavailable) usage_error(s.message());
      std::fprintf(stderr, "shoal-chaos: %s\n", s.message().c_str());
      return 3;
    }
    report = run_in_simulator(*file);
  } else if (!cluster_path.empty()) {
    auto cluster_text = read_file_limited(cluster_path, kMaxClusterBytes);
    if (!cluster_text.ok()) usage_error(cluster_text.error().to_string());
    auto cluster = parse_cluster(cluster_path, *cluster_text);
    if (!cluster.ok()) usage_error(cluster.error().to_string());
    if (Status s = cluster_can_run(*file, *cluster); !s.ok()) usage_error(s.message());
    stop_on_signals();
    auto ran = run_on_cluster(*file, *cluster, {netns.verbose}, g_stop);
    if (!ran.ok()) {
      std::fprintf(stderr, "shoal-chaos: %s\n", ran.error().to_string().c_str());
      return g_stop ? 130 : 3;
    }
    report = std::move(*ran);
  } else {
    if (Status s = namespaces_can_run(*file); !s.ok()) usage_error(s.message());
    if (netns.shoal == "shoal") netns.shoal = default_shoal();
    stop_on_signals();
    auto ran = run_in_namespaces(*file, netns, g_stop);
    if (!ran.ok()) {
      std::fprintf(stderr, "shoal-chaos: %s\n", ran.error().to_string().c_str());
      return g_stop ? 130 : 3;
    }
    report = std::move(*ran);
  }
  std::fputs(json ? to_json(report).c_str() : to_text(report).c_str(), stdout);
  if (!out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) usage_error("--out " + out_dir + ": " + ec.message());
    for (const auto& [name, content] :
         {std::pair{"report.txt", to_text(report)}, std::pair{"report.json", to_json(report)},
          std::pair{"report.html", to_html(report)}}) {
      if (Status s = write_file_atomically(out_dir + "/" + name, content); !s.ok()) {
        std::fprintf(stderr, "shoal-chaos: %s\n", s.to_string().c_str());
        return 2;
      }
    }
    std::fprintf(stderr, "shoal-chaos: wrote %s/report.{txt,json,html}\n", out_dir.c_str());
  }
  return report.passed() ? 0 : 1;
}
