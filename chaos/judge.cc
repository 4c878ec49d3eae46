// The how of judge.h: bookkeeping of faults and hosts, agreement from the views of one
// sample, and the verdicts from all of it.
#include "chaos/judge.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace shoal::chaos {

using Outcome = RunReport::Verdict::Outcome;
using EventKind = RunReport::Event::Kind;

std::string seconds_text(double s) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f s", s);
  return buffer;
}

std::string host_name(uint32_t h) { return "h" + std::to_string(h + 1); }

namespace {

// "3 recoveries, the slowest 2.5 s (bound 5.0 s)", "1 recovery in 0.4 s (bound 5.0 s)".
std::string recoveries_text(size_t count, double slowest, double bound) {
  const std::string within = " (bound " + seconds_text(bound) + ")";
  if (count == 0) return "no fault ended that the cluster had to recover from";
  if (count == 1) return "1 recovery in " + seconds_text(slowest) + within;
  return std::to_string(count) + " recoveries, the slowest " + seconds_text(slowest) + within;
}

// A timeline line names the earlier recovery that fell apart, or two lines would claim one
// recovery each after the same fault.
std::string did_not_last(double earlier) {
  if (earlier < 0) return "";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, " (the one at %.1fs did not last)", earlier);
  return buffer;
}

}  // namespace

std::string first_member_problem(uint32_t host, const std::vector<uint32_t>& up,
                                 const StateOf& state_of) {
  for (uint32_t other : up) {
    const std::optional<std::string> state = state_of(other);
    if (!state) return host_name(host) + " has not heard of " + host_name(other);
    if (*state != "alive") return host_name(host) + " sees " + host_name(other) + " " + *state;
  }
  return "";
}

CutPredicate cut_predicate(const FaultSpec& f, size_t hosts) {
  switch (f.shape) {
    case FaultSpec::Shape::kRing: {
      // Within `reach` either way: 2 * reach + 1 hosts, a majority, with itself.
      const auto n = static_cast<int64_t>(hosts), reach = (n / 2 + 1) / 2;
      return [n, reach](uint32_t a, uint32_t b) {
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
    return [group = std::move(group)](uint32_t a, uint32_t b) {
      return group[a] >= 0 && group[b] >= 0 && group[a] != group[b];
    };
  }
  std::vector<bool> from(hosts), to(hosts);
  for (uint32_t h : f.from) from[h] = true;
  for (uint32_t h : f.to) to[h] = true;
  const bool both = f.both_ways;
  return [from = std::move(from), to = std::move(to), both](uint32_t a, uint32_t b) {
    return (from[a] && to[b]) || (both && from[b] && to[a]);
  };
}

Judge::Judge(const ScenarioFile& file, std::string mode, uint64_t seed) : file_(file) {
  report_.scenario = file.name;
  report_.summary = file.summary;
  report_.mode = std::move(mode);
  report_.hosts = file.hosts;
  report_.seed = seed;
  report_.duration_s = file.duration_s;
  first_ready_.resize(file.hosts);
  renumbered_.resize(file.hosts);
  if (file.pool_size < file.hosts)
    log(0,
        "the pool holds " + std::to_string(file.pool_size) + " subnets for " +
            std::to_string(file.hosts) +
            " hosts: the others wait without one until a lease frees one (a bigger network "
            "or a longer subnet_len gives more)",
        EventKind::kCluster);
}

void Judge::log(double t, std::string what, EventKind kind) {
  report_.timeline.push_back({t, std::move(what), kind});
}

size_t Judge::fault_started(double t, const FaultSpec& f) {
  log(t, f.text, EventKind::kFault);
  last_fault_start_ = t;
  converged_since_fault_ = false;  // overlaps count again once the cluster agrees
  const bool instant =
      f.for_s <= 0 && (f.kind == FaultSpec::Kind::kRestart || f.kind == FaultSpec::Kind::kHeal ||
                       f.kind == FaultSpec::Kind::kClock || f.kind == FaultSpec::Kind::kNatReset);
  report_.bands.push_back({t, instant ? t : file_.duration_s, f.text});
  const size_t band = report_.bands.size() - 1;
  switch (f.kind) {
    case FaultSpec::Kind::kCut:
      ++active_cuts_;
      open_bands_.push_back(band);
      break;
    case FaultSpec::Kind::kLoss:
    case FaultSpec::Kind::kBandwidth:
    case FaultSpec::Kind::kDelay:
      ++active_losses_;
      open_bands_.push_back(band);
      break;
    case FaultSpec::Kind::kRestart:
    case FaultSpec::Kind::kNatReset:
      expect_recovery(t, "after " + f.text);
      break;
    case FaultSpec::Kind::kHeal:
      active_cuts_ = active_losses_ = 0;
      for (size_t b : open_bands_)
        if (report_.bands[b].to >= file_.duration_s) report_.bands[b].to = t;
      open_bands_.clear();
      last_cut_end_ = t;
      expect_recovery(t, "after heal");
      break;
    case FaultSpec::Kind::kCrash:
    case FaultSpec::Kind::kWipe:
    case FaultSpec::Kind::kFreeze:
    case FaultSpec::Kind::kClock:
      break;
  }
  return band;
}

void Judge::fault_ended(double t, const FaultSpec& f, size_t band) {
  report_.bands[band].to = t;
  log(t, "end: " + f.text, EventKind::kFault);
  if (!f.timed) {  // a flap's cut before its last: only counts
    if (f.kind == FaultSpec::Kind::kCut && active_cuts_ > 0) --active_cuts_, last_cut_end_ = t;
    if (f.kind != FaultSpec::Kind::kCut && active_losses_ > 0) --active_losses_;
    return;
  }
  switch (f.kind) {
    case FaultSpec::Kind::kCut:
      if (active_cuts_ > 0) --active_cuts_;
      last_cut_end_ = t;
      expect_recovery(t, "after the end of " + f.text);
      break;
    case FaultSpec::Kind::kLoss:
    case FaultSpec::Kind::kBandwidth:
    case FaultSpec::Kind::kDelay:
      if (active_losses_ > 0) --active_losses_;
      expect_recovery(t, "after the end of " + f.text);
      break;
    case FaultSpec::Kind::kFreeze:
      expect_recovery(t, "after the thaw");
      break;
    case FaultSpec::Kind::kCrash:
    case FaultSpec::Kind::kWipe:
      expect_recovery(t, "after the restart");
      break;
    case FaultSpec::Kind::kClock:
    case FaultSpec::Kind::kRestart:
    case FaultSpec::Kind::kHeal:
    case FaultSpec::Kind::kNatReset:
      break;
  }
}

void Judge::host_stopped(double t, uint32_t h) { down_since_.emplace(h, t); }
void Judge::host_running(uint32_t h) { down_since_.erase(h); }
void Judge::host_thawed(double t, uint32_t h) {
  down_since_.erase(h);
  thawed_at_[h] = t;
}

void Judge::death(double t, uint32_t observer, uint32_t subject, bool was_reachable) {
  if (!was_reachable || down_since_.count(subject)) return;
  if (auto it = thawed_at_.find(subject); it != thawed_at_.end() && t - it->second < 60) return;
  // Loss is no excuse: a lossy host is still reachable, and declaring it dead is exactly the
  // false death SWIM's suspicion is there to prevent.
  if (active_cuts_ > 0 || t - last_cut_end_ < 60) return;
  false_deaths_.push_back({t, observer, subject});
}

// The cluster must agree within the bound of this moment. Not while a cut or a loss is on:
// agreement cannot come before it ends, and its end is timed instead.
void Judge::expect_recovery(double t, std::string after) {
  if (split()) return;
  report_.recoveries.push_back({t, std::move(after), -1});
}

std::optional<std::string> Judge::overlap_among(double t,
                                                const std::vector<HostView>& views) const {
  std::vector<std::pair<Cidr, uint32_t>> held;
  for (uint32_t h = 0; h < views.size(); ++h)
    if (views[h].up && views[h].ready_subnet) held.emplace_back(*views[h].ready_subnet, h);
  std::sort(held.begin(), held.end());
  for (size_t i = 1; i < held.size(); ++i)
    if (held[i - 1].first.overlaps(held[i].first))
      return host_name(held[i - 1].second) + " and " + host_name(held[i].second) + " both route " +
             held[i].first.to_string() + " at " + seconds_text(t);
  return std::nullopt;
}

Judge::Agreement Judge::assess(double t, const std::vector<HostView>& views,
                               const MemberProblem& problem, bool keep_sample) {
  RunReport::Sample sample;
  sample.t = t;
  std::vector<uint32_t> up;
  for (uint32_t h = 0; h < views.size(); ++h)
    if (views[h].up) up.push_back(h);
  sample.up = static_cast<uint32_t>(up.size());
  // The owner map most hosts up hold is the reference.
  std::map<uint64_t, size_t> votes;
  for (uint32_t h : up) ++votes[views[h].owners_key];
  std::optional<uint64_t> reference;
  size_t best = 0;
  for (auto& [key, count] : votes)
    if (count > best) reference = key, best = count;
  Agreement a;
  size_t members_ok = 0, owners_ok = 0;
  if (report_.hosts <= RunReport::kMaxHostRows) sample.host_state.assign(views.size(), 0);
  for (uint32_t h : up) {
    const HostView& v = views[h];
    const bool member_view = v.alive == up.size() && v.suspect == 0;
    const bool owner_view = reference && v.owners_key == *reference;
    members_ok += member_view;
    owners_ok += owner_view;
    if (!sample.host_state.empty()) sample.host_state[h] = !owner_view ? 3 : !member_view ? 2 : 1;
    if (!member_view && a.problem.empty()) a.problem = problem(h, up);
    if (v.ready_subnet) {
      if (keep_sample) {
        if (!first_ready_[h])
          first_ready_[h] = *v.ready_subnet;
        else if (*first_ready_[h] != *v.ready_subnet)
          renumbered_[h] = true;
      }
    } else if (owner_view && v.owned < file_.pool_size && a.problem.empty()) {
      // With every subnet of the pool owned, waiting without one is right: the host takes
      // the first subnet that a dead or departed host's lease frees.
      a.problem = host_name(h) + " holds no ready subnet, and " +
                  std::to_string(file_.pool_size - v.owned) + " of the pool's " +
                  std::to_string(file_.pool_size) + " are free";
      a.owners = false;
    }
  }
  if (auto overlap = overlap_among(t, views)) {
    a.overlap_free = false;
    if (!overlap_seen_) overlap_seen_ = *overlap;
  }
  sample.members_agree = up.empty() ? 1.0F : static_cast<float>(members_ok) / up.size();
  sample.owners_agree = up.empty() ? 1.0F : static_cast<float>(owners_ok) / up.size();
  sample.pods_reach = last_reach_.value_or(-1.0F);
  a.members = members_ok == up.size();
  a.owners = a.owners && owners_ok == up.size();
  if (!a.owners && a.problem.empty())
    a.problem = std::to_string(up.size() - owners_ok) + " hosts differ on the owner map";
  if (keep_sample) report_.samples.push_back(std::move(sample));
  return a;
}

bool Judge::sample(double t, const std::vector<HostView>& views, const MemberProblem& problem) {
  const Agreement a = assess(t, views, problem, true);
  const bool agreed = a.members && a.owners && a.overlap_free;
  if (agreed && !agreed_)
    log(t, "cluster agrees: members, owner map, no overlap", EventKind::kCluster);
  if (!agreed && agreed_) log(t, "cluster disagrees: " + a.problem, EventKind::kCluster);
  agreed_ = agreed;
  last_problem_ = a.problem;
  // Overlaps count once the cluster has agreed after the last fault: during a split both
  // sides may hand out one subnet; the heal must sort it out.
  if (!a.overlap_free && active_cuts_ == 0 && converged_since_fault_ && !overlap_after_converge_) {
    overlap_after_converge_ = true;
    overlap_seen_ = overlap_among(t, views);  // name this one, not one from the split
  }
  if (agreed) {
    for (auto& rec : report_.recoveries)
      if (rec.seconds < 0) {
        rec.seconds = t - rec.fault_end;
        log(t,
            "agrees again " + seconds_text(rec.seconds) + " " + rec.after +
                did_not_last(rec.agreed_before),
            EventKind::kRecovery);
      }
    converged_since_fault_ = true;
  } else {
    if (!report_.recoveries.empty() && report_.recoveries.back().seconds < 0)
      converged_since_fault_ = false;
    // An agreement that does not last until the next fault was no recovery, as for the pods
    // below: right after a NAT router's restart the cluster still agrees, until the first
    // probe through the forgotten mapping fails a second later.
    for (auto& rec : report_.recoveries)
      if (rec.seconds >= 0 && rec.fault_end >= last_fault_start_) {
        rec.agreed_before = rec.fault_end + rec.seconds;
        rec.seconds = -1;
      }
  }
  return agreed;
}

void Judge::pods_probed(const ProbeRound& round) {
  if (round.probed == 0) return;
  ++probe_rounds_;
  last_reach_ = static_cast<float>(round.reached) / static_cast<float>(round.probed);
  const bool all = round.reached == round.probed;
  if (all && !all_reached_)
    log(round.last_answer, "every pod reaches every pod", EventKind::kCluster);
  if (!all && all_reached_)
    log(round.sent, "pods cut off: " + round.first_miss, EventKind::kCluster);
  all_reached_ = all;
  if (!all) {
    last_miss_ = round.first_miss;
    // Pods that reached again and are cut off before the next fault had not recovered (a
    // host wiped and renumbered answers on its old address until its new one is routed).
    for (auto& rec : report_.recoveries)
      if (rec.fault_end >= last_fault_start_ && rec.reach_seconds >= 0) {
        rec.reached_before = rec.fault_end + rec.reach_seconds;
        rec.reach_seconds = -1;
      }
    return;
  }
  if (split()) return;
  for (auto& rec : report_.recoveries)
    if (rec.reach_seconds < 0 && round.sent >= rec.fault_end) {
      rec.reach_seconds = round.last_answer - rec.fault_end;
      log(round.last_answer,
          "pods reach again " + seconds_text(rec.reach_seconds) + " " + rec.after +
              did_not_last(rec.reached_before),
          EventKind::kRecovery);
    }
}

void Judge::workload_checked(double t, bool ok, const std::string& said) {
  const bool was_ok = !workload_checks_.empty() && workload_checks_.back().ok;
  workload_checks_.push_back({t, ok});
  if (!ok) workload_said_ = said;
  if (ok && !was_ok) log(t, "workload check passes", EventKind::kCluster);
  if (!ok && was_ok) log(t, "workload check fails: " + said, EventKind::kCluster);
}

std::string Judge::first_late(double RunReport::Recovery::*took, const std::string& never,
                              double& slowest) const {
  std::string late;
  for (const auto& rec : report_.recoveries) {
    const double seconds = rec.*took;
    if (seconds >= 0 && seconds <= file_.checks.converge_within_s) {
      slowest = std::max(slowest, seconds);
    } else if (late.empty()) {
      late = rec.after + " at " + seconds_text(rec.fault_end) + ": " +
             (seconds < 0 ? never : "took " + seconds_text(seconds));
    }
  }
  return late;
}

void Judge::verdict(std::string check, bool enabled, Outcome outcome, std::string detail) {
  if (!enabled) outcome = Outcome::kSkipped, detail = "off in this scenario";
  report_.verdicts.push_back({std::move(check), outcome, std::move(detail)});
}

RunReport Judge::finish(double t, const std::vector<HostView>& views, const MemberProblem& problem,
                        const Extra& extra, double wall_s) {
  const auto& c = file_.checks;
  const Agreement end = assess(t, views, problem, true);
  auto pass = [](bool ok) { return ok ? Outcome::kPass : Outcome::kFail; };
  verdict("members_agree", c.members_agree, pass(end.members),
          end.members ? "at the end every host up sees exactly the hosts up" : end.problem);
  verdict("owners_agree", c.owners_agree, pass(end.owners),
          end.owners ? "at the end every host up holds the same owner map" : end.problem);
  const bool overlap_ok = end.overlap_free && !overlap_after_converge_;
  if (!end.overlap_free && !overlap_after_converge_) overlap_seen_ = overlap_among(t, views);
  verdict("no_overlap", c.no_overlap, pass(overlap_ok),
          overlap_ok ? (overlap_seen_ ? "an overlap while split was resolved: " + *overlap_seen_
                                      : "no two hosts up ever routed overlapping subnets")
                     : (end.overlap_free ? "overlap after the cluster had agreed: "
                                         : "overlap left at the end: ") +
                           overlap_seen_.value_or("?"));
  // Every fault's end must be followed by agreement within the bound.
  double worst = 0;
  const std::string slow =
      first_late(&RunReport::Recovery::seconds, "never agreed (" + last_problem_ + ")", worst);
  verdict(
      "converge_within", true, pass(slow.empty()),
      slow.empty() ? recoveries_text(report_.recoveries.size(), worst, c.converge_within_s) : slow);
  std::string deaths = std::to_string(false_deaths_.size()) + " false deaths";
  if (!false_deaths_.empty())
    deaths += ", first: " + host_name(false_deaths_[0].observer) + " declared " +
              host_name(false_deaths_[0].subject) + " dead at " + seconds_text(false_deaths_[0].t);
  verdict("no_false_deaths", c.no_false_deaths, pass(false_deaths_.empty()), deaths);
  const auto renumbered =
      static_cast<size_t>(std::count(renumbered_.begin(), renumbered_.end(), true));
  verdict("max_renumbered", c.max_renumbered != SIZE_MAX, pass(renumbered <= c.max_renumbered),
          std::to_string(renumbered) + " hosts routed a new subnet after their first");
  if (extra.databases_open) {
    verdict("databases_open", c.databases_open, extra.databases_open->outcome,
            extra.databases_open->detail);
  } else {
    verdict("databases_open", c.databases_open, Outcome::kSkipped, "not checked in this mode");
  }
  if (probe_rounds_ == 0) {
    verdict("pods_reach", c.pods_reach, Outcome::kSkipped, extra.no_pods_reason);
  } else {
    // Whole at the end, and whole again within the bound after every fault.
    double slowest = 0;
    std::string late = first_late(&RunReport::Recovery::reach_seconds,
                                  "never all reached (" + last_miss_ + ")", slowest);
    if (late.empty() && !all_reached_) late = "at the end: " + last_miss_;
    verdict("pods_reach", c.pods_reach, pass(late.empty()),
            late.empty() ? std::to_string(probe_rounds_) +
                               " probe rounds; every pod reached every pod again within " +
                               seconds_text(slowest) + " of each fault's end"
                         : late);
  }
  if (workload_checks_.empty()) {
    verdict("workload", c.workload, Outcome::kSkipped, extra.no_workload_reason);
  } else {
    // It passes at the end, and again within the bound after every fault's end.
    std::string late;
    for (const auto& rec : report_.recoveries) {
      auto passed =
          std::find_if(workload_checks_.begin(), workload_checks_.end(),
                       [&](const WorkloadCheck& w) { return w.ok && w.t >= rec.fault_end; });
      if (passed == workload_checks_.end() || passed->t - rec.fault_end > c.converge_within_s) {
        late =
            rec.after + " at " + seconds_text(rec.fault_end) + ": " +
            (passed == workload_checks_.end()
                 ? "its check never passed again (" + workload_said_ + ")"
                 : "its check passed again only after " + seconds_text(passed->t - rec.fault_end));
        break;
      }
    }
    if (late.empty() && !workload_checks_.back().ok)
      late = "its last check failed: " + workload_said_;
    const auto passes = std::count_if(workload_checks_.begin(), workload_checks_.end(),
                                      [](const WorkloadCheck& w) { return w.ok; });
    verdict("workload", c.workload, pass(late.empty()),
            late.empty()
                ? std::to_string(passes) + " of " + std::to_string(workload_checks_.size()) +
                      " checks passed; it passed again within the bound after every fault"
                : late);
  }
  report_.wall_s = wall_s;
  // Probe rounds are told when they end, so their events can come after later samples'.
  std::stable_sort(report_.timeline.begin(), report_.timeline.end(),
                   [](const RunReport::Event& a, const RunReport::Event& b) { return a.t < b.t; });
  return std::move(report_);
}

}  // namespace shoal::chaos
