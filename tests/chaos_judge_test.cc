// The Judge's rules, fed by hand: recoveries are timed from a fault's end, pods must reach
// again within the bound, an overlap counts once the cluster agreed, and a death during a
// cut is not false while one outside any fault is.
#include <doctest/doctest.h>

#include <string>

#include "chaos/judge.h"

using namespace shoal;
using namespace shoal::chaos;

namespace {

ScenarioFile three_hosts() {
  ScenarioFile f;
  f.name = "judge";
  f.hosts = 3;
  f.duration_s = 100;
  f.checks.converge_within_s = 5;
  return f;
}

FaultSpec cut_h1() {
  FaultSpec f;
  f.kind = FaultSpec::Kind::kCut;
  f.at_s = 10;
  f.for_s = 10;
  f.from = {0};
  f.to = {1, 2};
  f.text = "cut h1";
  return f;
}

std::vector<HostView> agreeing(size_t n = 3) {
  std::vector<HostView> v(n);
  for (uint32_t h = 0; h < n; ++h)
    v[h] = {true, n, 0, 42, Cidr::parse("100.64." + std::to_string(h + 1) + ".0/24")};
  return v;
}

const MemberProblem kProblem = [](uint32_t h, const std::vector<uint32_t>&) {
  return host_name(h) + " is off";
};

const RunReport::Verdict& verdict(const RunReport& r, const std::string& check) {
  for (const auto& v : r.verdicts)
    if (v.check == check) return v;
  FAIL("no verdict " << check);
  return r.verdicts.front();
}

}  // namespace

TEST_CASE("judge: a cut's end is timed to agreement and to pods reaching again") {
  const ScenarioFile file = three_hosts();
  const FaultSpec cut = cut_h1();
  Judge judge(file, "test", 1);
  CHECK(judge.sample(1, agreeing(), kProblem));
  judge.pods_probed({1, 1.01, 6, 6, ""});
  const size_t band = judge.fault_started(10, cut);
  CHECK(judge.split());
  auto split = agreeing();
  split[0].alive = 1;
  CHECK_FALSE(judge.sample(12, split, kProblem));
  judge.pods_probed({12, 12.01, 2, 6, "h1p1 -> h2p1 (100.64.2.2)"});
  judge.pods_probed({19.5, 20.2, 6, 6, ""});  // sent before the end: does not count
  judge.fault_ended(20, cut, band);
  CHECK_FALSE(judge.split());
  CHECK_FALSE(judge.sample(20.5, split, kProblem));
  CHECK(judge.sample(21.5, agreeing(), kProblem));
  judge.pods_probed({21.9, 22, 6, 6, ""});
  const RunReport r = judge.finish(30, agreeing(), kProblem, {}, 0);
  REQUIRE(r.recoveries.size() == 1);
  CHECK(r.recoveries[0].seconds == doctest::Approx(1.5));
  CHECK(r.recoveries[0].reach_seconds == doctest::Approx(2));
  CHECK(verdict(r, "converge_within").outcome == RunReport::Verdict::Outcome::kPass);
  CHECK(verdict(r, "pods_reach").outcome == RunReport::Verdict::Outcome::kPass);
  CHECK(r.bands.at(0).to == 20);
  CHECK(r.passed());
}

TEST_CASE("judge: pods that reach and are cut off again before the next fault had not recovered") {
  const ScenarioFile file = three_hosts();
  const FaultSpec cut = cut_h1();
  Judge judge(file, "test", 1);
  const size_t band = judge.fault_started(10, cut);
  judge.fault_ended(20, cut, band);
  judge.pods_probed({20.1, 20.2, 6, 6, ""});
  judge.pods_probed({20.4, 20.5, 4, 6, "h3p1 -> h1p1 (100.64.1.2)"});
  judge.pods_probed({22.9, 23, 6, 6, ""});
  CHECK(judge.sample(23, agreeing(), kProblem));
  const RunReport r = judge.finish(30, agreeing(), kProblem, {}, 0);
  REQUIRE(r.recoveries.size() == 1);
  CHECK(r.recoveries[0].reach_seconds == doctest::Approx(3));
}

TEST_CASE("judge: a cluster that agrees and falls apart before the next fault had not recovered") {
  const ScenarioFile file = three_hosts();
  const FaultSpec cut = cut_h1();
  Judge judge(file, "test", 1);
  auto split = agreeing();
  split[0].alive = 1;
  const size_t band = judge.fault_started(10, cut);
  judge.fault_ended(20, cut, band);
  CHECK(judge.sample(20.5, agreeing(), kProblem));  // looks healed at once...
  CHECK_FALSE(judge.sample(22, split, kProblem));   // ...but was not
  CHECK(judge.sample(26.5, agreeing(), kProblem));
  const RunReport r = judge.finish(30, agreeing(), kProblem, {}, 0);
  REQUIRE(r.recoveries.size() == 1);
  CHECK(r.recoveries[0].seconds == doctest::Approx(6.5));
  CHECK(verdict(r, "converge_within").outcome == RunReport::Verdict::Outcome::kFail);
  // The timeline's second "agrees again" says the first did not last.
  std::vector<std::string> lines;
  for (const auto& e : r.timeline)
    if (e.what.starts_with("agrees again")) lines.push_back(e.what);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find("did not last") == std::string::npos);
  CHECK(lines[1].find("(the one at 20.5s did not last)") != std::string::npos);
}

TEST_CASE("judge: pods that never reach again fail pods_reach, naming the pair") {
  const ScenarioFile file = three_hosts();
  const FaultSpec cut = cut_h1();
  Judge judge(file, "test", 1);
  const size_t band = judge.fault_started(10, cut);
  judge.fault_ended(20, cut, band);
  CHECK(judge.sample(21, agreeing(), kProblem));
  judge.pods_probed({25, 25.01, 4, 6, "h1p1 -> h3p1 (100.64.3.2)"});
  const RunReport r = judge.finish(30, agreeing(), kProblem, {}, 0);
  const auto& v = verdict(r, "pods_reach");
  CHECK(v.outcome == RunReport::Verdict::Outcome::kFail);
  CHECK(v.detail.find("h1p1 -> h3p1") != std::string::npos);
  CHECK_FALSE(r.passed());
}

TEST_CASE("judge: no probes skip pods_reach with the mode's reason") {
  const ScenarioFile file = three_hosts();
  Judge judge(file, "test", 1);
  CHECK(judge.sample(1, agreeing(), kProblem));
  Judge::Extra extra;
  extra.no_pods_reason = "no datapath here";
  const RunReport r = judge.finish(2, agreeing(), kProblem, extra, 0);
  CHECK(verdict(r, "pods_reach").outcome == RunReport::Verdict::Outcome::kSkipped);
  CHECK(verdict(r, "pods_reach").detail == "no datapath here");
}

TEST_CASE("judge: an overlap after agreement fails; a death outside faults is false") {
  const ScenarioFile file = three_hosts();
  Judge judge(file, "test", 1);
  CHECK(judge.sample(100, agreeing(), kProblem));
  auto overlapping = agreeing();
  overlapping[2].ready_subnet = overlapping[1].ready_subnet;
  judge.sample(101, overlapping, kProblem);
  judge.death(102, 0, 1, true);
  judge.death(102, 0, 2, false);  // not reachable: a true death
  const RunReport r = judge.finish(103, overlapping, kProblem, {}, 0);
  CHECK(verdict(r, "no_overlap").outcome == RunReport::Verdict::Outcome::kFail);
  CHECK(verdict(r, "no_overlap").detail.find("h2 and h3") != std::string::npos);
  CHECK(verdict(r, "no_false_deaths").outcome == RunReport::Verdict::Outcome::kFail);
  CHECK(verdict(r, "no_false_deaths").detail.find("1 false deaths") == 0);
}

TEST_CASE("judge: a death during a cut, or within a minute of its end, is not false") {
  const ScenarioFile file = three_hosts();
  const FaultSpec cut = cut_h1();
  Judge judge(file, "test", 1);
  const size_t band = judge.fault_started(10, cut);
  judge.death(12, 1, 0, true);
  judge.fault_ended(20, cut, band);
  judge.death(50, 1, 0, true);
  const RunReport r = judge.finish(60, agreeing(), kProblem, {}, 0);
  CHECK(verdict(r, "no_false_deaths").outcome == RunReport::Verdict::Outcome::kPass);
}

TEST_CASE("cut_predicate: sets, both ways or one way, and groups") {
  FaultSpec f = cut_h1();
  auto both = cut_predicate(f, 3);
  CHECK(both(0, 1));
  CHECK(both(1, 0));
  CHECK_FALSE(both(1, 2));
  f.both_ways = false;
  auto one = cut_predicate(f, 3);
  CHECK(one(0, 2));
  CHECK_FALSE(one(2, 0));
  FaultSpec g;
  g.kind = FaultSpec::Kind::kCut;
  g.groups = {{0}, {1}};
  auto groups = cut_predicate(g, 3);
  CHECK(groups(0, 1));
  CHECK_FALSE(groups(0, 2));  // h3 is in no group: it reaches everyone
}

TEST_CASE("judge: a host without a subnet agrees only while the pool is full") {
  ScenarioFile file = three_hosts();
  file.pool_size = 2;
  Judge judge(file, "test", 1);
  auto views = agreeing();
  views[2].ready_subnet.reset();  // h3 came last and found no free subnet
  for (auto& v : views) v.owned = 2;
  CHECK(judge.sample(1, views, kProblem));

  // h1's lease ran out and every owner map lost it: a subnet is free, and h3 must take it.
  views[0].ready_subnet.reset();
  for (auto& v : views) v.owned = 1, v.owners_key = 43;
  CHECK_FALSE(judge.sample(2, views, kProblem));
  const RunReport r = judge.finish(3, views, kProblem, {}, 0);
  CHECK(verdict(r, "owners_agree").outcome == RunReport::Verdict::Outcome::kFail);
  CHECK(verdict(r, "owners_agree").detail.find("1 of the pool's 2 are free") != std::string::npos);
}
