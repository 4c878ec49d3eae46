// agent/faults.h and backends/faults.h: the fault table's text, and the agent's list of
// faults around it: ids, the limit, clear, a kernel that refuses, and expiry on a real timer.
#include <doctest/doctest.h>

#include <thread>

#include "agent/faults.h"

using namespace shoal;
using namespace shoal::agent;
using namespace std::chrono_literals;

namespace {

Cidr cidr(const char* text) { return *Cidr::parse(text); }

struct Kernel {
  std::vector<std::vector<backends::FaultRule>> installs;
  bool refuse = false;
  Faults::Install install() {
    return [this](const std::vector<backends::FaultRule>& rules) {
      if (refuse) return Status::io_error("nftables: refused");
      installs.push_back(rules);
      return Status();
    };
  }
};

Faults::Fault drop(std::vector<Cidr> targets, std::chrono::milliseconds left) {
  Faults::Fault f;
  f.peers = {"h2"};
  f.targets = std::move(targets);
  f.expires = Faults::Clock::now() + left;
  return f;
}

}  // namespace

TEST_CASE("fault table: drops, loss, one way, IPv6; expired and empty rules are left out") {
  using backends::FaultRule;
  CHECK(backends::fault_ruleset({}) == "");
  CHECK(backends::fault_ruleset({{1, 100, true, true, {cidr("192.0.2.12/32")}, 0ms}}) == "");
  const std::string text = backends::fault_ruleset(
      {{1, 100, true, true, {cidr("192.0.2.12/32"), cidr("198.18.5.0/24")}, 5000ms},
       {2, 25, true, false, {cidr("2001:db8::7/128")}, 3000ms}});
  CHECK(text ==
        "table inet shoal_faults {\n"
        "  set f1_4 {\n"
        "    type ipv4_addr; flags interval, timeout;\n"
        "    elements = { 192.0.2.12 timeout 5000ms, 198.18.5.0/24 timeout 5000ms }\n"
        "  }\n"
        "  set f2_6 {\n"
        "    type ipv6_addr; flags interval, timeout;\n"
        "    elements = { 2001:db8::7 timeout 3000ms }\n"
        "  }\n"
        "  chain in {\n"
        "    type filter hook prerouting priority raw; policy accept;\n"
        "    ip saddr @f1_4 drop\n"
        "    ip6 saddr @f2_6 numgen random mod 100 < 25 drop\n"
        "  }\n"
        "  chain out {\n"
        "    type filter hook postrouting priority raw; policy accept;\n"
        "    ip daddr @f1_4 drop\n"
        "  }\n"
        "}\n");
}

TEST_CASE("faults: ids, clear, the limit, and a refusing kernel changes nothing") {
  boost::asio::io_context io;
  Kernel kernel;
  Faults faults(io, kernel.install());
  auto first = faults.add(drop({cidr("192.0.2.12/32")}, 60s));
  auto second = faults.add(drop({cidr("192.0.2.13/32")}, 60s));
  REQUIRE(first);
  REQUIRE(second);
  CHECK(*first == 1);
  CHECK(*second == 2);
  REQUIRE(kernel.installs.size() == 2);
  CHECK(kernel.installs[1].size() == 2);
  CHECK(kernel.installs[1][0].left > 59s);

  kernel.refuse = true;
  CHECK_FALSE(faults.add(drop({cidr("192.0.2.14/32")}, 60s)));
  CHECK(faults.list().size() == 2);
  CHECK_FALSE(faults.clear(0));
  CHECK(faults.list().size() == 2);
  kernel.refuse = false;

  CHECK(*faults.clear(1) == 1);
  CHECK(*faults.clear(1) == 0);
  REQUIRE(faults.list().size() == 1);
  CHECK(faults.list()[0].id == 2);
  while (faults.list().size() < Faults::kMaxFaults) REQUIRE(faults.add(drop({}, 60s)));
  auto over = faults.add(drop({}, 60s));
  REQUIRE_FALSE(over);
  CHECK(over.error().message().find("clear some first") != std::string::npos);
  CHECK(*faults.clear(0) == Faults::kMaxFaults);
  CHECK(kernel.installs.back().empty());
}

TEST_CASE("faults: each ends on its own when it expires") {
  boost::asio::io_context io;
  Kernel kernel;
  Faults faults(io, kernel.install());
  REQUIRE(faults.add(drop({cidr("192.0.2.12/32")}, 50ms)));
  REQUIRE(faults.add(drop({cidr("192.0.2.13/32")}, 10s)));
  const auto deadline = Faults::Clock::now() + 5s;
  while (faults.list().size() == 2 && Faults::Clock::now() < deadline) io.run_for(20ms);
  REQUIRE(faults.list().size() == 1);
  CHECK(faults.list()[0].id == 2);
  REQUIRE_FALSE(kernel.installs.empty());
  REQUIRE(kernel.installs.back().size() == 1);
  CHECK(kernel.installs.back()[0].id == 2);
}

TEST_CASE("faults: a clock fault moves the clock, needs no table, and ends on its own") {
  boost::asio::io_context io;
  Kernel kernel;
  Faults faults(io, kernel.install());
  CHECK(faults.clock_offset() == 0ms);
  Faults::Fault ahead;
  ahead.clock_offset = 300s;
  ahead.expires = Faults::Clock::now() + 50ms;
  Faults::Fault behind;
  behind.clock_offset = -20s;
  behind.expires = Faults::Clock::now() + 10s;
  REQUIRE(faults.add(ahead));
  REQUIRE(faults.add(behind));
  CHECK(faults.clock_offset() == 280s);
  CHECK(kernel.installs.empty());  // no nft for a clock

  REQUIRE(faults.add(drop({cidr("192.0.2.12/32")}, 10s)));
  REQUIRE(kernel.installs.size() == 1);
  CHECK(kernel.installs[0].size() == 1);  // the drop alone

  const auto deadline = Faults::Clock::now() + 5s;
  while (faults.list().size() == 3 && Faults::Clock::now() < deadline) io.run_for(20ms);
  CHECK(faults.clock_offset() == -20s);
  CHECK(*faults.clear(0) == 2);
  CHECK(faults.clock_offset() == 0ms);
  CHECK(kernel.installs.back().empty());  // the drop's rules are gone too
}
