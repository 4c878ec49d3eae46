// The how of sim_run.h: the timeline becomes simulator actions, a sampler watches the
// cluster at a fixed step, and the verdicts are made from the samples and the events.
#include "chaos/sim_run.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "chaos/lease_cluster.h"

namespace shoal::chaos {
namespace {

using Outcome = RunReport::Verdict::Outcome;

Duration seconds_of(double s) { return Duration(static_cast<int64_t>(s * 1e6)); }

std::string seconds_text(double s) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f s", s);
  return buffer;
}

// A sample costs O(hosts), so the step only grows where the report would be too long.
Duration sample_step(size_t hosts) {
  if (hosts <= 200) return 100ms;
  if (hosts <= 2000) return 250ms;
  return 500ms;
}

// The network cut a kCut fault stands for.
Network::Cut cut_of(const FaultSpec& f, size_t hosts) {
  switch (f.shape) {
    case FaultSpec::Shape::kRing: {
      // Within `reach` either way: 2 * reach + 1 hosts, a majority, with itself.
      const auto n = static_cast<int64_t>(hosts), reach = (n / 2 + 1) / 2;
      return [n, reach](NodeIndex a, NodeIndex b) {
        const int64_t d = std::abs(static_cast<int64_t>(a) - static_cast<int64_t>(b));
        return std::min(d, n - d) > reach;
      };
    }
    case FaultSpec::Shape::kBridge:
    case FaultSpec::Shape::kSets:
      break;
  }
  if (!f.groups.empty()) {
    std::vector<int> group(hosts, -1);  // -1: in no group, reaches everyone
    for (size_t g = 0; g < f.groups.size(); ++g)
      for (uint32_t h : f.groups[g]) group[h] = static_cast<int>(g);
    return [group = std::move(group)](NodeIndex a, NodeIndex b) {
      return group[a] >= 0 && group[b] >= 0 && group[a] != group[b];
    };
  }
  std::vector<bool> from(hosts), to(hosts);
  for (uint32_t h : f.from) from[h] = true;
  for (uint32_t h : f.to) to[h] = true;
  const bool both = f.both_ways;
  return [from = std::move(from), to = std::move(to), both](NodeIndex a, NodeIndex b) {
    return (from[a] && to[b]) || (both && from[b] && to[a]);
  };
}

class SimRun {
 public:
  explicit SimRun(const ScenarioFile& file)
      : file_(file),
        cluster_(file.seed, file.hosts, lease_config(file)),
        sim_(cluster_.sim()),
        step_(sample_step(file.hosts)) {
    report_.scenario = file.name;
    report_.summary = file.summary;
    report_.mode = "sim";
    report_.hosts = file.hosts;
    report_.seed = file.seed;
    report_.duration_s = file.duration_s;
    first_ready_.resize(file.hosts);
    renumbered_.resize(file.hosts);
  }

  RunReport run() {
    const auto wall_start = std::chrono::steady_clock::now();
    for (uint32_t h = 0; h < file_.hosts; ++h)
      cluster_.set_site(h, file_.sites[file_.site_of_host[h]]);
    // Seeds: the first host of each site, then hosts spread over the cluster up to three,
    // so that a seed that restarts has others to join (an agent would also rejoin the
    // peers its database remembers).
    for (uint32_t h = 0; h < file_.hosts && seeds_.size() < 3; ++h)
      if (h == 0 || file_.site_of_host[h] != file_.site_of_host[h - 1]) seeds_.push_back(h);
    for (uint32_t k = 1; k < 3 && seeds_.size() < 3; ++k) {
      const auto h = static_cast<uint32_t>(k * file_.hosts / 3);
      if (!std::count(seeds_.begin(), seeds_.end(), h)) seeds_.push_back(h);
    }
    const std::set<uint32_t> late = late_joiners();
    // Members start over a window that grows with the cluster, as a real one would.
    const Duration window = std::min<Duration>(10s, Duration(1ms) * (10 * file_.hosts));
    Rng starts(file_.seed ^ 0x5eed5eed5eedULL);
    for (uint32_t h = 0; h < file_.hosts; ++h) {
      if (late.count(h)) continue;
      const bool seed = std::count(seeds_.begin(), seeds_.end(), h) > 0;
      const Duration at =
          seed ? Duration::zero() : Duration(starts.below(static_cast<uint64_t>(window.count())));
      sim_.at(kTimeZero + at, [this, h] { cluster_.start(h, seeds_); });
    }
    if (file_.pool_size < file_.hosts)
      log("the pool holds " + std::to_string(file_.pool_size) + " subnets for " +
              std::to_string(file_.hosts) +
              " hosts: some will get none (a bigger network or a "
              "longer subnet_len gives more)",
          RunReport::Event::Kind::kCluster);
    sim_.on_event([this](TimePoint at, NodeIndex observer, const gossip::Event& e) {
      if (e.kind != gossip::Event::Kind::kDead) return;
      if (auto subject = sim_.index_of(e.member.id)) judge_death(at, observer, *subject);
    });
    for (const FaultSpec& f : file_.timeline) schedule(f);
    sample_at(kTimeZero + step_);
    sim_.run_until(kTimeZero + seconds_of(file_.duration_s));
    finish();
    report_.wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    return std::move(report_);
  }

 private:
  static lease::LeaseConfig lease_config(const ScenarioFile& f) {
    lease::LeaseConfig c = LeaseCluster::config_for(f.network, f.subnet_len);
    c.planted_keep_lost_subnet = f.planted_bug == "keep-lost-subnet";
    if (f.lease_ttl_s > 0)
      c.ttl = std::chrono::duration_cast<std::chrono::milliseconds>(seconds_of(f.lease_ttl_s));
    return c;
  }

  // Hosts whose first event is a start: they join later, not at time zero.
  std::set<uint32_t> late_joiners() const {
    std::set<uint32_t> late, touched;
    for (const FaultSpec& f : file_.timeline)
      for (uint32_t h : f.hosts) {
        if (!touched.insert(h).second) continue;
        if (f.kind == FaultSpec::Kind::kRestart) late.insert(h);
      }
    return late;
  }

  double now_s() const { return to_seconds(sim_.now()); }

  void log(std::string what, RunReport::Event::Kind kind) {
    report_.timeline.push_back({now_s(), std::move(what), kind});
  }

  void schedule(const FaultSpec& f) {
    sim_.at(kTimeZero + seconds_of(f.at_s), [this, &f] {
      log(f.text, RunReport::Event::Kind::kFault);
      converged_since_fault_ = false;  // overlaps count again once the cluster agrees
      const size_t band = begin_band(f);
      const std::optional<uint64_t> cut = apply(f);
      if (f.for_s > 0)
        sim_.at(kTimeZero + seconds_of(f.at_s + f.for_s), [this, &f, cut, band] {
          undo(f, cut);
          report_.bands[band].to = now_s();
          log("end: " + f.text, RunReport::Event::Kind::kFault);
        });
    });
  }

  size_t begin_band(const FaultSpec& f) {
    const bool instant =
        f.for_s <= 0 && (f.kind == FaultSpec::Kind::kRestart || f.kind == FaultSpec::Kind::kHeal ||
                         f.kind == FaultSpec::Kind::kClock);
    report_.bands.push_back({now_s(), instant ? now_s() : file_.duration_s, f.text});
    if (f.kind == FaultSpec::Kind::kCut || f.kind == FaultSpec::Kind::kLoss) {
      open_bands_.push_back(report_.bands.size() - 1);
    }
    return report_.bands.size() - 1;
  }

  std::optional<uint64_t> apply(const FaultSpec& f) {
    Network& net = sim_.network();
    switch (f.kind) {
      case FaultSpec::Kind::kCut:
        ++active_cuts_;
        return net.add_cut(cut_of(f, file_.hosts));
      case FaultSpec::Kind::kLoss:
        ++active_losses_;
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
          down_since_.erase(h);
        }
        expect_recovery("after " + f.text);
        break;
      case FaultSpec::Kind::kFreeze:
        for (uint32_t h : f.hosts)
          if (sim_.is_up(h)) {
            sim_.freeze(h);
            down_since_[h] = now_s();
          }
        break;
      case FaultSpec::Kind::kClock:
        for (uint32_t h : f.hosts)
          sim_.set_clock_skew(h,
                              std::chrono::milliseconds(static_cast<int64_t>(f.offset_s * 1000)));
        break;
      case FaultSpec::Kind::kHeal:
        net.heal();
        active_cuts_ = active_losses_ = 0;
        for (size_t b : open_bands_)
          if (report_.bands[b].to >= file_.duration_s) report_.bands[b].to = now_s();
        open_bands_.clear();
        last_fault_end_ = now_s();
        expect_recovery("after heal");
        break;
    }
    return std::nullopt;
  }

  void undo(const FaultSpec& f, std::optional<uint64_t> cut) {
    Network& net = sim_.network();
    switch (f.kind) {
      case FaultSpec::Kind::kCut:
        if (cut) net.remove_cut(*cut);
        if (active_cuts_ > 0) --active_cuts_;
        last_fault_end_ = now_s();
        expect_recovery("after the end of " + f.text);
        break;
      case FaultSpec::Kind::kLoss:
        if (f.hosts.size() == file_.hosts) {
          net.set_loss(0);
        } else {
          for (uint32_t h : f.hosts) net.set_node_loss(h, 0);
        }
        if (active_losses_ > 0) --active_losses_;
        last_fault_end_ = now_s();
        expect_recovery("after the end of " + f.text);
        break;
      case FaultSpec::Kind::kFreeze:
        for (uint32_t h : f.hosts) {
          sim_.thaw(h);
          down_since_.erase(h);
          thawed_at_[h] = now_s();
        }
        expect_recovery("after the thaw");
        break;
      case FaultSpec::Kind::kClock:
        for (uint32_t h : f.hosts) sim_.set_clock_skew(h, std::chrono::milliseconds(0));
        break;
      case FaultSpec::Kind::kCrash:
      case FaultSpec::Kind::kWipe:
        for (uint32_t h : f.hosts) {
          cluster_.start(h, seeds_);
          down_since_.erase(h);
        }
        expect_recovery("after the restart");
        break;
      case FaultSpec::Kind::kRestart:
      case FaultSpec::Kind::kHeal:
        break;
    }
  }

  void crash(uint32_t h) {
    if (!sim_.is_up(h)) return;
    cluster_.crash(h);
    down_since_[h] = now_s();
  }

  // A death is false when the dead host was running and not frozen, and no cut or loss
  // was on (or ended within the last minute, the longest a suspicion can run here).
  void judge_death(TimePoint, NodeIndex observer, NodeIndex subject) {
    if (!sim_.is_up(subject) || sim_.is_frozen(subject)) return;
    if (down_since_.count(subject)) return;
    const double t = now_s();
    if (auto it = thawed_at_.find(subject); it != thawed_at_.end() && t - it->second < 60) return;
    if (active_cuts_ > 0 || t - last_fault_end_ < 60) return;
    if (sim_.network().reachable(observer, subject) && sim_.network().reachable(subject, observer))
      false_deaths_.push_back({t, observer, subject});
  }

  // The cluster must agree within the bound of this moment. Not while a cut or a loss is
  // on: agreement cannot come before it ends, and its end is timed instead.
  void expect_recovery(std::string after) {
    if (active_cuts_ > 0 || active_losses_ > 0) return;
    report_.recoveries.push_back({now_s(), std::move(after), -1});
  }

  struct Agreement {
    bool members = true, owners = true, overlap_free = true;
    std::string problem;
  };

  Agreement sample_once() {
    RunReport::Sample sample;
    sample.t = now_s();
    const size_t n = file_.hosts;
    std::vector<uint32_t> up;
    for (uint32_t h = 0; h < n; ++h)
      if (sim_.is_up(h) && !sim_.is_frozen(h)) up.push_back(h);
    sample.up = static_cast<uint32_t>(up.size());
    // The owner map most hosts up hold is the reference. A host's map is a function of its
    // table, so hosts are grouped by the table's hash (kept by the table, O(1)) and the
    // map's size (which tells a map not yet recomputed after the last merge): comparing
    // the maps themselves would cost O(hosts^2) per sample.
    auto key_of = [&](uint32_t h) {
      const lease::LeaseCore* l = cluster_.lease(h);
      return std::pair{l->table().hash(), l->owners().size()};
    };
    std::map<std::pair<uint64_t, size_t>, size_t> votes;
    for (uint32_t h : up) ++votes[key_of(h)];
    std::optional<std::pair<uint64_t, size_t>> reference;
    size_t best = 0;
    for (auto& [key, count] : votes)
      if (count > best) reference = key, best = count;
    Agreement a;
    size_t members_ok = 0, owners_ok = 0;
    if (report_.hosts <= RunReport::kMaxHostRows) sample.host_state.assign(n, 0);
    std::vector<std::pair<Cidr, uint32_t>> held;
    for (uint32_t h : up) {
      const auto* core = sim_.core(h);
      const bool member_view = core->count(gossip::MemberState::kAlive) == up.size() &&
                               core->count(gossip::MemberState::kSuspect) == 0;
      const bool owner_view = reference && key_of(h) == *reference;
      members_ok += member_view;
      owners_ok += owner_view;
      if (!sample.host_state.empty()) sample.host_state[h] = !owner_view ? 3 : !member_view ? 2 : 1;
      if (!member_view && a.problem.empty()) a.problem = member_view_problem(h, up);
      if (auto ready = cluster_.lease(h)->ready_subnet()) {
        held.emplace_back(*ready, h);
        if (!first_ready_[h])
          first_ready_[h] = *ready;
        else if (*first_ready_[h] != *ready)
          renumbered_[h] = true;
      } else if (owner_view && a.problem.empty()) {
        a.problem = "h" + std::to_string(h + 1) + " holds no ready subnet";
        a.owners = false;
      }
    }
    std::sort(held.begin(), held.end());
    for (size_t i = 1; i < held.size(); ++i)
      if (held[i - 1].first.overlaps(held[i].first)) {
        a.overlap_free = false;
        if (!overlap_seen_)
          overlap_seen_ = "h" + std::to_string(held[i - 1].second + 1) + " and h" +
                          std::to_string(held[i].second + 1) + " both route " +
                          held[i].first.to_string() + " at " + seconds_text(sample.t);
      }
    sample.members_agree = up.empty() ? 1.0F : static_cast<float>(members_ok) / up.size();
    sample.owners_agree = up.empty() ? 1.0F : static_cast<float>(owners_ok) / up.size();
    a.members = members_ok == up.size();
    a.owners = a.owners && owners_ok == up.size();
    if (!a.owners && a.problem.empty())
      a.problem = std::to_string(up.size() - owners_ok) + " hosts differ on the owner map";
    report_.samples.push_back(std::move(sample));
    return a;
  }

  // What host h gets wrong about the hosts up (once per sample: O(hosts)).
  std::string member_view_problem(uint32_t h, const std::vector<uint32_t>& up) const {
    const auto* core = sim_.core(h);
    const std::string who = "h" + std::to_string(h + 1);
    for (uint32_t other : up) {
      const gossip::Member* m = core->find(sim_.id(other));
      if (!m) return who + " has not heard of h" + std::to_string(other + 1);
      if (m->state != gossip::MemberState::kAlive)
        return who + " sees h" + std::to_string(other + 1) + " " +
               std::string(gossip::to_string(m->state));
    }
    return who + " sees " + std::to_string(core->count(gossip::MemberState::kAlive)) +
           " alive of " + std::to_string(up.size()) + " up";
  }

  void sample_at(TimePoint t) {
    sim_.at(t, [this, t] {
      const Agreement a = sample_once();
      const bool agreed = a.members && a.owners && a.overlap_free;
      if (agreed && !agreed_)
        log("cluster agrees: members, owner map, no overlap", RunReport::Event::Kind::kCluster);
      if (!agreed && agreed_)
        log("cluster disagrees: " + a.problem, RunReport::Event::Kind::kCluster);
      agreed_ = agreed;
      last_problem_ = a.problem;
      // Overlaps count once the cluster has agreed after the last fault: during a split
      // both sides may hand out one subnet; the heal must sort it out.
      if (!a.overlap_free && active_cuts_ == 0 && converged_since_fault_ &&
          !overlap_after_converge_) {
        overlap_after_converge_ = true;
        overlap_seen_.reset();  // name this one, not one from while the cluster was split
        sample_once_overlap_note();
      }
      if (agreed) {
        for (auto& rec : report_.recoveries)
          if (rec.seconds < 0) {
            rec.seconds = now_s() - rec.fault_end;
            log("agrees again " + seconds_text(rec.seconds) + " " + rec.after,
                RunReport::Event::Kind::kRecovery);
          }
        converged_since_fault_ = true;
      } else if (!report_.recoveries.empty() && report_.recoveries.back().seconds < 0) {
        converged_since_fault_ = false;
      }
      if (t + step_ <= kTimeZero + seconds_of(file_.duration_s)) sample_at(t + step_);
    });
  }

  // Re-reads who overlaps now, for the verdict's detail.
  void sample_once_overlap_note() {
    std::vector<std::pair<Cidr, uint32_t>> held;
    for (uint32_t h = 0; h < file_.hosts; ++h)
      if (sim_.is_up(h))
        if (auto ready = cluster_.lease(h)->ready_subnet()) held.emplace_back(*ready, h);
    std::sort(held.begin(), held.end());
    for (size_t i = 1; i < held.size() && !overlap_seen_; ++i)
      if (held[i - 1].first.overlaps(held[i].first))
        overlap_seen_ = "h" + std::to_string(held[i - 1].second + 1) + " and h" +
                        std::to_string(held[i].second + 1) + " both route " +
                        held[i].first.to_string() + " at " + seconds_text(now_s());
  }

  void verdict(std::string check, bool enabled, Outcome outcome, std::string detail) {
    if (!enabled) outcome = Outcome::kSkipped, detail = "off in this scenario";
    report_.verdicts.push_back({std::move(check), outcome, std::move(detail)});
  }

  void finish() {
    const auto& c = file_.checks;
    const Agreement end = sample_once();
    auto pass = [](bool ok) { return ok ? Outcome::kPass : Outcome::kFail; };
    verdict("members_agree", c.members_agree, pass(end.members),
            end.members ? "at the end every host up sees exactly the hosts up" : end.problem);
    verdict("owners_agree", c.owners_agree, pass(end.owners),
            end.owners ? "at the end every host up holds the same owner map" : end.problem);
    const bool overlap_ok = end.overlap_free && !overlap_after_converge_;
    if (!end.overlap_free && !overlap_after_converge_) {
      overlap_seen_.reset();
      sample_once_overlap_note();
      overlap_after_converge_ = true;  // the detail below names the overlap left at the end
    }
    verdict("no_overlap", c.no_overlap, pass(overlap_ok),
            overlap_ok ? (overlap_seen_ ? "an overlap while split was resolved: " + *overlap_seen_
                                        : "no two hosts up ever routed overlapping subnets")
                       : (end.overlap_free ? "overlap after the cluster had agreed: "
                                           : "overlap left at the end: ") +
                             overlap_seen_.value_or("?"));
    // Every fault's end must be followed by agreement within the bound.
    std::string slow;
    double worst = 0;
    for (const auto& rec : report_.recoveries) {
      if (rec.seconds < 0 || rec.seconds > c.converge_within_s) {
        if (slow.empty())
          slow = rec.after + " at " + seconds_text(rec.fault_end) + ": " +
                 (rec.seconds < 0 ? "never agreed (" + last_problem_ + ")"
                                  : "took " + seconds_text(rec.seconds));
      } else {
        worst = std::max(worst, rec.seconds);
      }
    }
    verdict("converge_within", true, pass(slow.empty()),
            slow.empty()
                ? std::to_string(report_.recoveries.size()) + " recoveries, the slowest " +
                      seconds_text(worst) + " (bound " + seconds_text(c.converge_within_s) + ")"
                : slow);
    std::string deaths = std::to_string(false_deaths_.size()) + " false deaths";
    if (!false_deaths_.empty())
      deaths += ", first: h" + std::to_string(false_deaths_[0].observer + 1) + " declared h" +
                std::to_string(false_deaths_[0].subject + 1) + " dead at " +
                seconds_text(false_deaths_[0].t);
    verdict("no_false_deaths", c.no_false_deaths, pass(false_deaths_.empty()), deaths);
    const auto renumbered =
        static_cast<size_t>(std::count(renumbered_.begin(), renumbered_.end(), true));
    verdict("max_renumbered", c.max_renumbered != SIZE_MAX, pass(renumbered <= c.max_renumbered),
            std::to_string(renumbered) + " hosts routed a new subnet after their first");
    verdict("databases_open", c.databases_open, Outcome::kSkipped,
            "not in --sim: the simulator keeps no database file");
    verdict("pods_reach", c.pods_reach, Outcome::kSkipped, "not in --sim: there is no datapath");
  }

  struct FalseDeath {
    double t;
    NodeIndex observer, subject;
  };

  const ScenarioFile& file_;
  LeaseCluster cluster_;
  Simulator& sim_;
  Duration step_;
  RunReport report_;
  std::vector<NodeIndex> seeds_;
  std::map<uint32_t, double> down_since_, thawed_at_;
  std::vector<size_t> open_bands_;
  size_t active_cuts_ = 0, active_losses_ = 0;
  double last_fault_end_ = -1e18;
  bool agreed_ = false, converged_since_fault_ = false, overlap_after_converge_ = false;
  std::optional<std::string> overlap_seen_;
  std::string last_problem_;
  std::vector<FalseDeath> false_deaths_;
  std::vector<std::optional<Cidr>> first_ready_;
  std::vector<bool> renumbered_;
};

}  // namespace

RunReport run_in_simulator(const ScenarioFile& file) { return SimRun(file).run(); }

}  // namespace shoal::chaos
