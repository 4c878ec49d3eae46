// The how of sim_run.h: the timeline becomes simulator actions, a sampler reads the cores at
// a fixed step, and the Judge (judge.h) keeps the books and gives the verdicts.
#include "chaos/sim_run.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "chaos/judge.h"
#include "chaos/lease_cluster.h"
#include "common/file_io.h"
#include "common/quoted.h"

namespace shoal::chaos {
namespace {

Duration seconds_of(double s) { return Duration(static_cast<int64_t>(s * 1e6)); }

// A sample costs O(hosts), so the step only grows where the report would be too long.
Duration sample_step(size_t hosts) {
  if (hosts <= 200) return 100ms;
  if (hosts <= 2000) return 250ms;
  return 500ms;
}

class SimRun {
 public:
  explicit SimRun(const ScenarioFile& file)
      : file_(file),
        cluster_(file.seed, file.hosts, lease_config(file), gossip::Config::lan(), nat_sites(file)),
        sim_(cluster_.sim()),
        judge_(file, "sim", file.seed),
        step_(sample_step(file.hosts)) {}

  RunReport run() {
    const auto wall_start = std::chrono::steady_clock::now();
    for (uint32_t h = 0; h < file_.hosts; ++h)
      cluster_.set_site(h, file_.sites[file_.site_of_host[h]]);
    seeds_ = seed_hosts(file_);
    const std::vector<bool> late = late_joiners(file_);
    // Members start over a window that grows with the cluster, as a real one would.
    const Duration window = std::min<Duration>(10s, Duration(1ms) * (10 * file_.hosts));
    Rng starts(file_.seed ^ 0x5eed5eed5eedULL);
    for (uint32_t h = 0; h < file_.hosts; ++h) {
      if (late[h]) continue;
      const bool seed = std::count(seeds_.begin(), seeds_.end(), h) > 0;
      const Duration at =
          seed ? Duration::zero() : Duration(starts.below(static_cast<uint64_t>(window.count())));
      sim_.at(kTimeZero + at, [this, h] { cluster_.start(h, seeds_); });
    }
    if (std::find(file_.site_routed.begin(), file_.site_routed.end(), true) !=
        file_.site_routed.end())
      judge_.log(0, "routed sites are on the public underlay here: the simulator has no segments",
                 RunReport::Event::Kind::kCluster);
    sim_.on_event([this](TimePoint, NodeIndex observer, const gossip::Event& e) {
      if (e.kind != gossip::Event::Kind::kDead) return;
      auto subject = sim_.index_of(e.member.id);
      if (!subject) return;
      const bool up = sim_.is_up(*subject) && !sim_.is_frozen(*subject);
      // A death at an incarnation below the one the subject's current life started at is
      // the death of an earlier life (it crashed, and has just restarted): a suspicion of
      // the crashed host that ran out a moment after the restart, before the new life's
      // alive came. Right about what it saw; not a false death.
      const bool this_life = up && e.member.incarnation >= sim_.life_incarnation(*subject);
      judge_.death(now_s(), observer, *subject,
                   this_life && sim_.network().reachable(observer, *subject) &&
                       sim_.network().reachable(*subject, observer));
    });
    for (const FaultSpec& f : file_.timeline) schedule(f);
    sample_at(kTimeZero + step_);
    sim_.run_until(kTimeZero + seconds_of(file_.duration_s));
    log_full_nat_tables();
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    Judge::Extra extra;
    extra.databases_open =
        RunReport::Verdict{"databases_open", RunReport::Verdict::Outcome::kSkipped,
                           "not in --sim: the simulator keeps no database file"};
    extra.no_pods_reason = "not in --sim: there is no datapath";
    extra.no_workload_reason = "not in --sim: there are no pods to run it in";
    return judge_.finish(now_s(), views(), member_problem(), extra, wall);
  }

 private:
  static lease::LeaseConfig lease_config(const ScenarioFile& f) {
    lease::LeaseConfig c = LeaseCluster::config_for(f.network, f.subnet_len);
    c.planted_keep_lost_subnet = f.planted_bug == "keep-lost-subnet";
    c.planted_never_claim = f.planted_bug == "never-claim";
    if (f.lease_ttl_s > 0) {
      c.ttl = std::chrono::duration_cast<std::chrono::milliseconds>(seconds_of(f.lease_ttl_s));
      c.renew_after = c.ttl / 2;  // as the agent renews (agent/agent.cc)
    }
    return c;
  }

  // The file's NAT sites as the simulator numbers them: site k+1 for the k-th site with NAT.
  static LeaseCluster::NatSites nat_sites(const ScenarioFile& f) {
    LeaseCluster::NatSites nat;
    std::vector<SiteIndex> index(f.sites.size(), 0);
    for (size_t s = 0; s < f.sites.size(); ++s) {
      if (!f.site_behind_nat(s)) continue;
      nat.kinds.push_back(f.site_nat[s] == "symmetric" ? NatKind::kSymmetric : NatKind::kCone);
      index[s] = static_cast<SiteIndex>(nat.kinds.size());
    }
    if (nat.kinds.empty()) return nat;
    for (uint32_t h = 0; h < f.hosts; ++h) nat.of_node.push_back(index[f.site_of_host[h]]);
    return nat;
  }

  double now_s() const { return to_seconds(sim_.now()); }

  // A router whose table filled dropped datagrams no fault asked for: the report says so,
  // since every check after it is judged on a network the scenario did not describe.
  void log_full_nat_tables() {
    SiteIndex index = 0;
    for (size_t s = 0; s < file_.sites.size(); ++s) {
      if (!file_.site_behind_nat(s)) continue;
      const Nat& nat = sim_.nat(++index);
      if (nat.dropped_full() == 0) continue;
      judge_.log(now_s(),
                 "the NAT router of site " + file_.sites[s] + " dropped " +
                     std::to_string(nat.dropped_full()) +
                     " datagrams because its table was full (" + std::to_string(nat.max_flows()) +
                     " flows, " + std::to_string(Nat::kPorts) + " ports)",
                 RunReport::Event::Kind::kCluster);
    }
  }

  void schedule(const FaultSpec& f) {
    sim_.at(kTimeZero + seconds_of(f.at_s), [this, &f] {
      const size_t band = judge_.fault_started(now_s(), f);
      const std::optional<uint64_t> cut = apply(f);
      if (f.for_s > 0)
        sim_.at(kTimeZero + seconds_of(f.at_s + f.for_s), [this, &f, cut, band] {
          undo(f, cut);
          judge_.fault_ended(now_s(), f, band);
        });
    });
  }

  std::optional<uint64_t> apply(const FaultSpec& f) {
    Network& net = sim_.network();
    switch (f.kind) {
      case FaultSpec::Kind::kCut: {
        CutPredicate cut = cut_predicate(f, file_.hosts);
        return net.add_cut([cut = std::move(cut)](NodeIndex a, NodeIndex b) { return cut(a, b); });
      }
      case FaultSpec::Kind::kLoss:
        if (!f.from.empty()) return net.add_link_loss(cut_predicate(f, file_.hosts), f.loss);
        if (f.hosts.size() == file_.hosts) {
          net.set_loss(f.loss);
        } else {
          for (uint32_t h : f.hosts) net.set_node_loss(h, f.loss);
        }
        break;
      case FaultSpec::Kind::kCrash:
        for (uint32_t h : f.hosts) crash(h);
        break;
      case FaultSpec::Kind::kWipe:
        for (uint32_t h : f.hosts) {
          crash(h);
          cluster_.disk(h) = {};
        }
        break;
      case FaultSpec::Kind::kRestart:
        for (uint32_t h : f.hosts) {
          if (sim_.is_up(h)) crash(h);
          cluster_.start(h, seeds_);
          judge_.host_running(h);
        }
        break;
      case FaultSpec::Kind::kFreeze:
        for (uint32_t h : f.hosts)
          if (sim_.is_up(h)) {
            sim_.freeze(h);
            judge_.host_stopped(now_s(), h);
          }
        break;
      case FaultSpec::Kind::kClock:
        for (uint32_t h : f.hosts)
          sim_.set_clock_skew(h,
                              std::chrono::milliseconds(static_cast<int64_t>(f.offset_s * 1000)));
        break;
      case FaultSpec::Kind::kBandwidth:
        judge_.log(now_s(), "bandwidth limits are not simulated: this fault has no effect in --sim",
                   RunReport::Event::Kind::kCluster);
        break;
      case FaultSpec::Kind::kDelay:
        for (uint32_t h : f.hosts)
          net.set_node_delay(h, std::chrono::microseconds(static_cast<int64_t>(f.delay_ms * 1000)));
        break;
      case FaultSpec::Kind::kHeal:
        net.heal();
        break;
      case FaultSpec::Kind::kNatReset: {
        std::set<SiteIndex> sites;
        for (uint32_t h : f.hosts) sites.insert(sim_.site_of(h));
        for (SiteIndex s : sites)
          if (s != 0) sim_.nat(s).flush();
        break;
      }
    }
    return std::nullopt;
  }

  void undo(const FaultSpec& f, std::optional<uint64_t> cut) {
    Network& net = sim_.network();
    switch (f.kind) {
      case FaultSpec::Kind::kCut:
        if (cut) net.remove_cut(*cut);
        break;
      case FaultSpec::Kind::kLoss:
        if (!f.from.empty()) {
          if (cut) net.remove_link_loss(*cut);
        } else if (f.hosts.size() == file_.hosts) {
          net.set_loss(0);
        } else {
          for (uint32_t h : f.hosts) net.set_node_loss(h, 0);
        }
        break;
      case FaultSpec::Kind::kFreeze:
        for (uint32_t h : f.hosts) {
          sim_.thaw(h);
          judge_.host_thawed(now_s(), h);
        }
        break;
      case FaultSpec::Kind::kClock:
        for (uint32_t h : f.hosts) sim_.set_clock_skew(h, std::chrono::milliseconds(0));
        break;
      case FaultSpec::Kind::kCrash:
      case FaultSpec::Kind::kWipe:
        for (uint32_t h : f.hosts) {
          cluster_.start(h, seeds_);
          judge_.host_running(h);
        }
        break;
      case FaultSpec::Kind::kDelay:
        for (uint32_t h : f.hosts) net.set_node_delay(h, Duration::zero());
        break;
      case FaultSpec::Kind::kRestart:
      case FaultSpec::Kind::kHeal:
      case FaultSpec::Kind::kBandwidth:
      case FaultSpec::Kind::kNatReset:
        break;
    }
  }

  void crash(uint32_t h) {
    if (!sim_.is_up(h)) return;
    cluster_.crash(h);
    judge_.host_stopped(now_s(), h);
  }

  // Every host's view, read from its cores. A host's owner map is keyed by the hash its lease
  // core keeps of it (O(1)): comparing the maps themselves would cost O(hosts^2) per sample,
  // and the table's hash would count a renewal still spreading as a disagreement, which the
  // agents' owner maps (subnet and owner, read over the control socket) do not.
  std::vector<HostView> views() {
    std::vector<HostView> v(file_.hosts);
    for (uint32_t h = 0; h < file_.hosts; ++h) {
      if (!sim_.is_up(h) || sim_.is_frozen(h)) continue;
      const auto* core = sim_.core(h);
      const lease::LeaseCore* lease = cluster_.lease(h);
      v[h].up = true;
      v[h].alive = core->count(gossip::MemberState::kAlive);
      v[h].suspect = core->count(gossip::MemberState::kSuspect);
      v[h].owners_key = lease->owners_hash();
      v[h].ready_subnet = lease->ready_subnet();
      v[h].owned = lease->owners().size();
    }
    return v;
  }

  // What host h gets wrong about the hosts up (once per sample: O(hosts)).
  MemberProblem member_problem() {
    return [this](uint32_t h, const std::vector<uint32_t>& up) {
      const auto* core = sim_.core(h);
      std::string problem =
          first_member_problem(h, up, [&](uint32_t other) -> std::optional<std::string> {
            const gossip::Member* m = core->find(sim_.id(other));
            if (!m) return std::nullopt;
            return std::string(gossip::to_string(m->state));
          });
      if (!problem.empty()) return problem;
      return host_name(h) + " sees " + std::to_string(core->count(gossip::MemberState::kAlive)) +
             " alive of " + std::to_string(up.size()) + " up";
    };
  }

  void sample_at(TimePoint t) {
    sim_.at(t, [this, t] {
      judge_.sample(now_s(), views(), member_problem());
      if (t + step_ <= kTimeZero + seconds_of(file_.duration_s)) sample_at(t + step_);
    });
  }

  const ScenarioFile& file_;
  LeaseCluster cluster_;
  Simulator& sim_;
  Judge judge_;
  Duration step_;
  std::vector<NodeIndex> seeds_;
};

// Heaptrack and peak RSS (`scripts/bench chaos`): 140 MB at 300 hosts, 1.46 GB at 1,000.
constexpr uint64_t kBytesPerHostPair = 1500;
constexpr uint64_t kBaseBytes = uint64_t{64} << 20;

std::string gigabytes(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GB", static_cast<double>(bytes) / 1e9);
  return text;
}

}  // namespace

std::optional<uint64_t> memory_available() {
  auto meminfo = read_file_limited("/proc/meminfo", 64 * 1024);
  if (!meminfo.ok()) return std::nullopt;
  const std::string_view key = "MemAvailable:";
  const size_t at = meminfo->find(key);
  if (at == std::string::npos) return std::nullopt;
  size_t i = at + key.size();
  while (i < meminfo->size() && (*meminfo)[i] == ' ') ++i;
  uint64_t kib = 0;
  const char* end = meminfo->data() + meminfo->size();
  const auto [next, error] = std::from_chars(meminfo->data() + i, end, kib);
  if (error != std::errc() || kib > (uint64_t{1} << 50)) return std::nullopt;
  return kib * 1024;
}

uint64_t simulator_bytes_needed(size_t hosts) {
  return kBaseBytes + kBytesPerHostPair * static_cast<uint64_t>(hosts) * hosts;
}

Status simulator_can_run(const ScenarioFile& file, std::optional<uint64_t> available_bytes) {
  if (!file.planted_bug.empty() && file.planted_bug != "keep-lost-subnet" &&
      file.planted_bug != "never-claim")
    return Status::unsupported("planted_bug " + file.planted_bug +
                               " breaks pods or database files, which the simulator has none "
                               "of: run it on namespaces");
  if (available_bytes && simulator_bytes_needed(file.hosts) > *available_bytes) {
    const uint64_t room = *available_bytes > kBaseBytes ? *available_bytes - kBaseBytes : 0;
    const auto fit = static_cast<size_t>(std::sqrt(static_cast<double>(room) / kBytesPerHostPair));
    return Status::unavailable(
        "at " + std::to_string(file.hosts) + " hosts the simulator needs about " +
        gigabytes(simulator_bytes_needed(file.hosts)) +
        " of memory (every host keeps a member entry and a lease record for every other, about " +
        std::to_string(kBytesPerHostPair) + " bytes per pair), and " + gigabytes(*available_bytes) +
        " are available here: use at most " + std::to_string(fit / 100 * 100) + " hosts");
  }
  std::vector<size_t> hosts_in(file.sites.size());
  for (uint32_t h = 0; h < file.hosts; ++h) ++hosts_in[file.site_of_host[h]];
  for (size_t s = 0; s < file.sites.size(); ++s)
    if (file.site_behind_nat(s) && hosts_in[s] > kMaxSiteMembers)
      return Status::unsupported(
          "site " + shoal::quoted(file.sites[s]) + " puts " + std::to_string(hosts_in[s]) +
          " hosts behind NAT: the simulator gives a site behind NAT at "
          "most " +
          std::to_string(kMaxSiteMembers) + " (one /24 LAN); use fewer hosts or more sites");
  return {};
}

RunReport run_in_simulator(const ScenarioFile& file) { return SimRun(file).run(); }

}  // namespace shoal::chaos
