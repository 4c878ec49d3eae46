// The how of cluster_run.h: the namespaces runner's loop without the lab: faults through
// `shoal fault` on each host, samples through `shoal members|leases --json`, read from all
// hosts at once (each host's reads on a thread of its own: ssh round trips add up).
#include "chaos/cluster_run.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <future>
#include <map>
#include <thread>

#include "chaos/agent_sampler.h"
#include "chaos/judge.h"
#include "common/subprocess.h"
#include "protocol/control_codec.h"

namespace shoal::chaos {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr double kSampleStep = 1.0;  // s between samples of every host
constexpr double kFaultMargin = 30;  // s a fault outlives its planned end, in case

class ClusterRun {
 public:
  ClusterRun(const ScenarioFile& file, const ClusterFile& cluster, const ClusterOptions& options,
             const std::atomic<bool>& stop)
      : file_(file),
        cluster_(cluster),
        options_(options),
        stop_(stop),
        judge_(file, "cluster", file.seed),
        sampler_(names(cluster), [this](uint32_t h) { return answers_[h]; }),
        answers_(cluster.hosts.size()) {}

  // However the run ends, no fault it put on stays on.
  ~ClusterRun() {
    if (!touched_) return;
    for (uint32_t h = 0; h < cluster_.hosts.size(); ++h) (void)shoal(h, {"fault", "clear"});
  }

  Result<RunReport> run() {
    for (uint32_t h = 0; h < cluster_.hosts.size(); ++h) {
      // Clean faults, and proof that the host answers and allows them, before anything else.
      touched_ = true;
      auto answer = shoal(h, {"fault", "clear"});
      if (!answer.ok())
        return Status::unavailable(host_name(h) + " (" + cluster_.hosts[h].name +
                                   "): " + answer.error().message());
      say(host_name(h) + " is " + cluster_.hosts[h].name);
    }
    const std::vector<TimelineAction> actions = timeline_actions(file_);
    bands_.resize(file_.timeline.size());
    placed_.resize(file_.timeline.size());
    start_ = Clock::now();
    size_t next_action = 0;
    double next_sample = 0;
    const std::vector<bool> all(cluster_.hosts.size(), true);
    for (;;) {
      if (stop_) return Status::unavailable("interrupted; the faults it put on are cleared");
      const double now = now_s();
      if (now >= file_.duration_s) break;
      while (next_action < actions.size() && actions[next_action].at <= now) {
        const TimelineAction& a = actions[next_action++];
        if (Status s = a.end ? end_fault(a.fault) : start_fault(a.fault); !s.ok()) return s;
      }
      if (now >= next_sample) {
        read_all();
        // The harness stops no agent here: every host is up, and reachable unless cut.
        sampler_.sample(now_s(), judge_, all, all);
        next_sample += kSampleStep;
      }
      double wake = std::min(next_sample, file_.duration_s);
      if (next_action < actions.size()) wake = std::min(wake, actions[next_action].at);
      std::this_thread::sleep_for(std::chrono::milliseconds(
          static_cast<int64_t>(std::clamp(wake - now_s(), 0.0, 1.0) * 1000) + 1));
    }
    const double end = now_s();
    read_all();
    sampler_.read(all);
    Judge::Extra extra;
    extra.no_pods_reason = "a real cluster: the harness has no pods there";
    extra.no_workload_reason = "the scenario has no workload";
    return judge_.finish(end, sampler_.views(), sampler_.member_problem(), extra, now_s());
  }

 private:
  static std::vector<std::string> names(const ClusterFile& cluster) {
    std::vector<std::string> out;
    for (const auto& h : cluster.hosts) out.push_back(h.name);
    return out;
  }

  double now_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  void say(const std::string& what) const {
    if (options_.verbose) std::fprintf(stderr, "shoal-chaos: %s\n", what.c_str());
  }

  // `shoal ARGS... --json` on host h: the agent's answer, or why there is none.
  Result<proto::ControlResponse> shoal(uint32_t h, std::vector<std::string> args) const {
    args.push_back("--json");
    ProcessOptions run;
    run.timeout =
        std::chrono::milliseconds(static_cast<int64_t>(cluster_.command_timeout_s * 1000));
    run.capture_stderr = false;
    auto done = run_process(cluster_.command(h, args), run);
    if (!done.ok()) return done.error();
    proto::ControlResponse response;
    google::protobuf::util::JsonParseOptions parse;
    parse.ignore_unknown_fields = true;  // a newer agent's answer
    const bool parsed =
        google::protobuf::util::JsonStringToMessage(done->output, &response, parse).ok();
    if (done->exit_code != 0 || !parsed) {
      std::string said = parsed && !response.error().empty() ? response.error() : done->output;
      while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
      return Status::unavailable("`shoal " + args[0] + (args.size() > 1 ? " " + args[1] : "") +
                                 "` exited " + std::to_string(done->exit_code) +
                                 (said.empty() ? "" : ": " + said.substr(0, 300)));
    }
    return response;
  }

  // Every host's members and leases, from all hosts at once.
  void read_all() {
    std::vector<std::future<AgentSampler::Answers>> reads;
    for (uint32_t h = 0; h < cluster_.hosts.size(); ++h)
      reads.push_back(std::async(std::launch::async, [this, h] {
        AgentSampler::Answers a;
        if (auto m = shoal(h, {"members"}); m.ok()) a.members = std::move(*m);
        if (auto l = shoal(h, {"leases"}); l.ok()) a.leases = std::move(*l);
        return a;
      }));
    for (uint32_t h = 0; h < reads.size(); ++h) answers_[h] = reads[h].get();
  }

  // How long a fault on the hosts lasts: until its planned end (or the run's), plus a margin.
  std::string lifetime(const FaultSpec& f) const {
    const double until = f.for_s > 0 ? f.for_s : file_.duration_s - now_s();
    const double seconds = std::clamp(std::ceil(until + kFaultMargin), 1.0,
                                      static_cast<double>(protocol::kMaxFaultSeconds));
    return std::to_string(static_cast<uint32_t>(seconds));
  }

  // Puts `shoal fault WHAT... PEER... OPTIONS...` on host h, in as many faults as the agent's
  // limit of peers per fault needs, and remembers their ids under timeline fault i.
  Status place(size_t i, uint32_t h, const std::vector<std::string>& what,
               const std::vector<std::string>& peers, const std::vector<std::string>& options) {
    for (size_t first = 0; first < peers.size(); first += protocol::kMaxFaultPeers) {
      std::vector<std::string> args = {"fault"};
      args.insert(args.end(), what.begin(), what.end());
      const size_t last = std::min(peers.size(), first + protocol::kMaxFaultPeers);
      args.insert(args.end(), peers.begin() + first, peers.begin() + last);
      args.insert(args.end(), options.begin(), options.end());
      auto answer = shoal(h, args);
      if (!answer.ok()) return Status::unavailable(host_name(h) + ": " + answer.error().message());
      uint64_t id = 0;
      for (const auto& f : answer->faults()) id = std::max(id, f.id());
      placed_[i].push_back({h, id});
      say(host_name(h) + ": " + answer->message());
    }
    return {};
  }

  Status start_fault(size_t i) {
    const FaultSpec& f = file_.timeline[i];
    bands_[i] = judge_.fault_started(now_s(), f);
    say(f.text);
    const size_t n = cluster_.hosts.size();
    switch (f.kind) {
      case FaultSpec::Kind::kCut: {
        // from -> to cut: `from` drops what it sends to `to` (a one-way cut is one side's).
        const CutPredicate cut = cut_predicate(f, n);
        for (uint32_t from = 0; from < n; ++from) {
          std::vector<std::string> peers;
          for (uint32_t to = 0; to < n; ++to)
            if (to != from && cut(from, to)) peers.push_back(cluster_.hosts[to].name);
          if (Status s = place(i, from, {"drop"}, peers, {"--out", "--for", lifetime(f)}); !s.ok())
            return s;
        }
        return {};
      }
      case FaultSpec::Kind::kLoss: {
        const auto percent =
            std::to_string(std::clamp(static_cast<int>(std::lround(f.loss * 100)), 1, 100));
        if (!f.from.empty()) {  // a lossy link: each side loses what it sends across
          const CutPredicate across = cut_predicate(f, n);
          for (uint32_t from = 0; from < n; ++from) {
            std::vector<std::string> peers;
            for (uint32_t to = 0; to < n; ++to)
              if (to != from && across(from, to)) peers.push_back(cluster_.hosts[to].name);
            if (peers.empty()) continue;
            if (Status s =
                    place(i, from, {"loss", percent}, peers, {"--out", "--for", lifetime(f)});
                !s.ok())
              return s;
          }
          return {};
        }
        for (uint32_t h : f.hosts) {
          std::vector<std::string> peers;
          for (uint32_t o = 0; o < n; ++o)
            if (o != h) peers.push_back(cluster_.hosts[o].name);
          if (Status s = place(i, h, {"loss", percent}, peers, {"--for", lifetime(f)}); !s.ok())
            return s;
        }
        return {};
      }
      case FaultSpec::Kind::kClock: {
        const long seconds = std::lround(f.offset_s);
        const std::string offset = (seconds < 0 ? "" : "+") + std::to_string(seconds);
        for (uint32_t h : f.hosts) {
          auto answer = shoal(h, {"fault", "clock", offset, "--for", lifetime(f)});
          if (!answer.ok())
            return Status::unavailable(host_name(h) + ": " + answer.error().message());
          uint64_t id = 0;
          for (const auto& fault : answer->faults()) id = std::max(id, fault.id());
          placed_[i].push_back({h, id});
          say(host_name(h) + ": " + answer->message());
        }
        return {};
      }
      case FaultSpec::Kind::kHeal:
        // Every cut and loss ends; a clock stays moved until its own end.
        for (size_t j = 0; j < placed_.size(); ++j)
          if (file_.timeline[j].kind != FaultSpec::Kind::kClock)
            if (Status s = clear_placed(j); !s.ok()) return s;
        return {};
      default:
        return {};  // refused before the run (cluster_can_run)
    }
  }

  Status end_fault(size_t i) {
    const FaultSpec& f = file_.timeline[i];
    say("end: " + f.text);
    if (Status s = clear_placed(i); !s.ok()) return s;
    judge_.fault_ended(now_s(), f, bands_[i]);
    return {};
  }

  // Clears, by id, what timeline fault i put on the hosts.
  Status clear_placed(size_t i) {
    for (const auto& [h, id] : placed_[i])
      if (auto a = shoal(h, {"fault", "clear", std::to_string(id)}); !a.ok()) {
        // Ended already (a heal cleared it, or it expired): only an unreachable host is wrong.
        if (a.error().message().find("is on") == std::string::npos)
          return Status::unavailable(host_name(h) + ": " + a.error().message());
      }
    placed_[i].clear();
    return {};
  }

  const ScenarioFile& file_;
  const ClusterFile& cluster_;
  const ClusterOptions& options_;
  const std::atomic<bool>& stop_;
  Judge judge_;
  AgentSampler sampler_;
  std::vector<AgentSampler::Answers> answers_;  // the last read_all(), per host
  std::vector<size_t> bands_;
  std::vector<std::vector<std::pair<uint32_t, uint64_t>>> placed_;  // per fault: (host, id)
  bool touched_ = false;  // a fault command went to the hosts: clear them at the end
  Clock::time_point start_;
};

}  // namespace

Status cluster_can_run(const ScenarioFile& file, const ClusterFile& cluster) {
  if (file.hosts != cluster.hosts.size())
    return Status::invalid_argument("the scenario has " + std::to_string(file.hosts) +
                                    " hosts and the cluster file " +
                                    std::to_string(cluster.hosts.size()) + "; give --hosts " +
                                    std::to_string(cluster.hosts.size()));
  const auto late = late_joiners(file);
  if (std::find(late.begin(), late.end(), true) != late.end())
    return Status::unsupported(
        "hosts join late in this scenario; on a real cluster the harness does not start "
        "agents (run it on namespaces)");
  if (!file.planted_bug.empty())
    return Status::unsupported("planted_bug " + file.planted_bug +
                               " is for tests of the harness, on namespaces or --sim; a real "
                               "cluster gets no planted bugs");
  if (file.workload)
    return Status::unsupported(
        "workloads run in the harness's own pods; on a real cluster it has none (run it on "
        "namespaces)");
  for (const FaultSpec& f : file.timeline)
    if (f.kind != FaultSpec::Kind::kCut && f.kind != FaultSpec::Kind::kLoss &&
        f.kind != FaultSpec::Kind::kHeal && f.kind != FaultSpec::Kind::kClock)
      return Status::unsupported(
          "\"" + f.text +
          "\": on a real cluster only what `shoal fault` does runs (cuts, one-way cuts, flaps, "
          "loss, heal, clock); crash, restart, freeze, wipe, bandwidth and delay need the "
          "harness to own the agents (run it on namespaces or --sim), and a nat-reset its own "
          "NAT routers (--sim)");
  return {};
}

Result<RunReport> run_on_cluster(const ScenarioFile& file, const ClusterFile& cluster,
                                 const ClusterOptions& options, const std::atomic<bool>& stop) {
  if (Status s = cluster_can_run(file, cluster); !s.ok()) return s;
  ClusterRun run(file, cluster, options, stop);
  return run.run();
}

}  // namespace shoal::chaos
