// What a shoal-chaos run found, in one shape whatever ran it (the simulator today; network
// namespaces and real clusters write the same): a timeline, a verdict per check, samples of
// the cluster's agreement over time, and three ways to show it.
//
//   to_text(r)  the timeline and the verdicts, for a terminal
//   to_json(r)  everything, for machines
//   to_html(r)  a self-contained page with an SVG timeline: faults as bands, hosts alive
//               and owner-map agreement over time, per host when there are few
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace shoal::chaos {

struct RunReport {
  std::string scenario;
  std::string summary;
  std::string mode;  // "sim" or "namespaces"
  size_t hosts = 0;
  uint64_t seed = 0;
  double duration_s = 0;
  double wall_s = 0;  // how long the run took

  struct Event {
    double t = 0;
    std::string what;
    enum class Kind : uint8_t { kFault, kRecovery, kCluster } kind = Kind::kFault;
  };
  std::vector<Event> timeline;  // in time order

  struct Band {  // a fault while it lasted; to = duration_s if it never ended
    double from = 0, to = 0;
    std::string label;
  };
  std::vector<Band> bands;

  struct Verdict {
    std::string check;
    enum class Outcome : uint8_t { kPass, kFail, kSkipped } outcome = Outcome::kPass;
    std::string detail;  // what held, what broke, or why it was not checked
  };
  std::vector<Verdict> verdicts;

  // Time from the end of a fault to the cluster agreeing again (< 0: it never did).
  struct Recovery {
    double fault_end = 0;
    std::string after;
    double seconds = -1;
    double reach_seconds = -1;  // to every pod reaching every pod again (< 0: never, or unprobed)
    // When an earlier agreement (reach) after this fault fell apart before the next fault,
    // the time it had come (< 0: none did), for the timeline to say so.
    double agreed_before = -1;
    double reached_before = -1;
  };
  std::vector<Recovery> recoveries;

  // One sample of the cluster. Host states: 0 down, 1 agrees (sees the hosts up as alive
  // and holds the common owner map), 2 its member view is off, 3 its owner map differs.
  struct Sample {
    double t = 0;
    uint32_t up = 0;
    float members_agree = 0;          // fraction of hosts up whose member view is right
    float owners_agree = 0;           // fraction of hosts up holding the most common owner map
    float pods_reach = -1;            // pod pairs that answered the last probe round (< 0: none)
    std::vector<uint8_t> host_state;  // per host, only when hosts <= kMaxHostRows
  };
  static constexpr size_t kMaxHostRows = 64;
  std::vector<Sample> samples;

  bool passed() const;
};

std::string to_text(const RunReport& report);
std::string to_json(const RunReport& report);
std::string to_html(const RunReport& report);

}  // namespace shoal::chaos
