// scripts/bench chaos: split-brain and heal in the simulator, through shoal-chaos's own
// runner and the shipped scenario file. Prints `figure <name> <value> <unit>` lines.
//
// heal_converge_s.sim.n<N>    s    from the heal to a converged cluster: every host up sees
//                                  the hosts up alive and holds the common owner map, no
//                                  overlap (sampled every 250 ms up to 2,000 hosts, 500 ms
//                                  beyond, so that is the resolution)
// renumbered.sim.n<N>         hosts that routed a subnet other than their first
// sim_speed.n<N>              simulated seconds per wall second over the whole run
//
// Arguments: host counts (default 1000). CHAOS_PARTITION_S sets the cut's length (default
// 30 s: at 1,000 hosts the run takes about 2 minutes here, 5 before the simulator fixes of
// a51ae7c-0fd7ea6; the file's 120 s cut is the scenario's full form). 10,000 hosts does
// not fit this machine's memory: see docs/chaos.md.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/figure.h"
#include "chaos/scenario_file.h"
#include "chaos/sim_run.h"
#include "common/file_io.h"

using namespace shoal;
using namespace shoal::chaos;
using shoal::bench::figure;

int main(int argc, char** argv) {
  std::vector<size_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::strtoull(argv[i], nullptr, 10));
  if (sizes.empty()) sizes = {1000};
  const std::string path =
      std::string(SHOAL_SOURCE_DIR) + "/chaos/scenarios/split-brain-and-heal.json";
  auto text = read_file_limited(path, kMaxScenarioBytes);
  if (!text.ok()) {
    std::fprintf(stderr, "bench chaos: %s\n", text.error().to_string().c_str());
    return 1;
  }
  for (size_t n : sizes) {
    if (n < 2 || n > kMaxScenarioHosts) {
      std::fprintf(stderr, "bench chaos: %zu hosts is outside 2..%zu\n", n, kMaxScenarioHosts);
      return 2;
    }
    auto file = parse_scenario(path, *text, {n, false});
    if (!file.ok()) {
      std::fprintf(stderr, "bench chaos: %s\n", file.error().to_string().c_str());
      return 1;
    }
    {
      const char* cut = std::getenv("CHAOS_PARTITION_S");
      const double seconds = cut ? std::strtod(cut, nullptr) : 30;
      if (!(seconds >= 1 && seconds <= 86400)) {
        std::fprintf(stderr, "bench chaos: CHAOS_PARTITION_S must be 1 to 86400 seconds\n");
        return 2;
      }
      for (auto& f : file->timeline)
        if (f.kind == FaultSpec::Kind::kCut) f.for_s = seconds;
      file->duration_s = 30 + seconds + 50;
    }
    if (Status s = simulator_can_run(*file, memory_available()); !s.ok()) {
      std::fprintf(stderr, "bench chaos: %s\n", s.message().c_str());
      return 2;
    }
    const RunReport r = run_in_simulator(*file);
    double heal = -1;
    for (const auto& rec : r.recoveries)
      if (rec.after.find("partition") != std::string::npos) heal = rec.seconds;
    size_t renumbered = 0;
    for (const auto& v : r.verdicts)
      if (v.check == "max_renumbered") renumbered = std::strtoull(v.detail.c_str(), nullptr, 10);
    std::printf("# %zu hosts: %s\n", n, r.passed() ? "all checks hold" : "a check failed:");
    for (const auto& v : r.verdicts)
      if (v.outcome == RunReport::Verdict::Outcome::kFail)
        std::printf("#   %s: %s\n", v.check.c_str(), v.detail.c_str());
    const std::string suffix = ".sim.n" + std::to_string(n);
    if (heal >= 0) {
      figure("heal_converge_s" + suffix, heal, "s");
    } else {
      std::printf("# heal_converge_s%s: did not converge before the run ended\n", suffix.c_str());
    }
    figure("renumbered" + suffix, static_cast<double>(renumbered), "hosts");
    figure("sim_speed.n" + std::to_string(n), r.duration_s / r.wall_s, "sim_s/s");
  }
  return 0;
}
