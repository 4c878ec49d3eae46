// node::Node driven by hand, without the simulator: two hosts on an instant, lossless wire.
// They join and get distinct subnets; a record is announced only once the driver said it is
// durable; a leave with release frees the subnet at the peer; a gossip-only node has no
// lease part. Time only moves when the test moves it.
#include "node/node.h"

#include <doctest/doctest.h>

#include <map>
#include <memory>

using namespace shoal;
using namespace shoal::node;
using namespace std::chrono_literals;

namespace {

const WallTime kWall0{std::chrono::milliseconds(1767225600000)};

lease::LeaseConfig lease_config() {
  lease::NetworkSpec spec{"198.18.0.0/16"};
  spec.subnet_len = 24;
  lease::LeaseConfig c;
  c.network = lease::NetworkConfig::make(spec).value();
  return c;
}

// Two nodes and the wire between them. `hold_persist[i]` keeps node i's records from being
// made durable (the driver's disk is "slow").
struct Wire {
  TimePoint now = kTimeZero;
  std::unique_ptr<Node> nodes[2];
  Endpoint addresses[2] = {{IpAddress::v4(192, 0, 2, 1), 7946},
                           {IpAddress::v4(192, 0, 2, 2), 7946}};
  bool hold_persist[2] = {false, false};
  std::vector<lease::NodeRecord> held[2];
  std::map<uint64_t, std::pair<int, int>> streams;  // id -> (opener, acceptor)
  uint64_t next_stream = 1;
  std::vector<lease::LeaseEvent> lease_events[2];
  std::vector<KeysValue> adopted[2];
  std::optional<KeysValue> restart_with_keys;  // the keyring the next start() restores

  WallTime wall() const {
    return kWall0 + std::chrono::duration_cast<std::chrono::milliseconds>(now - kTimeZero);
  }

  void start(int i, bool with_leases, uint8_t id_byte) {
    std::array<uint8_t, NodeId::kSize> bytes{};
    bytes[0] = id_byte;
    const NodeId id(bytes);
    NodeConfig config{
        gossip::Config::lan(), {id, "n" + std::to_string(i), addresses[i], {}, 1}, 7u + i, {}, {}};
    if (with_leases)
      config.lease = LeaseSetup{
          lease_config(), {id, "n" + std::to_string(i), addresses[i].address, "", {}}, {}};
    config.keys = std::exchange(restart_with_keys, std::nullopt);
    nodes[i] = std::make_unique<Node>(std::move(config), now, wall());
    if (i == 1) nodes[1]->join(now, wall(), {addresses[0]});
  }

  // Delivers everything pending, at once, until nothing moves.
  void pump() {
    for (int round = 0; round < 10000; ++round) {
      bool moved = false;
      for (int i = 0; i < 2; ++i) {
        Node* n = nodes[i].get();
        if (!n) continue;
        while (auto r = n->poll_persist()) {
          if (hold_persist[i]) {
            held[i].push_back(*r);
          } else {
            n->persisted(now, wall(), r->version);
          }
          moved = true;
        }
        while (n->poll_event()) moved = true;
        while (auto e = n->poll_lease_event()) {
          lease_events[i].push_back(*e);
          moved = true;
        }
        while (auto k = n->poll_keys()) {
          adopted[i].push_back(*k);
          moved = true;
        }
        while (auto t = n->poll_transmit()) {
          moved = true;
          deliver(i, std::move(*t));
        }
      }
      if (!moved) return;
    }
    FAIL("the wire never went quiet");
  }

  void deliver(int from, gossip::Transmit t) {
    const int to = t.to == addresses[0] ? 0 : 1;
    if (t.kind == gossip::Transmit::Kind::kDatagram) {
      if (nodes[to]) nodes[to]->handle_packet(now, wall(), addresses[from], t.payload);
      return;
    }
    uint64_t id = 0;
    int peer = to;
    if (!t.stream) {
      id = next_stream++;
      streams[id] = {from, to};
    } else {
      id = t.stream->value;
      auto it = streams.find(id);
      if (it == streams.end()) return;
      peer = it->second.first == from ? it->second.second : it->second.first;
      if (t.close) streams.erase(it);
    }
    if (!t.payload.empty() && nodes[peer])
      nodes[peer]->handle_stream(now, wall(), addresses[from], gossip::StreamId{id}, t.payload);
  }

  // Moves time on in steps, firing timeouts that are due and delivering what they send.
  void run_for(Duration d) {
    const TimePoint until = now + d;
    while (now < until) {
      now = std::min(until, now + 10ms);
      for (auto& n : nodes)
        if (n && now >= n->next_timeout()) n->handle_timeout(now, wall());
      pump();
    }
  }
};

}  // namespace

TEST_CASE("two nodes join and hold distinct subnets, each known to the other") {
  Wire w;
  w.start(0, true, 1);
  w.start(1, true, 2);
  w.run_for(10s);
  const auto* a = w.nodes[0]->leases();
  const auto* b = w.nodes[1]->leases();
  REQUIRE(a->ready_subnet());
  REQUIRE(b->ready_subnet());
  CHECK(*a->ready_subnet() != *b->ready_subnet());
  CHECK(a->owners() == b->owners());
  CHECK(a->owners().size() == 2);
  CHECK(w.nodes[0]->membership().count(gossip::MemberState::kAlive) == 2);
  bool ready_event = false;
  for (const auto& e : w.lease_events[1])
    ready_event |= e.kind == lease::LeaseEvent::Kind::kSubnetReady;
  CHECK(ready_event);
}

TEST_CASE("a record is announced only after the driver made it durable") {
  Wire w;
  w.start(0, true, 1);
  w.start(1, true, 2);
  w.hold_persist[1] = true;
  w.run_for(10s);
  REQUIRE(!w.held[1].empty());
  // Node 1 claimed, but its record never reached its disk: node 0 must not have it.
  CHECK(w.nodes[0]->leases()->table().find(w.nodes[1]->membership().id()) == nullptr);
  w.hold_persist[1] = false;
  for (const auto& r : w.held[1]) w.nodes[1]->persisted(w.now, w.wall(), r.version);
  w.held[1].clear();
  w.run_for(10s);
  CHECK(w.nodes[0]->leases()->table().find(w.nodes[1]->membership().id()) != nullptr);
  CHECK(w.nodes[0]->leases()->owners() == w.nodes[1]->leases()->owners());
}

TEST_CASE("leave with release frees the subnet at the peer; eviction voids a record") {
  Wire w;
  w.start(0, true, 1);
  w.start(1, true, 2);
  w.run_for(10s);
  REQUIRE(w.nodes[0]->leases()->owners().size() == 2);
  w.nodes[1]->leave(w.now, w.wall(), /*release=*/true);
  w.pump();
  w.run_for(2s);
  CHECK(w.nodes[0]->leases()->owners().size() == 1);
  CHECK(w.nodes[1]->membership().leave_announced());
  CHECK_FALSE(w.nodes[0]->evict(w.now, w.wall(), NodeId()));  // nothing to evict
}

TEST_CASE("a gossip-only node has no lease part and asks for nothing durable") {
  Wire w;
  w.start(0, false, 1);
  w.start(1, false, 2);
  w.run_for(3s);
  CHECK(w.nodes[0]->leases() == nullptr);
  CHECK(!w.nodes[0]->poll_persist());
  CHECK(!w.nodes[0]->poll_lease_event());
  CHECK(w.nodes[0]->membership().count(gossip::MemberState::kAlive) == 2);
}

TEST_CASE("node: a keyring change reaches the peer by gossip, and a peer that was down on rejoin") {
  Wire w;
  w.start(0, true, 1);
  w.start(1, true, 2);
  w.run_for(3s);
  const auto v1 = w.nodes[0]->publish_keys(w.now, w.wall(), "keyring v1");
  REQUIRE(v1);
  w.run_for(2s);
  REQUIRE(w.adopted[1].size() == 1);
  CHECK(w.adopted[1][0].keyring == "keyring v1");
  CHECK(w.nodes[1]->keys_version() == v1);
  CHECK(w.adopted[0].empty());  // its own change is not handed back

  // Node 1 goes down; node 0 changes the keyring again; node 1 comes back (with the version
  // it had applied, as the agent restores it) and must catch up without a new change.
  w.nodes[1].reset();
  w.run_for(1s);
  const auto v2 = w.nodes[0]->publish_keys(w.now, w.wall(), "keyring v2");
  REQUIRE(v2);
  w.run_for(20s);  // the broadcast's retransmissions are long over
  w.adopted[1].clear();
  w.restart_with_keys = KeysValue{*v1, "keyring v1"};
  w.start(1, true, 2);
  w.run_for(5s);
  REQUIRE_FALSE(w.adopted[1].empty());
  CHECK(w.adopted[1].back().keyring == "keyring v2");
  CHECK(w.nodes[1]->keys_version() == v2);
}
