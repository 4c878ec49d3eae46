// Feeds arbitrary bytes to shoal-chaos's two file readers, a scenario and a cluster file
// (both text people write, and scenario files are shared): nothing may crash, leak or trip a
// sanitizer; every error says something and carries no control characters; a parsed
// scenario's timeline stays inside its duration and its hosts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chaos/cluster_file.h"
#include "chaos/scenario_file.h"
#include "tests/fuzz/check_message.h"

using namespace shoal;
using namespace shoal::chaos;
using shoal::fuzz::check_message;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cluster = parse_cluster("fuzz.json", text);
  if (!cluster) {
    check_message(cluster.error().to_string());
  } else if (cluster->hosts.size() < 2 || cluster->hosts.size() > kMaxClusterHosts) {
    std::abort();
  }
  for (const bool short_form : {false, true}) {
    auto scenario = parse_scenario("fuzz.json", text, {.short_form = short_form});
    if (!scenario) {
      check_message(scenario.error().to_string());
      continue;
    }
    for (const FaultSpec& f : scenario->timeline) {
      if (f.at_s < 0 || f.for_s < 0) std::abort();
      for (uint32_t h : f.hosts)
        if (h >= scenario->hosts) std::abort();
    }
  }
  return 0;
}
