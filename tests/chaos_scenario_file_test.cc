// Scenario files are untrusted text: every shipped one parses at the sizes CI and the
// benchmark run, and bad ones are refused with an error that names the key.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "chaos/judge.h"
#include "chaos/netns_lab.h"
#include "chaos/netns_run.h"
#include "chaos/run_report.h"
#include "chaos/scenario_file.h"
#include "chaos/sim_run.h"
#include "common/file_io.h"

using namespace shoal;
using namespace shoal::chaos;

namespace {

std::string error_of(std::string_view text, ScenarioSize size = {}) {
  auto parsed = parse_scenario("s.json", text, size);
  return parsed.ok() ? std::string("(parsed)") : parsed.error().to_string();
}

constexpr std::string_view kMinimal = R"({"name": "t", "topology": {"hosts": 10}, "duration_s": 100,
  "timeline": [EVENTS]})";

std::string with_events(std::string_view events) {
  std::string s(kMinimal);
  s.replace(s.find("EVENTS"), 6, events);
  return s;
}

}  // namespace

TEST_CASE("chaos.scenario_file: every shipped scenario parses in full, short and at 1,000 hosts") {
  const std::filesystem::path dir = std::filesystem::path(SHOAL_SOURCE_DIR) / "chaos/scenarios";
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    CAPTURE(entry.path().string());
    auto text = read_file_limited(entry.path().string(), kMaxScenarioBytes);
    REQUIRE(text.ok());
    for (ScenarioSize size : {ScenarioSize{}, ScenarioSize{0, true}, ScenarioSize{1000, false}}) {
      auto parsed = parse_scenario(entry.path().string(), *text, size);
      REQUIRE_MESSAGE(parsed.ok(), parsed.error().to_string());
      CHECK(!parsed->name.empty());
      CHECK(!parsed->summary.empty());
      CHECK(!parsed->timeline.empty());
      if (size.hosts) CHECK(parsed->hosts == size.hosts);
    }
  }
  CHECK(files >= 11);
}

TEST_CASE("chaos.scenario_file: host sets, shapes and expansions resolve") {
  auto parsed = parse_scenario("s.json", with_events(R"(
    {"at_s": 10, "fault": "partition", "shape": "halves", "for_s": 5},
    {"at_s": 20, "fault": "partition", "shape": "one-off", "host": "h3"},
    {"at_s": 30, "fault": "one-way", "from": "h1-h2", "to": "others"},
    {"at_s": 40, "fault": "flap", "groups": ["majority", "minority"], "period_s": 4, "for_s": 10},
    {"at_s": 60, "fault": "rolling-restart", "hosts": ["h1", "h2"], "every_s": 5, "down_s": 1},
    {"at_s": 80, "fault": "heal"})"));
  REQUIRE_MESSAGE(parsed.ok(), parsed.error().to_string());
  const auto& t = parsed->timeline;
  REQUIRE(t.size() == 1 + 1 + 1 + 3 + 4 + 1);
  CHECK(t[0].groups == std::vector<std::vector<uint32_t>>{{0, 1, 2, 3, 4}, {5, 6, 7, 8, 9}});
  CHECK(t[0].for_s == 5);
  CHECK(t[1].groups[0] == std::vector<uint32_t>{2});
  CHECK(t[1].groups[1].size() == 9);
  CHECK(t[2].from == std::vector<uint32_t>{0, 1});
  CHECK(t[2].to.size() == 8);
  CHECK_FALSE(t[2].both_ways);
  CHECK(t[3].groups[0].size() == 6);  // majority of 10
  CHECK(t[3].at_s == 40);
  CHECK(t[4].at_s == 44);
  CHECK(t[5].at_s == 48);
  CHECK(t[5].for_s == 2);  // half a period
  CHECK(t[6].kind == FaultSpec::Kind::kCrash);
  CHECK(t[7].kind == FaultSpec::Kind::kRestart);
  CHECK(t[7].at_s == 61);
  CHECK(t[9].at_s == 66);
  CHECK(t[10].kind == FaultSpec::Kind::kHeal);
}

TEST_CASE("chaos.scenario_file: sites take their own host counts, the others share the rest") {
  constexpr std::string_view kSites = R"({"name": "t", "topology": {"hosts": 10, "sites": [
      {"name": "east", "hosts": 2}, "west", {"name": "home", "nat": "cone"}]}})";
  auto f = parse_scenario("s.json", kSites);
  REQUIRE_MESSAGE(f.ok(), f.error().to_string());
  CHECK(f->site_of_host == std::vector<uint32_t>{0, 0, 1, 1, 1, 1, 2, 2, 2, 2});
  CHECK(f->behind_nat(9));
  CHECK_FALSE(f->behind_nat(2));
  // --hosts keeps the count; the even share takes the rest.
  auto big = parse_scenario("s.json", kSites, ScenarioSize{.hosts = 1000});
  REQUIRE(big.ok());
  CHECK(std::count(big->site_of_host.begin(), big->site_of_host.end(), 0U) == 2);
  CHECK(std::count(big->site_of_host.begin(), big->site_of_host.end(), 1U) == 499);
  // Without counts the split is as it always was: host i to site i * sites / hosts.
  auto even = parse_scenario(
      "s.json", R"({"name": "t", "topology": {"hosts": 7, "sites": ["a", "b", "c"]}})");
  REQUIRE(even.ok());
  CHECK(even->site_of_host == std::vector<uint32_t>{0, 0, 0, 1, 1, 2, 2});
  CHECK(error_of(
            R"({"name": "t", "topology": {"hosts": 4, "sites": [{"name": "a", "hosts": 4}, "b"]}})")
            .find("topology.sites: give 4 hosts to sites of their own count, and 1 sites share") !=
        std::string::npos);
  CHECK(
      error_of(
          R"({"name": "t", "topology": {"hosts": 4, "sites": [{"name": "a", "hosts": 1}, {"name": "b", "hosts": 2}]}})")
          .find("the counts must add up") != std::string::npos);
  CHECK(
      error_of(
          R"({"name": "t", "topology": {"hosts": 4, "sites": [{"name": "a", "hosts": 0}, "b"]}})") ==
      "s.json: topology.sites[0].hosts: must be a whole number from 1 to 20000, got 0");
}

TEST_CASE("chaos.scenario_file: a routed site is its own segment, not behind NAT") {
  auto f = parse_scenario("s.json", R"({"name": "t", "topology": {"hosts": 4, "backend": "auto",
      "sites": ["core", {"name": "edge", "routed": true}]}})");
  REQUIRE_MESSAGE(f.ok(), f.error().to_string());
  CHECK(f->site_routed == std::vector<bool>{false, true});
  CHECK_FALSE(f->behind_nat(3));
  CHECK(namespaces_can_run(*f).ok());
  auto hostgw = parse_scenario("s.json", R"({"name": "t", "topology": {"hosts": 4,
      "backend": "host-gw", "sites": ["core", {"name": "edge", "routed": true}]}})");
  REQUIRE(hostgw.ok());
  CHECK(namespaces_can_run(*hostgw).message().find("host-gw routes pods only") == 0);
  CHECK(error_of(R"({"name": "t", "topology": {"hosts": 4, "sites": ["core",
      {"name": "edge", "routed": true, "nat": "cone"}]}})")
            .find("topology.sites[1].routed: and nat exclude each other") != std::string::npos);
}

TEST_CASE("chaos.scenario_file: a loss on a link between two sets, or at hosts") {
  auto parsed = parse_scenario("s.json", with_events(R"(
    {"at_s": 10, "fault": "loss", "percent": 30, "from": "h1-h2", "to": "others", "for_s": 5},
    {"at_s": 20, "fault": "loss", "percent": 10, "hosts": "h3"})"));
  REQUIRE_MESSAGE(parsed.ok(), parsed.error().to_string());
  const auto& t = parsed->timeline;
  REQUIRE(t.size() == 2);
  CHECK(t[0].kind == FaultSpec::Kind::kLoss);
  CHECK(t[0].loss == doctest::Approx(0.3));
  CHECK(t[0].from == std::vector<uint32_t>{0, 1});
  CHECK(t[0].to.size() == 8);
  CHECK(t[0].both_ways);
  CHECK(t[0].hosts.empty());
  CHECK(t[0].text == "loss 30% between h1-h2 and h3-h10");
  const CutPredicate across = cut_predicate(t[0], 10);
  CHECK(across(0, 5));
  CHECK(across(5, 1));  // both ways
  CHECK_FALSE(across(0, 1));
  CHECK_FALSE(across(4, 5));
  CHECK(t[1].hosts == std::vector<uint32_t>{2});
  CHECK(t[1].from.empty());
  CHECK(
      error_of(with_events(
          R"({"at_s": 1, "fault": "loss", "percent": 5, "hosts": "h1", "from": "h1", "to": "h2"})")) ==
      "s.json: timeline[0].hosts: and from/to exclude each other in a loss");
  CHECK(error_of(with_events(
            R"({"at_s": 1, "fault": "loss", "percent": 5, "from": "h1-h3", "to": "h3"})")) ==
        "s.json: timeline[0].to: shares h3 with from");
  CHECK(error_of(with_events(R"({"at_s": 1, "fault": "loss", "percent": 5, "from": "h1"})")) ==
        "s.json: timeline[0].to: is missing: a loss needs it");
}

TEST_CASE(
    "chaos.scenario_file: a workload runs from the file's folder; a flap times its last cut") {
  auto f = parse_scenario("dir/s.json", R"({"name": "t", "topology": {"hosts": 4},
      "workload": {"start": "serve", "check": "check"},
      "timeline": [{"at_s": 0, "fault": "flap", "shape": "halves", "period_s": 10, "for_s": 30}]})");
  REQUIRE(f.ok());
  REQUIRE(f->workload);
  CHECK(f->workload->dir == "dir");
  CHECK(f->workload->every_s == 2);
  REQUIRE(f->timeline.size() == 3);
  CHECK_FALSE(f->timeline[0].timed);
  CHECK_FALSE(f->timeline[1].timed);
  CHECK(f->timeline[2].timed);
}

TEST_CASE("chaos.scenario_file: the short form scales times, not bounds") {
  const std::string text = R"({"name": "t", "topology": {"hosts": 10}, "duration_s": 100,
    "short": {"hosts": 4, "time_scale": 0.5}, "checks": {"converge_within_s": 3},
    "timeline": [{"at_s": 40, "fault": "crash", "hosts": "h4", "for_s": 20}]})";
  auto parsed = parse_scenario("s.json", text, {0, true});
  REQUIRE(parsed.ok());
  CHECK(parsed->hosts == 4);
  CHECK(parsed->duration_s == 50);
  CHECK(parsed->timeline[0].at_s == 20);
  CHECK(parsed->timeline[0].for_s == 10);
  CHECK(parsed->checks.converge_within_s == 3);
}

TEST_CASE("chaos.scenario_file: sites behind NAT: never seeds; pods need the sealed tunnel") {
  auto f = parse_scenario("s.json", R"({"name": "t", "topology": {"hosts": 9, "sites":
    [{"name": "home", "nat": "cone"}, "public", {"name": "far", "nat": "symmetric"}]}})");
  REQUIRE(f.ok());
  CHECK(f->has_nat());
  CHECK(f->site_nat == std::vector<std::string>{"cone", "", "symmetric"});
  CHECK(f->behind_nat(0));
  CHECK_FALSE(f->behind_nat(3));
  CHECK(f->behind_nat(8));
  // Hosts behind NAT cannot be joined from outside their site: the seeds are public hosts.
  const auto seeds = seed_hosts(*f);
  REQUIRE(!seeds.empty());
  for (uint32_t h : seeds) CHECK_FALSE(f->behind_nat(h));
  // On namespaces, pods cross the NAT routers only in the encrypted udp tunnel.
  CHECK(namespaces_can_run(*f).message().find("topology.encrypt to true") != std::string::npos);
  f->backend = "udp";
  CHECK_FALSE(namespaces_can_run(*f).ok());
  f->encrypt = true;
  CHECK(namespaces_can_run(*f).ok());
  f->backend = "vxlan";
  f->pods_per_host = 0;  // gossip alone crosses them with any backend
  CHECK(namespaces_can_run(*f).ok());

  // A nat-reset is instant, and only in front of hosts behind NAT.
  const std::string nat_topology =
      R"({"name": "t", "topology": {"hosts": 4, "sites": ["p", {"name": "a", "nat": "cone"}]},
          "duration_s": 60, "timeline": [EVENT]})";
  auto with_event = [&](std::string_view event) {
    std::string text = nat_topology;
    text.replace(text.find("EVENT"), 5, event);
    return text;
  };
  auto reset = parse_scenario("s.json", with_event(R"({"at_s": 5, "fault": "nat-reset",
    "hosts": "site:a"})"));
  REQUIRE(reset.ok());
  CHECK(reset->timeline[0].kind == FaultSpec::Kind::kNatReset);
  CHECK(reset->timeline[0].text == "nat-reset in front of h3-h4");
  CHECK(error_of(with_event(R"({"at_s": 5, "fault": "nat-reset", "hosts": "h1"})")) ==
        "s.json: timeline[0].hosts: names h1, which is behind no NAT (topology.sites)");
  CHECK(error_of(with_event(R"({"at_s": 5, "fault": "nat-reset", "hosts": "h3", "for_s": 5})")) ==
        "s.json: timeline[0].for_s: does not apply: a nat-reset is instant");

  // The simulator gives a site behind NAT one /24: more hosts there are refused, not run.
  const std::string two_sites =
      R"({"name": "t", "topology": {"hosts": 9, "sites": ["p", {"name": "a", "nat": "cone"}]}})";
  CHECK(simulator_can_run(*parse_scenario("s.json", two_sites, {480}), std::nullopt).ok());
  CHECK(simulator_can_run(*parse_scenario("s.json", two_sites, {482}), std::nullopt).message() ==
        "site \"a\" puts 241 hosts behind NAT: the simulator gives a site behind NAT at most 240 "
        "(one /24 LAN); use fewer hosts or more sites");

  // A run that cannot fit in memory is refused before it starts, saying what would fit.
  const std::string one_site = R"({"name": "t", "topology": {"hosts": 4}})";
  CHECK(simulator_bytes_needed(1000) > uint64_t{1400} << 20);  // 1.46 GB measured
  CHECK(simulator_can_run(*parse_scenario("s.json", one_site, {1000}), uint64_t{2} << 30).ok());
  const Status too_big =
      simulator_can_run(*parse_scenario("s.json", one_site, {10000}), uint64_t{22} << 30);
  CHECK(too_big.code() == Status::Code::kUnavailable);
  CHECK(too_big.message() ==
        "at 10000 hosts the simulator needs about 150.1 GB of memory (every host keeps a member "
        "entry and a lease record for every other, about 1500 bytes per pair), and 23.6 GB are "
        "available here: use at most 3900 hosts");

  auto plain = parse_scenario("s.json", R"({"name": "t", "topology": {"hosts": 4}})");
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->has_nat());

  CHECK(
      error_of(
          R"({"name": "t", "topology": {"hosts": 4, "sites": [{"name": "a", "nat": "cone"}]}})") ==
      "s.json: topology.sites: puts every site behind NAT: hosts behind NAT join through a "
      "public host, so one site at least needs none");
  CHECK(
      error_of(
          R"({"name": "t", "topology": {"hosts": 4, "sites": ["p", {"name": "a", "nat": "full"}]}})") ==
      "s.json: topology.sites[1].nat: must be cone or symmetric, got \"full\"");
  CHECK(error_of(R"({"name": "t", "topology": {"hosts": 4, "sites": ["p", {"nat": "cone"}]}})")
            .find("topology.sites[1]: must be a site name") != std::string::npos);
  CHECK(
      error_of(
          R"({"name": "t", "topology": {"hosts": 4, "sites": ["p", {"name": "p", "nat": "cone"}]}})") ==
      "s.json: topology.sites[1]: names site \"p\" twice");
}

TEST_CASE("chaos.scenario_file: bad files are refused with the key named") {
  CHECK(error_of("").find("s.json: JSON syntax error") == 0);
  CHECK(error_of(R"({"name": "t", "topology": {"hosts": 10}, "extra": 1})") ==
        "s.json: extra: is not a key this object has");
  CHECK(error_of(R"({"topology": {"hosts": 10}})") == "s.json: name: is missing");
  // An unknown key is the file's own text: echoed with its control bytes escaped (a fuzz
  // finding: DEL went out raw).
  CHECK(error_of("{\"n\x7f\": 1}") == "s.json: n\\x7f: is not a key this object has");
  // "$schema" is for editors: read past, while other unknown keys are refused (above).
  CHECK(parse_scenario("s.json", R"({"$schema": "../scenario.schema.json", "name": "t",
                                     "topology": {"hosts": 10}})")
            .ok());
  CHECK(error_of(R"({"name": "t"})") == "s.json: topology: is missing");
  CHECK(error_of(R"({"name": "t", "topology": {"hosts": 1}})") ==
        "s.json: topology.hosts: must be a whole number from 2 to 20000, got 1");
  CHECK(error_of(R"({"name": "t", "topology": {"hosts": 4, "encrypt": "yes"}})") ==
        "s.json: topology.encrypt: must be true or false, got \"yes\"");
  CHECK(error_of(R"({"name": "t", "topology": {"hosts": 4, "network": "10.0.0.0/8x"}})")
            .find("s.json: topology.network: ") == 0);
  CHECK(error_of(with_events(R"({"at_s": 1, "fault": "crash", "hosts": "h11"})")) ==
        "s.json: timeline[0].hosts: \"h11\" is beyond the 10 hosts of this run");
  CHECK(error_of(with_events(R"({"at_s": 1, "fault": "crash", "hosts": "site:x"})")) ==
        "s.json: timeline[0].hosts: names site \"x\", which topology.sites does not list");
  CHECK(error_of(with_events(R"({"at_s": 1, "fault": "meteor"})"))
            .find("\"meteor\" is not a fault") != std::string::npos);
  CHECK(error_of(with_events(R"({"fault": "heal"})")) ==
        "s.json: timeline[0].at_s: is missing (seconds from the start)");
  CHECK(error_of(with_events(R"({"at_s": 1, "fault": "freeze", "hosts": "h1"})")) ==
        "s.json: timeline[0].for_s: is missing: a freeze needs to end");
  CHECK(
      error_of(with_events(R"({"at_s": 1, "fault": "partition", "groups": ["h1-h3", "h3-h5"]})")) ==
      "s.json: timeline[0].groups: puts h3 in two groups");
  CHECK(error_of(with_events(R"({"at_s": 90, "fault": "crash", "hosts": "h1", "for_s": 20})"))
            .find("runs past duration_s") != std::string::npos);
  CHECK(error_of(with_events(R"({"at_s": 1, "fault": "loss", "percent": 101, "hosts": "all"})")) ==
        "s.json: timeline[0].percent: must be a number from 0 to 100, got 101");
  // A flap expands into events; a tiny period cannot blow the timeline up.
  CHECK(error_of(with_events(R"({"at_s": 0, "fault": "flap", "shape": "halves", "period_s": 0.2,
                                  "for_s": 99})"))
            .find("longer than 10000 events") == std::string::npos);
  CHECK(error_of(R"({"name": "t", "topology": {"hosts": 10}, "duration_s": 600000,
                     "timeline": [{"at_s": 0, "fault": "flap", "shape": "halves",
                                   "period_s": 0.2, "for_s": 599000}]})")
            .find("longer than 10000 events") != std::string::npos);
  CHECK(error_of(with_events(R"({"at_s": 1, "fault": "bandwidth", "hosts": "h1"})"))
            .find("mbit: is missing") != std::string::npos);
  CHECK(error_of(with_events(R"({"at_s": 1, "fault": "delay", "hosts": "h1"})"))
            .find("ms: is missing") != std::string::npos);
  CHECK(error_of(with_events(R"({"at_s": 1, "fault": "delay", "ms": 0.5, "hosts": "h1"})"))
            .find("ms: must be a number from 1 to 60000") != std::string::npos);
  auto delay = parse_scenario("s.json", with_events(R"({"at_s": 1, "fault": "delay", "ms": 400,
                                                        "hosts": "h2", "for_s": 5})"));
  REQUIRE(delay.ok());
  CHECK(delay->timeline[0].text == "delay 400 ms at h2");
  CHECK(delay->timeline[0].delay_ms == 400);
  CHECK(error_of(R"({"name": "t", "topology": {"hosts": 4}, "workload": {"start": "x"}})") ==
        "s.json: workload.check: is missing");
  CHECK(error_of(R"({"name": "t", "topology": {"hosts": 4}, "workload": {"check": "x",
                     "every_s": 0}})")
            .find("workload.every_s") != std::string::npos);
  std::string deep(30, '[');
  CHECK(error_of(deep).find("nested more than 8 deep; scenarios need 4") != std::string::npos);
  CHECK(error_of(std::string(kMaxScenarioBytes + 1, ' ')).find("larger than") != std::string::npos);
}

TEST_CASE("chaos.run_report: the verdict is pass only when no check failed") {
  RunReport r;
  r.verdicts.push_back({"a", RunReport::Verdict::Outcome::kPass, ""});
  r.verdicts.push_back({"b", RunReport::Verdict::Outcome::kSkipped, ""});
  CHECK(r.passed());
  r.verdicts.push_back({"c", RunReport::Verdict::Outcome::kFail, "x"});
  CHECK_FALSE(r.passed());
  const std::string html = to_html(r);
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("FAIL") != std::string::npos);
  r.scenario = "<script>";
  CHECK(to_html(r).find("<script>") == std::string::npos);  // names are escaped
}

TEST_CASE("chaos.netns_lab: NAT topologies it cannot build are refused before it builds") {
  // (Refused before any namespace is made, so this needs no root.)
  LabTopology t;
  t.hosts = 70;
  t.nat_kinds = {"cone"};
  t.nat_of_host.assign(70, 1);
  t.nat_of_host[0] = 0;  // 69 behind one router: DSCP marks only 63
  auto lab = NetnsLab::create("ut-never-made", t);
  REQUIRE_FALSE(lab.ok());
  CHECK(lab.error().message().find("at most 63 hosts behind one NAT router") != std::string::npos);
  t.nat_of_host.assign(70, 0);
  t.nat_kinds = {"full-cone"};
  CHECK(NetnsLab::create("ut-never-made", t)
            .error()
            .message()
            .find("\"cone\", \"symmetric\" or \"routed\"") != std::string::npos);
  t.nat_kinds = {"routed"};
  t.nat_of_host.assign(70, 1);
  t.nat_of_host[0] = 0;  // 69 in one routed site: its /27 holds 29
  CHECK(
      NetnsLab::create("ut-never-made", t).error().message().find("29 hosts in one routed site") !=
      std::string::npos);
  t.nat_of_host.assign(70, 0);
  t.nat_kinds.assign(9, "routed");
  CHECK(NetnsLab::create("ut-never-made", t).error().message().find("at most 8 routed sites") !=
        std::string::npos);
  t.nat_kinds = {"cone"};
  t.nat_of_host[5] = 2;
  CHECK(NetnsLab::create("ut-never-made", t).error().message().find("NAT router 2") !=
        std::string::npos);
}
