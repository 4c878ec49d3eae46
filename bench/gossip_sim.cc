// scripts/bench gossip_sim: the gossip core at N = 100, 1000 and 2000 members on the
// simulator (lan profile, 1-5 ms links). Prints `figure <name> <value> <unit>` lines.
//
// Per N, in one simulated run: join everyone through one seed and let it settle; measure
// steady-state traffic and simulation speed over one minute; join one more member and time
// its alive message reaching 99.99% and 100% of the others; crash one and time the first
// and the last survivor declaring it dead; then a spell at 10% loss and one at 25%,
// counting healthy members declared dead and the push-pulls each member started per
// simulated minute (push_pulls_per_member_min.lossP.nN). The spells last a simulated minute
// by default; GOSSIP_SIM_LOSS_S=600 runs them for ten.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "bench/figure.h"
#include "chaos/simulator.h"

using namespace shoal;
using shoal::bench::figure;
using namespace shoal::chaos;
using gossip::Event;
using gossip::MemberState;

namespace {

// Every one of the first n members is up and sees all n alive.
bool converged(const Simulator& sim, size_t n) {
  size_t up = 0;
  for (NodeIndex i = 0; i < sim.size(); ++i) up += sim.is_up(i);
  if (up != n) return false;
  for (NodeIndex i = 0; i < sim.size(); ++i)
    if (sim.is_up(i) && sim.core(i)->count(MemberState::kAlive) != up) return false;
  return true;
}

void run(size_t n, uint64_t seed, Duration loss_spell) {
  const std::string tag = ".n" + std::to_string(n);
  Simulator sim(seed);
  for (size_t i = 0; i <= n; ++i) sim.add_node(gossip::Config::lan());  // node n joins later
  const NodeIndex newcomer = static_cast<NodeIndex>(n);

  // Who learned of whom, when; and deaths declared, by subject.
  std::vector<TimePoint> learned_newcomer;
  std::vector<std::pair<TimePoint, NodeIndex>> deaths;
  sim.on_event([&](TimePoint at, NodeIndex observer, const Event& e) {
    auto subject = sim.index_of(e.member.id);
    if (!subject) return;
    if (*subject == newcomer && e.kind == Event::Kind::kJoined && observer != newcomer)
      learned_newcomer.push_back(at);
    if (e.kind == Event::Kind::kDead) deaths.push_back({at, *subject});
  });

  // 1. Join through one seed, spread over n/100 seconds, and settle.
  Rng starts(seed * 7 + 1);
  const auto join_window = static_cast<uint64_t>(std::max<size_t>(1, n / 100)) * 1000000;
  sim.start(0, {});
  for (NodeIndex i = 1; i < n; ++i)
    sim.at(kTimeZero + Duration(starts.below(join_window)), [&sim, i] { sim.start(i, {0}); });
  const double join_wall = bench::wall_seconds();
  const bool ok = sim.run_until([&] { return converged(sim, n); }, kTimeZero + 400s, 500ms);
  std::printf("# n=%zu: %s after %.1f simulated s (%.1f s wall)\n", n,
              ok ? "converged" : "NOT converged", to_seconds(sim.now()),
              bench::wall_seconds() - join_wall);
  sim.run_for(10s);

  // 2. Steady state: bytes per member per second (over at least one push-pull interval, so
  // anti-entropy is counted) and wall time per simulated minute.
  const Duration window = std::max<Duration>(60s, gossip::push_pull_scale(30s, n));
  const Traffic before = sim.traffic();
  const double wall_start = bench::wall_seconds();
  sim.run_for(window);
  const double wall_per_min = (bench::wall_seconds() - wall_start) * 60.0 / to_seconds(window);
  const Traffic& after = sim.traffic();
  const double bytes = double(after.datagram_bytes - before.datagram_bytes) +
                       double(after.stream_bytes - before.stream_bytes);
  figure("bytes_per_member_s" + tag, bytes / double(n) / to_seconds(window), "B/s");
  figure("sim_wall_per_min" + tag, wall_per_min, "s");

  // 3. Dissemination of a new member's alive message.
  const TimePoint join_at = sim.now();
  sim.start(newcomer, {0});
  sim.run_until([&] { return learned_newcomer.size() >= n; }, join_at + 120s, 10ms);
  std::sort(learned_newcomer.begin(), learned_newcomer.end());
  const size_t p9999 = static_cast<size_t>(std::ceil(0.9999 * double(n)));
  if (learned_newcomer.size() >= p9999)
    figure("disseminate_p9999" + tag, to_seconds(learned_newcomer[p9999 - 1] - join_at), "s");
  if (learned_newcomer.size() >= n)
    figure("disseminate_all" + tag, to_seconds(learned_newcomer[n - 1] - join_at), "s");
  else
    std::printf("# only %zu of %zu learned of the newcomer in 120 s\n", learned_newcomer.size(), n);
  sim.run_for(30s);

  // 4. Detection of a crash.
  const NodeIndex victim = static_cast<NodeIndex>(1 + starts.below(n - 1));
  deaths.clear();
  const TimePoint crash_at = sim.now();
  sim.crash(victim);
  auto declared = [&] {
    return static_cast<size_t>(
        std::count_if(deaths.begin(), deaths.end(), [&](auto& d) { return d.second == victim; }));
  };
  sim.run_until([&] { return declared() >= n - 1; }, crash_at + 180s,
                100ms);  // n-1 survivors + newcomer
  std::vector<TimePoint> times;
  for (auto& [at, who] : deaths)
    if (who == victim) times.push_back(at);
  std::sort(times.begin(), times.end());
  if (!times.empty()) figure("detect_first" + tag, to_seconds(times.front() - crash_at), "s");
  if (times.size() >= n - 1) {
    figure("detect_last" + tag, to_seconds(times[n - 2] - crash_at), "s");
  } else {
    std::printf("# only %zu of %zu survivors declared the crash within 180 s\n", times.size(),
                n - 1);
  }
  const Duration min_suspicion = gossip::suspicion_timeout(4, n, 1s);
  std::printf("# memberlist bounds at n=%zu: suspicion %.1f..%.1f s after the first failed probe\n",
              n, to_seconds(min_suspicion), to_seconds(min_suspicion * 6));
  sim.run_for(30s);

  // 5. False deaths under loss, for loss_spell each.
  // Push-pulls started by the members up, all told: how far loss passes for a heal, whose
  // bursts of revivals start push-pulls of whole member lists (gossip/membership_sync.cc:
  // lone refuted suspicions must not start one).
  auto push_pulls = [&sim] {
    uint64_t sum = 0;
    for (NodeIndex i = 0; i < sim.size(); ++i)
      if (sim.is_up(i)) sum += sim.core(i)->stats().push_pulls_started;
    return sum;
  };
  for (double loss : {0.10, 0.25}) {
    deaths.clear();
    const uint64_t push_pulls_before = push_pulls();
    sim.network().set_loss(loss);
    const double spell_wall = bench::wall_seconds();
    sim.run_for(loss_spell);
    const double spell_wall_s = bench::wall_seconds() - spell_wall;
    sim.network().set_loss(0);
    const std::string pct = std::to_string(int(loss * 100));
    figure("push_pulls_per_member_min.loss" + pct + tag,
           double(push_pulls() - push_pulls_before) / double(n) / (to_seconds(loss_spell) / 60),
           "count");
    std::printf("# loss %s%%: %.1f s of wall time for the spell\n", pct.c_str(), spell_wall_s);
    // Healthy members that anyone declared dead (a member declared dead by 500 observers
    // counts once), and how many such declarations there were.
    std::set<NodeIndex> wrongly_dead;
    size_t declarations = 0;
    for (auto& [at, who] : deaths) {
      if (who == victim) continue;
      wrongly_dead.insert(who);
      ++declarations;
    }
    figure("false_dead.loss" + pct + tag, double(wrongly_dead.size()), "count");
    std::printf("# loss %s%%: %zu declarations of death about healthy members\n", pct.c_str(),
                declarations);
    sim.run_for(60s);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes = {100, 1000, 2000};
  if (argc > 1) {
    sizes.clear();
    for (int i = 1; i < argc; ++i) sizes.push_back(std::strtoul(argv[i], nullptr, 10));
  }
  const uint64_t seed =
      std::getenv("SHOAL_SEED") ? std::strtoull(std::getenv("SHOAL_SEED"), nullptr, 10) : 1;
  std::printf("# gossip_sim: lan profile, seed %llu (SHOAL_SEED to change)\n",
              static_cast<unsigned long long>(seed));
  std::printf(
      "# targets: disseminate_p9999.n1000 ~2.2 s (serf's model); zero false deaths at 10%%"
      " loss; sim_wall_per_min.n2000 < 30 s\n");
  const char* spell = std::getenv("GOSSIP_SIM_LOSS_S");
  const long spell_s = spell ? std::strtol(spell, nullptr, 10) : 60;
  if (spell_s < 10 || spell_s > 3600) {
    std::fprintf(stderr, "gossip_sim: GOSSIP_SIM_LOSS_S must be 10 to 3600 seconds\n");
    return 2;
  }
  std::printf("# loss spells of %ld simulated s (GOSSIP_SIM_LOSS_S to change)\n", spell_s);
  for (size_t n : sizes) run(n, seed, std::chrono::seconds(spell_s));
  return 0;
}
