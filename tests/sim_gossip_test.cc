// Simulation tests of the gossip core: whole clusters on virtual time, deterministic per
// seed. A failure prints its seed; rerun with SHOAL_SEED=<seed> to replay it exactly.
#include <doctest/doctest.h>

#include <memory>
#include <numeric>
#include <string>

#include "chaos/scenario.h"
#include "tests/sim_report.h"
#include "tests/sim_seed.h"

using namespace shoal;
using namespace shoal::chaos;
using gossip::MemberState;

namespace {

std::vector<NodeIndex> range(NodeIndex from, NodeIndex to) {
  std::vector<NodeIndex> v(to - from);
  std::iota(v.begin(), v.end(), from);
  return v;
}

// Heal push-pulls a member made after a mark: a cluster's start is a burst of joins with heal
// push-pulls of its own, which a test of a later fault leaves out.
class HealSyncsSince {
 public:
  void mark(const Simulator& sim) {
    for (NodeIndex i = 0; i < sim.size(); ++i) at_mark_.push_back(sim.core(i)->stats().heal_syncs);
  }
  uint64_t of(const Simulator& sim, NodeIndex i) const {
    return sim.core(i)->stats().heal_syncs - at_mark_.at(i);
  }

 private:
  std::vector<uint64_t> at_mark_;
};

}  // namespace

TEST_CASE("sim.join_1000") {
  // 1,000 members join through one seed over 10 s; all must see all 1,000 alive.
  Scenario s;
  s.seed = seed_or(1000);
  s.topology.nodes = 1000;
  s.topology.join_window = 10s;
  // Gossip alone leaves a rare member missing; the anti-entropy round (every 180 s at this
  // size) repairs it, so the bound covers one push-pull interval.
  s.run_for = 240s;
  s.eventually(10s, 240s, "all 1000 see 1000 alive", checks::all_up_see_each_other());
  Report r = run(s);
  require_ok(r);
  CHECK(r.false_deaths() == 0);
}

TEST_CASE("sim.crash_detected") {
  // A crashed member is declared dead by every survivor, within memberlist's bounds: a probe
  // round plus the largest suspicion timeout (6 x 4 x log10(50) x 1 s = 41 s) with room.
  Scenario s;
  s.seed = seed_or(2);
  s.topology.nodes = 50;
  s.run_for = 90s;
  s.at(20s, Fault::crash(7));
  s.check_at(19s, "before the crash all see all", checks::all_up_see_each_other());
  s.eventually(20s, 20s + 45s, "all survivors see 7 dead", checks::all_see(7, MemberState::kDead));
  Report r = run(s);
  require_ok(r);
  CHECK(r.false_deaths() == 0);
}

TEST_CASE("sim.slow_member_refutes") {
  // One member becomes very slow (800 ms more each way: every probe of it fails) and another
  // sits behind 40% loss. They are suspected, refute, and are never declared dead.
  Scenario s;
  s.seed = seed_or(3);
  s.topology.nodes = 50;
  s.run_for = 150s;
  s.at(20s, Fault::node_delay(9, 800ms));
  s.at(20s, Fault::node_loss(10, 0.4));
  s.at(110s, Fault::heal());
  s.eventually(110s, 140s, "all alive after the slowness ends", checks::all_up_see_each_other());
  uint64_t refutations_9 = 0;
  s.check_at(109s, "the slow member was suspected and refuted", [&](const Simulator& sim) {
    refutations_9 = sim.core(9)->stats().refutations;
    return refutations_9 > 0 ? std::string() : "node 9 never had to refute";
  });
  Report r = run(s);
  require_ok(r);
  CHECK(r.false_deaths() == 0);
  const auto suspected = std::count_if(r.events.begin(), r.events.end(), [](const EventRecord& e) {
    return e.subject == 9 && e.kind == gossip::Event::Kind::kSuspect;
  });
  CHECK(suspected > 0);
}

TEST_CASE("sim.loss10_no_false_deaths") {
  // lan profile, 10% uniform loss for 10 simulated minutes on 100 members: nobody dies.
  Scenario s;
  s.seed = seed_or(4);
  s.topology.nodes = 100;
  s.topology.join_window = 5s;
  s.run_for = 30s + 600s;
  s.stop_early = false;  // the point is the whole ten minutes
  s.check_at(29s, "converged before the loss", checks::all_up_see_each_other());
  s.at(30s, Fault::loss(0.10));
  Report r = run(s);
  require_ok(r);
  CHECK(r.false_deaths() == 0);
}

TEST_CASE("sim.partition_heals") {
  // Two halves of 40 cut apart: each declares the other dead. It takes a while: with half
  // the helpers unreachable, Lifeguard slows every prober down (missed nacks look like our
  // own ill health), and a member that misses the dead rumour waits out its own maximum
  // suspicion timeout (6 x 4 x log10(80) s = 46 s). About one seed in a hundred, a member
  // hears no rumour of one death at all and probes that member only minutes later (its
  // probes are stretched 8 times); its next push-pull (every 90 s at 80 members) brings the
  // death as a suspicion, which runs its 46 s: hence 90 + 46 s and some to spare. After the
  // heal, everyone sees everyone alive again within a bounded time (reconnect interval 30 s).
  Scenario s;
  s.seed = seed_or(5);
  s.topology.nodes = 80;
  s.run_for = 300s;
  const auto left = range(0, 40), right = range(40, 80);
  s.check_at(29s, "converged before the partition", checks::all_up_see_each_other());
  s.at(30s, Fault::partition({left, right}));
  s.eventually(30s, 190s, "left sees right dead", checks::group_sees_dead(left, right));
  s.eventually(30s, 190s, "right sees left dead", checks::group_sees_dead(right, left));
  s.at(190s, Fault::heal());
  s.eventually(190s, 190s + 90s, "all alive after the heal", checks::all_up_see_each_other());
  Report r = run(s);
  require_ok(r);
}

TEST_CASE("sim.partition_heal_time_does_not_grow_with_the_cut") {
  // 10 members cut apart for 30 s, 3 min or 10 min, as halves or as one member off: after
  // the heal they all see each other alive within 3 s, however long the cut lasted.
  // Dead members are tried at a steady cluster-wide rate, never on a growing backoff.
  struct Cut {
    std::vector<NodeIndex> left, right;
  };
  const Cut halves{range(0, 5), range(5, 10)}, one_off{range(0, 9), {9}};
  for (const Cut& cut : {halves, one_off}) {
    for (Duration length : {Duration(30s), Duration(180s), Duration(600s)}) {
      CAPTURE(cut.right.size());
      CAPTURE(std::chrono::duration_cast<std::chrono::seconds>(length).count());
      Scenario s;
      s.seed = seed_or(7);
      s.topology.nodes = 10;
      const Duration heal = 20s + length;
      s.run_for = heal + 10s;
      s.check_at(19s, "converged before the partition", checks::all_up_see_each_other());
      s.at(20s, Fault::partition({cut.left, cut.right}));
      s.eventually(20s, heal, "left sees right dead", checks::group_sees_dead(cut.left, cut.right));
      // A member cut off alone takes minutes to see everyone dead (no confirmations, and
      // Lifeguard slows the probing of a member whose every probe fails): not asked here.
      if (cut.right.size() > 1)
        s.eventually(20s, heal, "right sees left dead",
                     checks::group_sees_dead(cut.right, cut.left));
      s.at(heal, Fault::heal());
      s.eventually(heal, heal + 3s, "all alive within 3 s of the heal",
                   checks::all_up_see_each_other());
      Report r = run(s);
      require_ok(r);
    }
  }
}

TEST_CASE("sim.members_held_dead_are_synced_after_a_heal") {
  // 300 members, halves cut for a minute, then healed: all alive again within 15 s, and
  // members that heard from one they held dead synced with it (revive_syncs). The case
  // where this matters, a member that missed a refutation and would wait a minute for
  // anti-entropy, shows with the lease layer on: sim_heal_test.cc.
  Scenario s;
  s.seed = seed_or(13);
  s.topology.nodes = 300;
  s.run_for = 115s;
  const auto left = range(0, 150), right = range(150, 300);
  s.check_at(29s, "converged before the partition", checks::all_up_see_each_other());
  s.at(30s, Fault::partition({left, right}));
  s.at(90s, Fault::heal());
  s.eventually(90s, 105s, "all alive within 15 s of the heal", checks::all_up_see_each_other());
  uint64_t revived = 0, heal_syncs = 0;
  HealSyncsSince since_start;
  s.check_at(29s, "mark the start's heal syncs", [&](const Simulator& sim) {
    since_start.mark(sim);
    return std::string();
  });
  s.check_at(114s, "count the syncs with members held dead", [&](const Simulator& sim) {
    for (NodeIndex i = 0; i < sim.size(); ++i) {
      revived += sim.core(i)->stats().revive_syncs;
      heal_syncs += since_start.of(sim, i);
    }
    return std::string();
  });
  Report r = run(s);
  require_ok(r);
  CHECK(revived > 0);
  // The burst of revivals made members push-pull while it lasted: some, and at most 11
  // each (kMaxHealSyncs and one once it settled).
  MESSAGE(heal_syncs << " heal push-pulls among 300 members");
  CHECK(heal_syncs > 0);
  CHECK(heal_syncs <= 11 * 300);
}

TEST_CASE("sim.reconnect_cost_is_bounded") {
  // A member crashed for good costs the cluster about one connection attempt per
  // reconnect tick in all, not one per member: 100 members, 10 minutes, 1 s ticks.
  Scenario s;
  s.seed = seed_or(11);
  s.topology.nodes = 100;
  s.run_for = 700s;
  s.at(30s, Fault::crash(42));
  s.eventually(30s, 90s, "all see 42 dead", checks::all_see(42, MemberState::kDead));
  uint64_t attempts = 0, revived = 0, heal_syncs = 0;
  uint64_t doubts = 0, answered = 0, doubt_pings = 0, reminders = 0;
  HealSyncsSince since_start;
  s.check_at(29s, "mark the start's heal syncs", [&](const Simulator& sim) -> std::string {
    since_start.mark(sim);
    return {};
  });
  s.check_at(699s, "count the reconnect attempts", [&](const Simulator& sim) -> std::string {
    for (NodeIndex i = 0; i < sim.size(); ++i)
      if (sim.is_up(i)) {
        const gossip::Stats& st = sim.core(i)->stats();
        attempts += st.reconnect_attempts;
        revived += st.revive_syncs;
        heal_syncs += since_start.of(sim, i);
        doubts += st.doubts_sent;
        answered += st.doubts_answered;
        doubt_pings += st.doubt_pings;
        reminders += st.suspicion_reminders;
      }
    return {};
  });
  Report r = run(s);
  require_ok(r);
  // A member that is really dead sends nothing, so it never costs a revival sync, and no
  // burst of revivals (a heal) is seen.
  CHECK(revived == 0);
  CHECK(heal_syncs == 0);
  // About 600 tries after the death is seen (one per tick, cluster-wide); a per-member
  // rate would be 99 per tick, 60,000 in all.
  CHECK(attempts > 300);
  CHECK(attempts < 1200);
  // Every probe asks about 42, which costs nothing but bytes; nobody knows it alive, so
  // nobody answers. The suspicion, confirmed by many, ends at its minimum (8 s at 100
  // members). Doubts take pings of their own while probes are stretched and while a
  // suspicion is two probe intervals old: about 6 each, from 2 s to 8 s. Each member
  // reminds 42 at half of the minimum and once more two probe intervals later: 2 pings each.
  MESSAGE(doubts << " doubts, " << doubt_pings << " doubt pings, " << reminders
                 << " reminders among 99 members");
  CHECK(doubts > 99 * 500);
  CHECK(answered == 0);
  CHECK(doubt_pings > 99 * 4);  // 0 when only stretched probes sent them
  CHECK(doubt_pings < 99 * 8);
  CHECK(reminders <= 99 * 2);
}

TEST_CASE("sim.one_way_loss") {
  // A cannot reach B, B can reach A, for 100 s: neither is declared dead by anyone.
  Scenario s;
  s.seed = seed_or(6);
  s.topology.nodes = 30;
  s.run_for = 140s;
  s.at(20s, Fault::one_way(3, 4));
  s.at(120s, Fault::heal());
  s.check_at(119s, "3 and 4 are alive to the rest", [](const Simulator& sim) -> std::string {
    for (NodeIndex i = 0; i < sim.size(); ++i) {
      if (i == 3 || i == 4) continue;
      for (NodeIndex j : {3u, 4u}) {
        const auto* m = sim.core(i)->find(sim.id(j));
        if (!m || !m->is_alive_or_suspect())
          return "node " + std::to_string(i) + " lost node " + std::to_string(j);
      }
    }
    return {};
  });
  s.eventually(120s, 139s, "all alive after the heal", checks::all_up_see_each_other());
  Report r = run(s);
  require_ok(r);
  CHECK(r.false_deaths() == 0);
}

TEST_CASE("sim.restarted_members_outrank_their_past_deaths") {
  // A third of 60 members crash together and restart together a minute later, as a site
  // does after a power cut. Each restart starts above its past life's incarnation (as the
  // agent does, from the wall clock and its stored incarnation), so nobody takes the old
  // death, still gossiped, as news about the new life: no member declares a restarted
  // member dead after the restart.
  Scenario s;
  s.seed = seed_or(21);
  s.topology.nodes = 60;
  s.run_for = 110s;
  const auto site = range(40, 60);
  std::vector<NodeIndex> seeds{0, 1, 2};
  for (NodeIndex n : site) s.at(20s, Fault::crash(n));
  for (NodeIndex n : site) s.at(80s, Fault::restart(n, seeds));
  s.eventually(80s, 90s, "all alive within 10 s of the restart", checks::all_up_see_each_other());
  Report r = run(s);
  require_ok(r);
  size_t deaths_after_restart = 0;
  for (const EventRecord& e : r.events)
    if (e.kind == gossip::Event::Kind::kDead && e.at > kTimeZero + 80s && e.subject >= site.front())
      ++deaths_after_restart;
  CHECK(deaths_after_restart == 0);
}

TEST_CASE("sim.leave_and_reap") {
  // A member that leaves is seen as left (not dead) at once and forgotten after the reap time.
  Scenario s;
  s.seed = seed_or(7);
  s.topology.nodes = 20;
  s.topology.config.dead_reap_after = 30s;
  s.run_for = 90s;
  s.at(10s, Fault::leave(3));
  s.at(12s, Fault::crash(3));  // the process exits after announcing its leave
  s.eventually(10s, 15s, "all see 3 left", checks::all_see(3, MemberState::kLeft));
  s.eventually(40s, 85s, "all forgot 3", [](const Simulator& sim) -> std::string {
    for (NodeIndex i = 0; i < sim.size(); ++i)
      if (sim.is_up(i) && sim.core(i)->find(sim.id(3)))
        return "node " + std::to_string(i) + " still remembers 3";
    return {};
  });
  Report r = run(s);
  require_ok(r);
  CHECK(r.false_deaths() == 0);
}

namespace {

// Every member that is up writes at `version` (gossip/wire.h: the cluster version).
Check all_write_at(uint8_t version) {
  return [version](const Simulator& sim) -> std::string {
    for (NodeIndex i = 0; i < sim.size(); ++i)
      if (const auto* core = sim.core(i); core && core->wire_version() != version)
        return "node " + std::to_string(i) + " writes at " + std::to_string(core->wire_version());
    return {};
  };
}

}  // namespace

TEST_CASE("sim.gossip_mixed_versions") {
  // A rolling upgrade. 20 members, 0..9 of an "old" build that reads version 1 only, 10..19
  // of a "newer" one that reads 1..2 (the same binary posing, see Config::wire_versions).
  // Mixed, they converge, write at version 1 (what all of them read) and detect a crash;
  // then the old members are restarted on the new build one by one, 10 s apart, with no
  // false death and no message refused; once the last old member is gone all write at 2.
  Scenario s;
  s.seed = seed_or(12);
  s.topology.nodes = 20;
  s.run_for = 240s;
  gossip::Config old_build = s.topology.config, new_build = s.topology.config;
  old_build.wire_versions = {1, 1};
  new_build.wire_versions = {1, 2};
  s.topology.config = old_build;
  s.setup = [new_build](Simulator& sim) {
    for (NodeIndex i = 10; i < 20; ++i) sim.set_config(i, new_build);
  };
  // Refusals and best-effort reads, summed over every life of every member.
  struct Tally {
    uint64_t bad_version = 0, newer_version_in = 0;
    void add(const gossip::Stats& st) {
      bad_version += st.dropped_bad_version;
      newer_version_in += st.newer_version_in;
    }
  };
  auto tally = std::make_shared<Tally>();

  s.check_at(19s, "mixed: all see all", checks::all_up_see_each_other());
  s.check_at(19s, "mixed: all write at 1", all_write_at(1));
  s.at(20s, Fault::crash(3));
  s.eventually(20s, 20s + 45s, "all survivors see 3 dead", checks::all_see(3, MemberState::kDead));
  Duration at = 70s;
  for (NodeIndex i : {0, 1, 2, 4, 5, 6, 7, 8, 9}) {
    s.at(at, Fault{"upgrade " + std::to_string(i), [i, new_build, tally](Simulator& sim) {
                     tally->add(sim.core(i)->stats());
                     sim.set_config(i, new_build);
                     sim.start(i, {10});
                   }});
    at += 10s;
  }
  const Duration last_upgrade = at - 10s;
  s.check_at(last_upgrade - 1s, "one old member left: all still write at 1", all_write_at(1));
  s.eventually(last_upgrade, last_upgrade + 60s, "upgraded: all see all",
               checks::all_up_see_each_other());
  s.eventually(last_upgrade, last_upgrade + 60s, "upgraded: all write at 2", all_write_at(2));
  // The seed (0) is old, so every member hears of an old one at its join: none writes above
  // version 1 while one lives, and nobody needs the best-effort read (unit-tested in
  // gossip_wire_test.cc). Either count above zero means a member wrote above a live peer.
  s.check_at(last_upgrade + 60s, "nothing refused or read above its reader's version",
             [tally](const Simulator& sim) -> std::string {
               Tally total = *tally;
               for (NodeIndex i = 0; i < sim.size(); ++i)
                 if (sim.is_up(i)) total.add(sim.core(i)->stats());
               if (total.bad_version == 0 && total.newer_version_in == 0) return {};
               return std::to_string(total.bad_version) + " dropped as bad_version, " +
                      std::to_string(total.newer_version_in) + " read best-effort";
             });
  Report r = run(s);
  require_ok(r);
  CHECK(r.false_deaths() == 0);
}

TEST_CASE("sim.indexes_agree_with_the_entries") {
  // Membership keeps indexes beside its entries so that hot paths need not walk them: the
  // index by id, the counts by state and by wire version, the lists of suspects and dead,
  // the relay candidates (membership.h). Each is kept by hand at every change, so this run
  // makes every kind of change (loss: suspicions come and go; crashes and a partition:
  // deaths; a short reap time: entries removed from the middle; restarts: members back)
  // and audits every member's indexes every simulated second.
  Scenario s;
  s.seed = seed_or(11);
  s.topology.nodes = 60;
  s.topology.config.dead_reap_after = 20s;
  s.run_for = 170s;
  s.stop_early = false;
  const auto left = range(0, 30), right = range(30, 60);
  s.at(5s, Fault::loss(0.2));
  s.at(25s, Fault::loss(0));
  s.at(30s, Fault::crash(7));
  s.at(30s, Fault::crash(41));
  s.at(60s, Fault::partition({left, right}));
  s.at(110s, Fault::heal());
  s.at(120s, Fault::restart(7, {0}));
  s.at(120s, Fault::restart(41, {0}));
  for (int second = 1; second < 170; ++second)
    s.check_at(std::chrono::seconds(second), "indexes agree at " + std::to_string(second) + " s",
               [](const Simulator& sim) -> std::string {
                 for (NodeIndex i = 0; i < sim.size(); ++i)
                   if (const auto* core = sim.core(i))
                     if (std::string why = core->audit(); !why.empty())
                       return "node " + std::to_string(i) + ": " + why;
                 return {};
               });
  s.eventually(120s, 168s, "all alive again", checks::all_up_see_each_other());
  Report r = run(s);
  require_ok(r);
}
