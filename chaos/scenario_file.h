// A scenario file, as a partition tester writes it (JSON; docs/chaos.md has the schema and
// chaos/scenarios/ the examples): a topology, a timeline of faults and the checks to make.
//
// parse_scenario() reads untrusted text: it never throws, caps the file's size and every
// count in it, and its errors name the key (timeline[2].hosts: ...). Host sets are resolved
// to indexes here, for the size the run asks for, so one file runs at 10 hosts on
// namespaces and at 1,000 in the simulator. A file may only name what exists at that size.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace shoal::chaos {

constexpr size_t kMaxScenarioBytes = 1 << 20;
constexpr size_t kMaxScenarioHosts = 20000;
constexpr size_t kMaxTimelineEvents = 10000;  // after flaps and rolling restarts expand

// One fault on the timeline, with its hosts resolved. A fault with `for_s` > 0 is undone
// that long after it starts; otherwise it lasts until a `heal` (cuts, loss) or for good.
struct FaultSpec {
  enum class Kind : uint8_t {
    kCut,        // from `from` to `to` (and back, if both_ways): partitions, shapes, one-way
    kLoss,       // random loss `loss` on every link touching `hosts` (all hosts: everywhere),
                 // or, with `from` and `to`, on the links between them, both ways
    kBandwidth,  // `hosts`' links limited to `mbit` each way (tbf; not simulated in --sim)
    kDelay,      // `delay_ms` added to every packet on `hosts`' links (--sim only for now)
    kCrash,      // SIGKILL
    kRestart,    // start again from its disk
    kFreeze,     // SIGSTOP, then SIGCONT after for_s
    kClock,      // wall clock set `offset_s` ahead (negative: behind)
    kWipe,       // crash if up, and lose the database
    kHeal,       // undo every cut, loss, bandwidth limit and delay
    kNatReset,   // the NAT routers in front of `hosts` forget every mapping (--sim only)
  };
  Kind kind = Kind::kHeal;
  double at_s = 0;
  double for_s = 0;
  // kCut: a host in `from` cannot reach one in `to` unless `reach` says so (shapes that are
  // not two sets: a ring of majorities); `groups` > 0: cut between every pair of groups.
  std::vector<std::vector<uint32_t>> groups;
  std::vector<uint32_t> from, to;
  bool both_ways = true;
  enum class Shape : uint8_t { kSets, kBridge, kRing } shape = Shape::kSets;
  uint32_t bridge = 0;  // kBridge: the one host both sides reach
  std::vector<uint32_t> hosts;
  double loss = 0;
  double mbit = 0;
  double delay_ms = 0;
  double offset_s = 0;
  std::string text;  // as the timeline shows it: "partition halves (h1-h5 | h6-h10)"
  // Whether the time to agree again after its end is held to checks.converge_within_s. A
  // flap's cuts are not, but its last: "once the link stays up".
  bool timed = true;
};

struct ScenarioFile {
  std::string name;
  std::string summary;
  uint64_t seed = 1;
  size_t hosts = 10;
  std::vector<std::string> sites;      // in order: each its own host count, or an even share
  std::vector<uint32_t> site_of_host;  // index into sites, per host
  // Per site: "" (on the public underlay), or the NAT router it sits behind: "cone" or
  // "symmetric" (chaos/nat.h; on namespaces, nftables routers: chaos/netns_lab.h).
  std::vector<std::string> site_nat;
  // Per site: on a LAN of its own behind a plain router (no NAT) rather than on the public
  // segment. Namespaces only: the simulator has no segments.
  std::vector<bool> site_routed;
  bool site_behind_nat(size_t site) const {
    return site < site_nat.size() && !site_nat[site].empty();
  }
  bool behind_nat(uint32_t host) const {
    return host < site_of_host.size() && site_behind_nat(site_of_host[host]);
  }
  bool has_nat() const {
    return std::any_of(site_nat.begin(), site_nat.end(), [](const auto& n) { return !n.empty(); });
  }
  std::string backend = "vxlan";
  // The agents share a cluster key (gossip is sealed) and, with the udp backend, seal the
  // tunnel (Encrypt), which it needs to cross NATs: its sessions learn where peers are.
  bool encrypt = false;
  size_t pods_per_host = 1;
  std::string network = "100.64.0.0/10";  // 16,383 /24s: room for 10,000 hosts
  unsigned subnet_len = 24;
  double duration_s = 60;
  double lease_ttl_s = 0;  // 0: the agent's default (24 h)
  size_t pool_size = 0;    // subnets the network holds for hosts (flannel's SubnetMin rule)
  // Tests of the harness itself, each for one check to fail on: "keep-lost-subnet" and
  // "never-claim" plant lease::LeaseConfig's bugs (--sim), "unreachable-pod" blackholes h1p1's
  // traffic and "corrupt-database" overwrites h1's database after the agents stop (namespaces).
  std::string planted_bug;
  std::vector<FaultSpec> timeline;  // sorted by at_s

  // A user's service in the pods (namespaces only): `start` runs in every pod once it has an
  // address, `check` runs every `every_s` in the first pod, bounded by `timeout_s`; both with
  // `sh -c`, in `dir` (the scenario file's folder), with POD_NAME, POD_ADDRESS and PEERS_FILE
  // (every pod's address, one a line, kept up to date) in their environment.
  struct Workload {
    std::string start, check;
    double every_s = 2, timeout_s = 10;
    std::string dir;
  };
  std::optional<Workload> workload;

  struct Checks {
    double converge_within_s = 10;     // after each fault ends, the cluster agrees this soon
    bool members_agree = true;         // every host up sees exactly the hosts up, alive
    bool owners_agree = true;          // every host up computes the same owner map
    bool no_overlap = true;            // no two hosts up own overlapping subnets
    bool no_false_deaths = true;       // nobody reachable and running is declared dead
    bool databases_open = true;        // (namespaces) each host's database opens cleanly
    bool pods_reach = true;            // (namespaces) every pod pings every pod once healed
    bool workload = true;              // (namespaces) the workload's check passes once healed
    size_t max_renumbered = SIZE_MAX;  // hosts that may lose their subnet in the run
  } checks;
};

struct ScenarioSize {
  size_t hosts = 0;         // 0: the file's
  bool short_form = false;  // the file's "short" block: fewer hosts, times scaled down
};

Result<ScenarioFile> parse_scenario(std::string_view source, std::string_view text,
                                    ScenarioSize size = {});

std::string_view to_string(FaultSpec::Kind kind);

// The hosts the others join through: the first host of each site, then hosts spread over the
// cluster, up to three, so that a seed that restarts has others to join. Every mode uses them.
std::vector<uint32_t> seed_hosts(const ScenarioFile& file);

// Hosts whose first event is a restart: they join late, not at the start.
std::vector<bool> late_joiners(const ScenarioFile& file);

// The timeline as the modes with real agents play it: each fault's start, and its end when it
// has a length, in time order (a start before an end at the same time, as in the file).
struct TimelineAction {
  double at;
  size_t fault;  // index in ScenarioFile::timeline
  bool end;
};
std::vector<TimelineAction> timeline_actions(const ScenarioFile& file);

}  // namespace shoal::chaos
