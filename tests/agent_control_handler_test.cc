// agent/control_handler.h on a real node::Node (one host, a lease table, no datapath): each
// request gets the answer or the error it should, and the two actions (leave, forget) go
// through the view, never around it.
#include <doctest/doctest.h>
#include <unistd.h>

#include "agent/control_handler.h"
#include "node/node.h"

using namespace shoal;
using namespace shoal::agent;

namespace {

const WallTime kWall0{std::chrono::milliseconds(1767225600000)};

struct Fixture {
  AgentConfig config;
  crypto::Keyring keyring;
  std::unique_ptr<node::Node> node;
  NodeId id;
  bool left = false;
  std::vector<NodeId> evicted;
  boost::asio::io_context io;
  std::vector<std::vector<backends::FaultRule>> installs;  // what the faults put in the kernel
  std::unique_ptr<Faults> faults;
  std::unique_ptr<ControlHandler> handler;

  explicit Fixture(bool allow_faults = false) {
    if (allow_faults)
      faults = std::make_unique<Faults>(io, [this](const std::vector<backends::FaultRule>& r) {
        installs.push_back(r);
        return Status();
      });
    config.name = "h1";
    config.bind = {IpAddress::v4(192, 0, 2, 1), 7946};
    lease::NetworkSpec spec{"198.18.0.0/16"};
    spec.subnet_len = 24;
    config.network = lease::NetworkConfig::make(spec).value();
    std::array<uint8_t, NodeId::kSize> bytes{};
    bytes[0] = 1;
    id = NodeId(bytes);
    lease::LeaseConfig lease_config;
    lease_config.network = *config.network;
    gossip::LocalNode self;
    self.id = id;
    self.name = "h1";
    self.address = config.bind;
    self.incarnation = 1;
    node::NodeConfig node_config;
    node_config.gossip = gossip::Config::lan();
    node_config.self = self;
    node_config.seed = 7;
    node_config.lease = node::LeaseSetup{lease_config, {id, "h1", config.bind.address, "", {}}, {}};
    node = std::make_unique<node::Node>(std::move(node_config), kTimeZero, kWall0);
    handler = std::make_unique<ControlHandler>(
        AgentView{config, id, node->membership(), *node->leases(), nullptr, keyring, false,
                  [] { return std::chrono::seconds(42); }, [this] { left = true; },
                  [this](const NodeId& n) {
                    evicted.push_back(n);
                    return false;
                  },
                  [] { return std::optional<node::KeysVersion>(); },
                  [] { return std::optional<node::KeysVersion>(); }, faults.get()});
  }
  proto::ControlResponse ask(const proto::ControlRequest& r, const ControlCaller& caller = {}) {
    return handler->handle(r, caller);
  }
};

}  // namespace

TEST_CASE("control: members and status describe this host") {
  Fixture f;
  proto::ControlRequest members;
  members.mutable_members();
  const auto m = f.ask(members);
  CHECK(m.error().empty());
  REQUIRE(m.members_size() == 1);
  CHECK(m.members(0).name() == "h1");
  CHECK(m.members(0).id() == f.id.hex());

  proto::ControlRequest status;
  status.mutable_status();
  const auto s = f.ask(status);
  CHECK(s.error().empty());
  CHECK(s.status().name() == "h1");
  CHECK(s.status().id() == f.id.hex());
  CHECK(s.status().uptime_s() == 42);
  CHECK_FALSE(s.status().encrypted());
  CHECK(s.status().network() == "198.18.0.0/16");
  CHECK(s.status().members_alive() == 1);
  CHECK(s.status().datapath_device().empty());  // no datapath: nothing made up
  CHECK_FALSE(s.status().no_subnet_reason().empty());
}

TEST_CASE("control: leave goes through the view; forget refuses what it must") {
  Fixture f;
  proto::ControlRequest leave;
  leave.mutable_leave();
  const auto l = f.ask(leave);
  CHECK(l.error().empty());
  CHECK(l.message().starts_with("leaving"));
  CHECK(f.left);

  proto::ControlRequest forget;
  forget.mutable_forget()->set_node("nobody");
  CHECK(f.ask(forget).error().starts_with("no node named"));
  CHECK(f.evicted.empty());

  proto::ControlRequest empty;
  CHECK(f.ask(empty).error() == "empty request");
}

TEST_CASE("control: key commands on a plaintext agent say how to get a key file") {
  Fixture f;
  proto::ControlRequest use;
  use.mutable_key_use()->set_key_id("0badf00d");
  const auto r = f.ask(use);
  CHECK(r.error().find("KeyFile") != std::string::npos);
  proto::ControlRequest list;
  list.mutable_keys_list();
  const auto k = f.ask(list);
  CHECK(k.error().empty());
  CHECK(k.keys_size() == 0);
}

TEST_CASE("control: faults are refused unless allowed, and only for root or the agent's user") {
  proto::ControlRequest list;
  list.mutable_fault_list();
  const ControlCaller root{true, 0, 1};
  CHECK(Fixture().ask(list, root).error().find("faults are off") != std::string::npos);
  Fixture f(true);
  CHECK(f.ask(list).error().find("uid unknown may not") != std::string::npos);
  const uint32_t stranger = ::geteuid() == 0 ? 65534 : 0;
  if (stranger != 0)
    CHECK(f.ask(list, {true, stranger, 1}).error().find("uid 65534 may not") != std::string::npos);
  CHECK(f.ask(list, root).error().empty());
  CHECK(f.installs.empty());  // nothing asked of the kernel by a refusal or a list
}

TEST_CASE("control: a clock fault moves this agent's clock and is listed, with no nft") {
  Fixture f(true);
  const ControlCaller root{true, 0, 1};
  proto::ControlRequest add;
  auto* a = add.mutable_fault_add();
  a->set_clock_offset_ms(-1500);
  a->set_seconds(30);
  auto answer = f.ask(add, root);
  REQUIRE(answer.error().empty());
  CHECK(answer.message() == "fault 1: this host's wall clock moved -1.5 s for 30 s");
  REQUIRE(answer.faults_size() == 1);
  CHECK(answer.faults(0).clock_offset_ms() == -1500);
  CHECK(answer.faults(0).direction().empty());
  CHECK(answer.faults(0).peers().empty());
  CHECK(f.installs.empty());
}

TEST_CASE("control: a fault resolves its peers, goes to the kernel and is listed") {
  Fixture f(true);
  const ControlCaller root{true, 0, 1};
  proto::ControlRequest add;
  auto* a = add.mutable_fault_add();
  a->add_peers("192.0.2.9");
  a->add_peers("198.18.7.0/24");
  a->set_seconds(30);
  a->set_loss_percent(25);
  a->set_inbound_only(true);
  auto answer = f.ask(add, root);
  REQUIRE(answer.error().empty());
  CHECK(answer.message() ==
        "fault 1: losing 25 % of packets from 192.0.2.9, 198.18.7.0/24 for 30 s");
  REQUIRE(answer.faults_size() == 1);
  CHECK(answer.faults(0).direction() == "in");
  CHECK(answer.faults(0).targets(0) == "192.0.2.9/32");
  CHECK(answer.faults(0).expires_in_ms() > 29000);
  REQUIRE(f.installs.size() == 1);
  REQUIRE(f.installs[0].size() == 1);
  CHECK(f.installs[0][0].loss_percent == 25);
  CHECK_FALSE(f.installs[0][0].outbound);

  a->clear_peers();
  a->add_peers("nobody");
  CHECK(f.ask(add, root).error().find("no other member is named") != std::string::npos);
  a->clear_peers();
  a->add_peers("h1");  // ourselves: not a peer
  CHECK(f.ask(add, root).error().find("no other member is named") != std::string::npos);
  CHECK(f.installs.size() == 1);

  proto::ControlRequest clear;
  clear.mutable_fault_clear()->set_id(7);
  CHECK(f.ask(clear, root).error() == "no fault 7 is on");
  clear.mutable_fault_clear()->set_id(1);
  auto cleared = f.ask(clear, root);
  CHECK(cleared.message() == "cleared 1 fault(s)");
  CHECK(cleared.faults().empty());
  REQUIRE(f.installs.size() == 2);
  CHECK(f.installs[1].empty());
}
