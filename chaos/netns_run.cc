// The how of netns_run.h: one loop on the real clock that applies the timeline's faults when
// they are due, samples every agent every half second, and runs a pod probe round every
// quarter second, waiting on the probe sockets in between.
#include "chaos/netns_run.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "chaos/agent_sampler.h"
#include "chaos/judge.h"
#include "chaos/netns_lab.h"
#include "chaos/pod_prober.h"
#include "cli/control_client.h"
#include "common/file_io.h"
#include "common/subprocess.h"
#include "protocol/control_codec.h"
#include "store/store.h"

namespace shoal::chaos {
namespace {

// One NAT router per site behind NAT, numbered from 1 in the order of the sites.
LabTopology lab_topology(const ScenarioFile& file) {
  LabTopology t;
  t.hosts = file.hosts;
  t.pods_per_host = file.pods_per_host;
  std::vector<uint32_t> router_of_site(file.sites.size(), 0);
  for (size_t site = 0; site < file.site_nat.size(); ++site) {
    const bool routed = site < file.site_routed.size() && file.site_routed[site];
    if (!file.site_nat[site].empty() || routed) {
      t.nat_kinds.push_back(routed ? "routed" : file.site_nat[site]);
      router_of_site[site] = static_cast<uint32_t>(t.nat_kinds.size());
    }
  }
  for (uint32_t h = 0; h < file.hosts; ++h)
    t.nat_of_host.push_back(h < file.site_of_host.size() ? router_of_site[file.site_of_host[h]]
                                                         : 0);
  return t;
}

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr double kSampleStep = 0.5;   // s between samples of every agent
constexpr double kProbeRound = 0.25;  // s a probe round waits for its replies
constexpr auto kCallTimeout = 1000ms;
// A clock fault expires this long after its planned end if the harness cannot clear it.
constexpr double kClockMargin = 30;

class NetnsRun {
 public:
  NetnsRun(const ScenarioFile& file, const NetnsOptions& options, const std::atomic<bool>& stop)
      : file_(file),
        options_(options),
        stop_(stop),
        judge_(file, "namespaces", file.seed),
        agents_(file.hosts),
        sampler_(names(file.hosts), [this](uint32_t h) { return read_agent(h); }) {}

  const std::string& work_dir() const { return work_; }

  ~NetnsRun() {
    // Whatever happened: no agent or workload outlives the run (only the PIDs we started).
    stop_workload();
    for (Agent& a : agents_) kill_agent(a, SIGKILL);
  }

  Result<RunReport> run() {
    if (options_.work_dir.empty()) {
      char dir[] = "/tmp/shoal-chaos-XXXXXX";
      if (!::mkdtemp(dir)) return errno_status("mkdtemp");
      work_ = dir;
      made_work_ = true;
    } else {
      work_ = options_.work_dir;
      std::error_code ec;
      std::filesystem::create_directories(work_, ec);
      if (ec) return Status::io_error(work_ + ": " + ec.message());
    }
    if (file_.encrypt)
      if (Status s = make_cluster_key(); !s.ok()) return s;
    say("building " + std::to_string(file_.hosts) + " host namespaces with " +
        std::to_string(file_.pods_per_host) + " pods each; files in " + work_);
    auto lab = NetnsLab::create("sc" + std::to_string(::getpid()), lab_topology(file_));
    if (!lab.ok()) return lab.error();
    lab_.emplace(std::move(*lab));
    std::vector<PodProber::Pod> pods;
    for (uint32_t h = 0; h < file_.hosts; ++h)
      for (uint32_t j = 0; j < file_.pods_per_host; ++j)
        pods.push_back({lab_->pod_ns(h, j), "", h, pod_name(h, j)});
    if (!pods.empty()) {
      auto prober = PodProber::open(std::move(pods));
      if (!prober.ok()) return prober.error();
      prober_.emplace(std::move(*prober));
    }
    if (file_.planted_bug == "unreachable-pod") {
      // A test of the harness: h1p1 drops whatever it sends into the overlay (its own
      // subnet's route is longer and stays), so it answers no pod on another host.
      auto done =
          NetnsLab::exec_in(lab_->pod_ns(0, 0), {"ip", "route", "add", "blackhole", file_.network});
      if (!done.ok()) return done.error();
      judge_.log(0, "planted: h1p1 blackholes " + file_.network, RunReport::Event::Kind::kCluster);
    }

    seeds_ = seed_hosts(file_);
    const std::vector<bool> late = late_joiners(file_);
    start_ = Clock::now();
    for (uint32_t h : seeds_)
      if (Status s = start_agent(h); !s.ok()) return s;
    for (uint32_t h = 0; h < file_.hosts; ++h)
      if (!late[h] && !agents_[h].running())
        if (Status s = start_agent(h); !s.ok()) return s;

    const std::vector<TimelineAction> actions = timeline_actions(file_);
    bands_.resize(file_.timeline.size());

    size_t next_action = 0;
    double next_sample = kSampleStep, next_round = kProbeRound, round_started = -1;
    for (;;) {
      if (stop_) {
        // Agents and namespaces go with this object; a work directory we made goes now.
        if (made_work_) {
          stop_workload();
          for (Agent& a : agents_) kill_agent(a, SIGKILL);
          std::error_code ec;
          std::filesystem::remove_all(work_, ec);
        }
        return Status::unavailable("interrupted; everything the run made is removed");
      }
      double now = now_s();
      if (now >= file_.duration_s) break;
      while (next_action < actions.size() && actions[next_action].at <= now) {
        const TimelineAction& a = actions[next_action++];
        if (Status s = a.end ? end_fault(a.fault) : start_fault(a.fault); !s.ok()) return s;
      }
      if (now >= next_sample) {
        if (Status s = sample(); !s.ok()) return s;
        next_sample += kSampleStep;
      }
      if (prober_ && now >= next_round) {
        const PodProber::Round r = prober_->start_round();
        if (round_started >= 0)
          judge_.pods_probed({round_started,
                              std::chrono::duration<double>(r.last_answer - start_).count(),
                              r.reached, r.probed, r.first_miss});
        round_started = now_s();
        next_round += kProbeRound;
      }
      step_workload();
      double wake = std::min({next_sample, prober_ ? next_round : 1e18, file_.duration_s});
      if (file_.workload) wake = std::min(wake, check_pid_ > 0 ? now + 0.1 : next_check_);
      if (next_action < actions.size()) wake = std::min(wake, actions[next_action].at);
      const auto wait = std::chrono::milliseconds(
          static_cast<int64_t>(std::clamp(wake - now_s(), 0.0, 1.0) * 1000) + 1);
      if (prober_) {
        prober_->poll(wait);
      } else {
        std::this_thread::sleep_for(wait);
      }
    }
    const double end = now_s();
    sampler_.read(up());
    const auto problem = sampler_.member_problem();
    Judge::Extra extra;
    stop_workload();
    stop_agents();
    if (file_.planted_bug == "corrupt-database")
      if (Status s = corrupt_database(0); !s.ok()) return s;
    extra.databases_open = databases_open();
    extra.no_pods_reason = "the scenario has no pods";
    extra.no_workload_reason = file_.workload ? "its check never ran: no pod had an address"
                                              : "the scenario has no workload";
    RunReport report = judge_.finish(end, sampler_.views(), problem, extra, now_s());
    // A directory we made goes when the run passed; the caller's --work is never removed.
    if (made_work_ && report.passed()) {
      std::error_code ec;
      std::filesystem::remove_all(work_, ec);
    } else if (!report.passed()) {
      std::fprintf(stderr, "shoal-chaos: the agents' logs and files are kept in %s\n",
                   work_.c_str());
    }
    return report;
  }

 private:
  struct Agent {
    pid_t pid = -1;
    bool frozen = false;
    bool running() const { return pid > 0; }
  };

  double now_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  void say(const std::string& what) const {
    if (options_.verbose) std::fprintf(stderr, "shoal-chaos: %s\n", what.c_str());
  }

  std::string dir_of(uint32_t h) const { return work_ + "/" + host_name(h); }
  std::string key_file() const { return work_ + "/cluster.key"; }

  // One cluster key for every agent, from the agent's own `shoal keygen`.
  Status make_cluster_key() {
    auto made = run_process({options_.shoal, "keygen"}, {});
    if (!made.ok()) return made.error().reworded("shoal keygen: " + made.error().message());
    if (made->exit_code != 0)
      return Status::io_error("shoal keygen failed (exit " + std::to_string(made->exit_code) + ")");
    return write_file_atomically(key_file(), made->output, 0600);
  }
  std::string socket_of(uint32_t h) const { return dir_of(h) + "/shoal.sock"; }

  Status start_agent(uint32_t h) {
    Agent& a = agents_[h];
    if (a.running()) return {};
    std::error_code ec;
    std::filesystem::create_directories(dir_of(h), ec);
    if (ec) return Status::io_error(dir_of(h) + ": " + ec.message());
    const std::string address = lab_->host_address(h);
    // Behind a NAT an agent binds every address (as in tests/e2e/nat_sites.sh) and
    // advertises its LAN one.
    const std::string bind = (lab_->nat_of(h) ? "0.0.0.0" : address) + ":7946";
    std::vector<std::string> argv = {"ip",
                                     "netns",
                                     "exec",
                                     lab_->host_ns(h),
                                     options_.shoal,
                                     "agent",
                                     "--name",
                                     host_name(h),
                                     "--network",
                                     file_.network,
                                     "--subnet-len",
                                     std::to_string(file_.subnet_len),
                                     "--backend",
                                     file_.backend,
                                     "--bind",
                                     bind,
                                     "--site",
                                     file_.sites[file_.site_of_host[h]],
                                     "--data-dir",
                                     dir_of(h),
                                     "--subnet-file",
                                     dir_of(h) + "/subnet.env",
                                     "--control-socket",
                                     socket_of(h),
                                     "--metrics-addr",
                                     address + ":9100",
                                     "--log-level",
                                     "info"};
    if (lab_->nat_of(h)) argv.insert(argv.end(), {"--advertise", address});
    if (file_.encrypt) {
      argv.insert(argv.end(), {"--key-file", key_file()});
      if (file_.backend == "udp") argv.insert(argv.end(), {"--encrypt", "true"});
    }
    for (uint32_t s : seeds_)
      if (s != h) argv.insert(argv.end(), {"--seed", lab_->host_address(s) + ":7946"});
    if (file_.lease_ttl_s > 0)
      argv.insert(argv.end(),
                  {"--lease-ttl", std::to_string(static_cast<int64_t>(file_.lease_ttl_s)) + "s"});
    // Clock faults go through the agent's test-only fault API (`shoal fault clock`).
    if (has_clock_faults()) argv.insert(argv.end(), {"--allow-faults", "true"});
    auto pid = spawn_process(argv, work_ + "/" + host_name(h) + ".log");
    if (!pid.ok()) return pid.error();
    a.pid = *pid;
    a.frozen = false;
    sampler_.restarted(h);
    say("started " + host_name(h) + " (pid " + std::to_string(a.pid) + ")");
    return {};
  }

  // Signals only the PID we started, and reaps it when the signal ends it.
  void kill_agent(Agent& a, int signal) {
    if (!a.running()) return;
    if (a.frozen) ::kill(a.pid, SIGCONT);
    ::kill(a.pid, signal);
    if (!reap_within(a.pid, 5s)) {
      ::kill(a.pid, SIGKILL);
      (void)reap_within(a.pid, 5s);
    }
    a.pid = -1;
    a.frozen = false;
  }

  void stop_agents() {
    for (Agent& a : agents_)
      if (a.running()) {
        if (a.frozen) ::kill(a.pid, SIGCONT), a.frozen = false;
        ::kill(a.pid, SIGTERM);
      }
    for (Agent& a : agents_)
      if (a.running()) kill_agent(a, SIGTERM);  // waits; SIGKILL after 5 s
  }

  // Every cut and loss now on, applied to the switch as a whole.
  Status apply_links() {
    NetnsLab::Links links;
    links.loss.assign(file_.hosts, 0);
    for (uint32_t a = 0; a < file_.hosts; ++a)
      for (uint32_t b = 0; b < file_.hosts; ++b)
        if (a != b &&
            std::any_of(cuts_.begin(), cuts_.end(), [&](const auto& c) { return c.second(a, b); }))
          links.cut.emplace_back(a, b);
    for (const auto& [fault, loss] : losses_) {
      const FaultSpec& f = file_.timeline[fault];
      if (!f.from.empty()) {  // a lossy link between two sets
        const CutPredicate across = cut_predicate(f, file_.hosts);
        for (uint32_t a = 0; a < file_.hosts; ++a)
          for (uint32_t b = 0; b < file_.hosts; ++b)
            if (a != b && across(a, b)) links.link_loss.push_back({a, b, loss});
        continue;
      }
      for (uint32_t h : f.hosts) links.loss[h] = 1 - (1 - links.loss[h]) * (1 - loss);
    }
    return lab_->set_links(links);
  }

  // Every bandwidth limit now on: the tightest one per host.
  Status apply_bandwidth() {
    std::vector<double> mbit(file_.hosts, 0);
    for (const auto& [fault, limit] : limits_)
      for (uint32_t h : file_.timeline[fault].hosts)
        mbit[h] = mbit[h] > 0 ? std::min(mbit[h], limit) : limit;
    for (uint32_t h = 0; h < file_.hosts; ++h)
      if (Status s = lab_->set_bandwidth(h, mbit[h]); !s.ok()) return s;
    return {};
  }

  Status start_fault(size_t i) {
    const FaultSpec& f = file_.timeline[i];
    const double t = now_s();
    bands_[i] = judge_.fault_started(t, f);
    say(f.text);
    switch (f.kind) {
      case FaultSpec::Kind::kCut:
        cuts_.emplace(i, cut_predicate(f, file_.hosts));
        return apply_links();
      case FaultSpec::Kind::kLoss:
        losses_.emplace(i, f.loss);
        return apply_links();
      case FaultSpec::Kind::kBandwidth:
        limits_.emplace(i, f.mbit);
        return apply_bandwidth();
      case FaultSpec::Kind::kHeal:
        cuts_.clear();
        losses_.clear();
        limits_.clear();
        if (Status s = apply_bandwidth(); !s.ok()) return s;
        return apply_links();
      case FaultSpec::Kind::kCrash:
        for (uint32_t h : f.hosts) crash(t, h);
        return {};
      case FaultSpec::Kind::kWipe:
        for (uint32_t h : f.hosts) {
          crash(t, h);
          for (const char* suffix : {"", "-wal", "-shm"}) {
            std::error_code ec;
            std::filesystem::remove(dir_of(h) + "/shoal.db" + suffix, ec);
          }
        }
        return {};
      case FaultSpec::Kind::kRestart:
        for (uint32_t h : f.hosts) {
          if (agents_[h].running()) kill_agent(agents_[h], SIGKILL);
          if (Status s = start_agent(h); !s.ok()) return s;
          judge_.host_running(h);
        }
        return {};
      case FaultSpec::Kind::kFreeze:
        for (uint32_t h : f.hosts)
          if (agents_[h].running() && !agents_[h].frozen) {
            ::kill(agents_[h].pid, SIGSTOP);
            agents_[h].frozen = true;
            judge_.host_stopped(t, h);
          }
        return {};
      case FaultSpec::Kind::kClock:
        for (uint32_t h : f.hosts)
          if (Status s = move_clock(i, h); !s.ok()) return s;
        return {};
      case FaultSpec::Kind::kNatReset: {
        std::set<uint32_t> routers;  // the routers in front of these hosts, each once
        for (uint32_t h : f.hosts)
          if (lab_->nat_of(h)) routers.insert(lab_->nat_of(h));
        for (uint32_t k : routers)
          if (Status s = lab_->reset_nat(k); !s.ok()) return s;
        return {};
      }
      case FaultSpec::Kind::kDelay:
        break;  // refused before the run (namespaces_can_run)
    }
    return {};
  }

  bool has_clock_faults() const {
    return std::any_of(file_.timeline.begin(), file_.timeline.end(),
                       [](const FaultSpec& f) { return f.kind == FaultSpec::Kind::kClock; });
  }

  // Fault i moves host h's clock: a clock fault on its agent, which lasts until end_fault
  // clears it (or the run's length, with a margin, if it never ends). A host that is down
  // misses it; one that restarts comes back on the true clock, as the fault dies with its
  // agent.
  Status move_clock(size_t i, uint32_t h) {
    if (!agents_[h].running() || agents_[h].frozen) return {};
    const FaultSpec& f = file_.timeline[i];
    const double lasts = (f.for_s > 0 ? f.for_s : file_.duration_s - f.at_s) + kClockMargin;
    proto::ControlRequest add;
    auto* fault = add.mutable_fault_add();
    fault->set_clock_offset_ms(static_cast<int64_t>(f.offset_s * 1000));
    fault->set_seconds(static_cast<uint32_t>(
        std::clamp(std::ceil(lasts), 1.0, static_cast<double>(protocol::kMaxFaultSeconds))));
    auto answer = cli::call(socket_of(h), add, kCallTimeout);
    if (answer.ok() && answer->error().empty() && !answer->faults().empty()) {
      clock_faults_[{i, h}] = answer->faults(answer->faults_size() - 1).id();
      return {};
    }
    return Status::unavailable(host_name(h) + " refused its clock fault: " +
                               (answer.ok() ? answer->error() : answer.error().message()));
  }

  // Ends fault i's clock move on every host that still has it (not on one restarted since).
  void restore_clock(size_t i) {
    for (auto it = clock_faults_.begin(); it != clock_faults_.end();) {
      if (it->first.first != i) {
        ++it;
        continue;
      }
      const uint32_t h = it->first.second;
      if (agents_[h].running()) {
        proto::ControlRequest clear;
        clear.mutable_fault_clear()->set_id(it->second);
        auto answer = cli::call(socket_of(h), clear, kCallTimeout);
        if (!answer.ok() || !answer->error().empty())
          say(host_name(h) + ": its clock fault was not cleared (it expires on its own): " +
              (answer.ok() ? answer->error() : answer.error().message()));
      }
      it = clock_faults_.erase(it);
    }
  }

  Status end_fault(size_t i) {
    const FaultSpec& f = file_.timeline[i];
    const double t = now_s();
    say("end: " + f.text);
    Status applied;
    switch (f.kind) {
      case FaultSpec::Kind::kCut:
        cuts_.erase(i);
        applied = apply_links();
        break;
      case FaultSpec::Kind::kLoss:
        losses_.erase(i);
        applied = apply_links();
        break;
      case FaultSpec::Kind::kBandwidth:
        limits_.erase(i);
        applied = apply_bandwidth();
        break;
      case FaultSpec::Kind::kFreeze:
        for (uint32_t h : f.hosts)
          if (agents_[h].running() && agents_[h].frozen) {
            ::kill(agents_[h].pid, SIGCONT);
            agents_[h].frozen = false;
            judge_.host_thawed(t, h);
          }
        break;
      case FaultSpec::Kind::kCrash:
      case FaultSpec::Kind::kWipe:
        for (uint32_t h : f.hosts) {
          if (Status s = start_agent(h); !s.ok()) return s;
          judge_.host_running(h);
        }
        break;
      case FaultSpec::Kind::kClock:
        restore_clock(i);
        break;
      case FaultSpec::Kind::kDelay:
      case FaultSpec::Kind::kRestart:
      case FaultSpec::Kind::kHeal:
      case FaultSpec::Kind::kNatReset:
        break;
    }
    judge_.fault_ended(t, f, bands_[i]);
    return applied;
  }

  void crash(double t, uint32_t h) {
    if (!agents_[h].running()) return;
    kill_agent(agents_[h], SIGKILL);
    judge_.host_stopped(t, h);
  }

  static std::vector<std::string> names(size_t hosts) {
    std::vector<std::string> out;
    for (uint32_t h = 0; h < hosts; ++h) out.push_back(host_name(h));
    return out;
  }

  // Hosts running and not frozen: the ones read, and the ones a death of is false.
  std::vector<bool> up() const {
    std::vector<bool> out;
    for (const Agent& a : agents_) out.push_back(a.running() && !a.frozen);
    return out;
  }

  AgentSampler::Answers read_agent(uint32_t h) const {
    AgentSampler::Answers answers;
    proto::ControlRequest ask_members, ask_leases;
    ask_members.mutable_members();
    ask_leases.mutable_leases();
    if (auto m = cli::call(socket_of(h), ask_members, kCallTimeout); m.ok() && m->error().empty())
      answers.members = std::move(*m);
    if (auto l = cli::call(socket_of(h), ask_leases, kCallTimeout); l.ok() && l->error().empty())
      answers.leases = std::move(*l);
    return answers;
  }

  Status sample() {
    const auto running = up();
    sampler_.sample(now_s(), judge_, running, running);
    const auto& views = sampler_.views();
    retired_.resize(file_.hosts);
    // Pods follow their host's subnet, as the CNI plugin would give them addresses from it.
    if (prober_)
      for (uint32_t h = 0; h < file_.hosts; ++h) {
        const auto& subnet = views[h].ready_subnet;
        if (!subnet || lab_->pods_subnet(h) == subnet) continue;
        if (Status s = lab_->address_pods(h, *subnet); !s.ok()) return s;
        for (uint32_t j = 0; j < file_.pods_per_host; ++j)
          prober_->set_address(h * file_.pods_per_host + j, NetnsLab::pod_address(*subnet, j));
        retired_[h] = false;
        if (Status s = pods_moved(h); !s.ok()) return s;
      }
    if (prober_) retire_orphaned_pods(running, views);
    return {};
  }

  // A host that is down keeps its pods and their routes (an agent's crash leaves the kernel's
  // datapath as it was), and they count. Once its lease has run out and another host routes its
  // subnet, its pods hold addresses that are someone else's: they leave the probe matrix
  // until the host is back with a subnet of its own.
  void retire_orphaned_pods(const std::vector<bool>& running, const std::vector<HostView>& views) {
    for (uint32_t h = 0; h < file_.hosts; ++h) {
      const auto subnet = lab_->pods_subnet(h);
      if (running[h] || retired_[h] || !subnet) continue;
      for (uint32_t g = 0; g < file_.hosts; ++g) {
        if (g == h || !running[g] || views[g].ready_subnet != subnet) continue;
        for (uint32_t j = 0; j < file_.pods_per_host; ++j)
          prober_->set_address(h * file_.pods_per_host + j, "");
        retired_[h] = true;
        judge_.log(now_s(),
                   host_name(h) + "'s pods leave the probe matrix: its subnet " +
                       subnet->to_string() + " is " + host_name(g) + "'s now",
                   RunReport::Event::Kind::kCluster);
        break;
      }
    }
  }

  // ---- the workload (ScenarioFile::Workload) ----

  std::string pod_name(uint32_t h, uint32_t j) const {
    return host_name(h) + "p" + std::to_string(j + 1);
  }

  // argv for `command` with `sh -c` in pod (h, j), in the scenario's folder, with its names.
  std::vector<std::string> in_pod(uint32_t h, uint32_t j, const std::string& command) const {
    const auto subnet = lab_->pods_subnet(h);
    return {"ip",
            "netns",
            "exec",
            lab_->pod_ns(h, j),
            "env",
            "POD_NAME=" + pod_name(h, j),
            "POD_ADDRESS=" + (subnet ? NetnsLab::pod_address(*subnet, j) : ""),
            "PEERS_FILE=" + work_ + "/peers",
            "WORKLOAD_DIR=" + file_.workload->dir,
            "sh",
            "-c",
            "cd \"$WORKLOAD_DIR\" && " + command};
  }

  // Host h's pods have new addresses: the peers file says so, and their servers start again.
  Status pods_moved(uint32_t h) {
    if (!file_.workload) return {};
    std::string peers;
    for (uint32_t o = 0; o < file_.hosts; ++o)
      if (auto subnet = lab_->pods_subnet(o))
        for (uint32_t j = 0; j < file_.pods_per_host; ++j)
          peers += NetnsLab::pod_address(*subnet, j) + "\n";
    if (Status s = write_file_atomically(work_ + "/peers", peers); !s.ok()) return s;
    if (file_.workload->start.empty()) return {};
    workload_pids_.resize(file_.hosts * file_.pods_per_host, -1);
    for (uint32_t j = 0; j < file_.pods_per_host; ++j) {
      pid_t& pid = workload_pids_[h * file_.pods_per_host + j];
      end_group(pid);
      auto started = spawn_process(in_pod(h, j, file_.workload->start),
                                   work_ + "/" + pod_name(h, j) + "-workload.log");
      if (!started.ok()) return started.error();
      pid = *started;
    }
    return {};
  }

  // Ends the process group we started as `pid` (a workload and what it started).
  static void end_group(pid_t& pid) {
    if (pid <= 0) return;
    ::kill(-pid, SIGKILL);
    (void)reap_within(pid, 5s);
    pid = -1;
  }

  void stop_workload() {
    for (pid_t& pid : workload_pids_) end_group(pid);
    end_group(check_pid_);
  }

  // Starts the check when it is due, and reads its outcome when it has ended.
  void step_workload() {
    if (!file_.workload) return;
    const double now = now_s();
    const std::string log = work_ + "/check.log";
    if (check_pid_ > 0) {
      int status = 0;
      const pid_t r = ::waitpid(check_pid_, &status, WNOHANG);
      if (r == check_pid_) {
        check_pid_ = -1;
        const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        judge_.workload_checked(now, ok, last_line(log));
      } else if (now - check_started_ > file_.workload->timeout_s) {
        end_group(check_pid_);
        judge_.workload_checked(now, false,
                                "timed out after " + seconds_text(file_.workload->timeout_s));
      }
      return;
    }
    if (now < next_check_ || !lab_->pods_subnet(0) || file_.pods_per_host == 0) return;
    (void)write_file_atomically(log, "");
    auto started = spawn_process(in_pod(0, 0, file_.workload->check), log);
    if (!started.ok()) {
      judge_.workload_checked(now, false, "could not start: " + started.error().message());
    } else {
      check_pid_ = *started;
      check_started_ = now;
    }
    next_check_ = now + file_.workload->every_s;
  }

  static std::string last_line(const std::string& path) {
    auto text = read_file_limited(path, 1 << 16);
    if (!text.ok()) return "(no output)";
    std::string s = *text;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    const size_t nl = s.rfind('\n');
    s = nl == std::string::npos ? s : s.substr(nl + 1);
    return s.empty() ? "(no output)" : s.substr(0, 300);
  }

  // A test of the harness: host h's database loses its header, as a disk that lost a write.
  Status corrupt_database(uint32_t h) {
    const std::string path = dir_of(h) + "/shoal.db";
    if (Status s = write_file_atomically(path, std::string(4096, '\x5a')); !s.ok()) return s;
    judge_.log(now_s(), "planted: " + host_name(h) + "'s database overwritten",
               RunReport::Event::Kind::kCluster);
    return {};
  }

  // After the agents stopped: every host's database opens (Store::open runs quick_check).
  RunReport::Verdict databases_open() const {
    size_t opened = 0;
    for (uint32_t h = 0; h < file_.hosts; ++h) {
      const std::string path = dir_of(h) + "/shoal.db";
      if (!std::filesystem::exists(path)) continue;
      auto store = store::Store::open(path, 2s);
      if (!store.ok())
        return {"databases_open", RunReport::Verdict::Outcome::kFail,
                host_name(h) + ": " + store.error().to_string()};
      ++opened;
    }
    return {"databases_open", RunReport::Verdict::Outcome::kPass,
            std::to_string(opened) + " databases opened cleanly after the agents stopped"};
  }

  const ScenarioFile& file_;
  const NetnsOptions& options_;
  const std::atomic<bool>& stop_;
  Judge judge_;
  std::string work_;
  bool made_work_ = false;  // work_ is ours (mkdtemp), not the caller's --work
  std::optional<NetnsLab> lab_;
  std::optional<PodProber> prober_;
  std::vector<bool> retired_;  // per host: its pods left the probe matrix (retire_orphaned_pods)
  std::vector<Agent> agents_;
  std::vector<uint32_t> seeds_;
  std::vector<size_t> bands_;
  std::map<size_t, CutPredicate> cuts_;
  std::map<size_t, double> losses_;
  std::map<size_t, double> limits_;                               // bandwidth faults on: Mbit/s
  std::map<std::pair<size_t, uint32_t>, uint64_t> clock_faults_;  // (fault, host) -> agent's id
  AgentSampler sampler_;
  std::vector<pid_t> workload_pids_;  // per pod, -1: not running
  pid_t check_pid_ = -1;
  double check_started_ = 0, next_check_ = 0;
  Clock::time_point start_;
};

}  // namespace

Status namespaces_can_run(const ScenarioFile& file) {
  if (file.planted_bug == "keep-lost-subnet" || file.planted_bug == "never-claim")
    return Status::unsupported("planted_bug " + file.planted_bug +
                               " is planted in the simulator's lease core, not in the agents: "
                               "run it with --sim");
  if (file.backend == "host-gw" &&
      std::find(file.site_routed.begin(), file.site_routed.end(), true) != file.site_routed.end())
    return Status::invalid_argument(
        "host-gw routes pods only to hosts on its own segment, and routed sites are a hop "
        "away: use vxlan, udp or auto (vxlan across the hop, host-gw inside)");
  if (file.planted_bug == "unreachable-pod" && file.pods_per_host == 0)
    return Status::invalid_argument("planted_bug unreachable-pod needs pods (pods_per_host)");
  if (file.has_nat() && file.pods_per_host > 0 && (file.backend != "udp" || !file.encrypt))
    return Status::invalid_argument(
        "pods behind NAT reach the others only through the encrypted udp tunnel: set "
        "topology.backend to \"udp\" and topology.encrypt to true (or pods_per_host to 0)");
  for (const FaultSpec& f : file.timeline) {
    if (f.kind == FaultSpec::Kind::kDelay)
      return Status::unsupported(
          "\"" + f.text +
          "\": delay runs only in --sim for now: on namespaces it needs netem (sch_netem), which "
          "this harness does not drive and this machine's kernel lacks, and the udp tunnel has "
          "no test delay; the harness does not fake one");
  }
  if (file.hosts > kMaxLabHosts)
    return Status::invalid_argument(std::to_string(file.hosts) +
                                    " hosts: namespaces hold at most " +
                                    std::to_string(kMaxLabHosts) + "; use --sim or --hosts");
  return {};
}

Result<RunReport> run_in_namespaces(const ScenarioFile& file, const NetnsOptions& options,
                                    const std::atomic<bool>& stop) {
  if (Status s = namespaces_can_run(file); !s.ok()) return s;
  if (::geteuid() != 0)
    return Status::unavailable("running on network namespaces needs root (or use --sim)");
  // Agents die with the run; the lab's destructor removes the namespaces after them.
  NetnsRun run(file, options, stop);
  auto report = run.run();
  // A step that failed: the namespaces and agents go, the agents' files stay, to be read.
  if (!report.ok() && !stop && !run.work_dir().empty())
    return report.error().reworded(report.error().message() +
                                   "; the agents' files and logs are kept in " + run.work_dir());
  return report;
}

}  // namespace shoal::chaos
