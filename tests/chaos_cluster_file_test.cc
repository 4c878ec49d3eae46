// Cluster files (chaos/cluster_file.h) are text people write: a good one gives each host's
// command line, a bad one is refused with an error that names the key; and a scenario asks
// only for what a real cluster can do.
#include <doctest/doctest.h>

#include <string>

#include "chaos/cluster_file.h"
#include "chaos/cluster_run.h"
#include "chaos/netns_run.h"
#include "chaos/scenario_file.h"

using namespace shoal;
using namespace shoal::chaos;

namespace {

std::string error_of(std::string_view text) {
  auto parsed = parse_cluster("c.json", text);
  return parsed.ok() ? std::string("(parsed)") : parsed.error().to_string();
}

}  // namespace

TEST_CASE("cluster file: hosts, their exec prefix and control socket make the command") {
  auto c = parse_cluster("c.json", R"({"hosts": [
      {"name": "nuc1", "exec": ["ssh", "root@192.0.2.21"]},
      {"name": "nuc2", "control_socket": "/run/s.sock"}], "shoal": "/usr/sbin/shoal"})");
  REQUIRE(c.ok());
  CHECK(c->command(0, {"members", "--json"}) ==
        std::vector<std::string>{"ssh", "root@192.0.2.21", "/usr/sbin/shoal", "members", "--json"});
  CHECK(c->command(1, {"fault", "clear"}) == std::vector<std::string>{"/usr/sbin/shoal", "fault",
                                                                      "clear", "--control-socket",
                                                                      "/run/s.sock"});
  CHECK(c->command_timeout_s == 10);
}

TEST_CASE("cluster file: bad files are refused, naming the key") {
  CHECK(error_of(R"({"hosts": [{"name": "a"}]})").find("hosts: must be a list of 2 to 200") !=
        std::string::npos);
  CHECK(error_of(R"({"hosts": [{"name": "a"}, {"name": "a"}]})").find("hosts[1].name") !=
        std::string::npos);
  CHECK(error_of(R"({"hosts": [{"name": "a"}, {"exec": ["ssh"]}]})") ==
        "c.json: hosts[1].name: is required");
  CHECK(error_of(R"({"hosts": [{"name": "a", "exec": "ssh a"}, {"name": "b"}]})")
            .find("hosts[0].exec: must be a list") != std::string::npos);
  CHECK(error_of(R"({"hosts": [{"name": "a", "exec": [""]}, {"name": "b"}]})")
            .find("hosts[0].exec: must hold strings") != std::string::npos);
  CHECK(error_of(R"({"hosts": [{"name": "a", "user": "x"}, {"name": "b"}]})")
            .find("hosts[0].user: is not a key") != std::string::npos);
  CHECK(error_of(R"({"hosts": [{"name": "a"}, {"name": "b"}], "command_timeout_s": 0})")
            .find("command_timeout_s") != std::string::npos);
  CHECK(error_of(R"({"hosts": [{"name": "a"}, {"name": "b"},]})").find("c.json") !=
        std::string::npos);
  CHECK(error_of(std::string(kMaxClusterBytes + 1, ' ')).find("larger than") != std::string::npos);
}

TEST_CASE("cluster runs: only link faults, the cluster's host count, no late joiners") {
  auto cluster = parse_cluster("c.json", R"({"hosts": [{"name": "a"}, {"name": "b"},
      {"name": "c"}]})");
  REQUIRE(cluster.ok());
  auto scenario = [](std::string_view timeline, int hosts = 3) {
    return parse_scenario("s.json",
                          R"({"name": "t", "topology": {"hosts": )" + std::to_string(hosts) +
                              R"(}, "duration_s": 60, "timeline": [)" + std::string(timeline) +
                              "]}",
                          {});
  };
  auto links = scenario(R"({"at_s": 5, "fault": "partition", "shape": "halves", "for_s": 10},
      {"at_s": 20, "fault": "loss", "percent": 10, "hosts": "h2", "for_s": 5})");
  REQUIRE(links.ok());
  CHECK(cluster_can_run(*links, *cluster).ok());
  auto four = scenario(R"({"at_s": 5, "fault": "partition", "shape": "halves", "for_s": 10})", 4);
  REQUIRE(four.ok());
  CHECK(cluster_can_run(*four, *cluster).message().find("give --hosts 3") != std::string::npos);
  auto crash = scenario(R"({"at_s": 5, "fault": "crash", "hosts": "h2", "for_s": 10})");
  REQUIRE(crash.ok());
  CHECK(cluster_can_run(*crash, *cluster).message().find("only what `shoal fault` does runs") !=
        std::string::npos);
  auto clock = scenario(R"({"at_s": 5, "fault": "clock", "offset_s": -300, "hosts": "h2"})");
  REQUIRE(clock.ok());
  CHECK(cluster_can_run(*clock, *cluster).ok());  // `shoal fault clock` moves it
  auto delay = scenario(R"({"at_s": 5, "fault": "delay", "ms": 300, "hosts": "h2", "for_s": 5})");
  REQUIRE(delay.ok());
  CHECK(cluster_can_run(*delay, *cluster).message().find("delay need") != std::string::npos);
  // Namespaces refuse it too, saying why, rather than fake it.
  CHECK(namespaces_can_run(*delay).message().find("delay runs only in --sim") != std::string::npos);
  auto late = scenario(R"({"at_s": 5, "fault": "start", "hosts": "h3"})");
  REQUIRE(late.ok());
  CHECK(cluster_can_run(*late, *cluster).message().find("join late") != std::string::npos);
}
