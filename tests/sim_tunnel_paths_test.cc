// The udp tunnel's path logic on virtual time across simulated NAT routers (chaos/nat.h):
// the real PeerPath, polled every second exactly as Tunnel::tick does (PeerPath::poll), and the
// real session choice (session_policy.h's seal_with_fresh), with the tunnel's sends around
// them: initiations to every endpoint and through the relay every second until a session
// exists (two ends that start at the same instant cross them), responses, confirming keepalives,
// data every 50 ms on every pair, a passive keepalive for data unanswered for a second,
// punches, and keepalives. Four hosts, every site on the same LAN range:
// R public (the relay), A and B behind cone NATs, C behind a symmetric NAT. Datagrams are not
// sealed here: between our hosts every datagram counts as authenticated, as the tunnel's do
// once opened. The relay forwards only from the endpoint it hears the sender at, as the tunnel
// does. Nothing is random, so a failure replays as it is (no seed).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backends/udp/peer_path.h"
#include "backends/udp/session_policy.h"
#include "chaos/nat.h"

using namespace shoal;
using udp::PathKind;
using udp::PeerPath;

namespace {

constexpr Duration kStep = std::chrono::milliseconds(10);
constexpr Duration kDataEvery = std::chrono::milliseconds(50);
constexpr Duration kPassiveKeepalive = std::chrono::seconds(1);  // tunnel_impl.h's
constexpr Duration kTick = std::chrono::seconds(1);
constexpr Duration kMappingTimeout = std::chrono::seconds(60);
constexpr int kR = 0, kA = 1, kB = 2, kC = 3, kHosts = 4;

Endpoint at(IpAddress ip, uint16_t port = 8285) { return {ip, port}; }
const IpAddress kLan = IpAddress::v4(198, 51, 100, 2);  // every site's host has it

enum class Type : uint8_t { kInitiation, kResponse, kKeepalive, kData };

struct Datagram {
  Endpoint from, to;
  int sender = -1;
  Type type = Type::kKeepalive;
  bool relayed = false;  // wrapped for the relay: for `destination`, from `sender`
  int destination = -1;
  int session = -1;  // the handshake it belongs to, or the session it is sealed with
};

// One end's view of a session: when it completed there and who initiated it.
struct Session {
  udp::SessionOrigin origin;
  bool confirmed = false;  // a responder's, once the initiator used it
};

struct Host {
  Endpoint inside;            // its socket
  chaos::Nat* nat = nullptr;  // null: on the public segment
  std::map<int, PeerPath> paths;
  std::map<int, TimePoint> sent_any;
  // Per peer: the sessions completed with it, by id; the one sealed with; our initiation.
  std::map<int, std::map<int, Session>> sessions;
  std::map<int, int> current, pending;
};

class World {
 public:
  World()
      : nats_{chaos::Nat(chaos::NatKind::kCone, IpAddress::v4(203, 0, 113, 101), kMappingTimeout),
              chaos::Nat(chaos::NatKind::kCone, IpAddress::v4(203, 0, 113, 102), kMappingTimeout),
              chaos::Nat(chaos::NatKind::kSymmetric, IpAddress::v4(203, 0, 113, 103),
                         kMappingTimeout)} {
    hosts_[kR].inside = at(IpAddress::v4(203, 0, 113, 11));
    for (int h = kA; h <= kC; ++h) {
      hosts_[h].inside = at(kLan);
      hosts_[h].nat = &nats_[static_cast<size_t>(h - 1)];
    }
    for (int h = 0; h < kHosts; ++h)
      for (int q = 0; q < kHosts; ++q)
        if (h != q) hosts_[h].paths.emplace(q, PeerPath());
    replan();
  }

  TimePoint now() const { return now_; }
  // The session h seals with towards q (-1: none), and whether both initiated one at once.
  int current(int h, int q) const {
    auto it = hosts_[h].current.find(q);
    return it == hosts_[h].current.end() ? -1 : it->second;
  }
  int crossings() const { return crossings_; }
  // Both ends drop their sessions with each other at the same instant (as when both tunnels
  // restart), so their next initiations cross.
  void forget_sessions(int a, int b) {
    for (auto [h, q] : {std::pair{a, b}, std::pair{b, a}}) {
      hosts_[h].sessions.erase(q);
      hosts_[h].current.erase(q);
      hosts_[h].pending.erase(q);
    }
  }
  int initiator_of(int session) const { return initiator_.at(session); }
  const PeerPath& path(int h, int q) const { return hosts_[h].paths.at(q); }
  chaos::Nat& nat(int h) { return *hosts_[h].nat; }
  void block_direct(int a, int b, bool on) {
    const auto pair = std::make_pair(public_ip(a), public_ip(b));
    if (on) {
      blocked_.insert(pair);
      blocked_.insert({pair.second, pair.first});
    } else {
      blocked_.erase(pair);
      blocked_.erase({pair.second, pair.first});
    }
  }
  // Data from a to b that arrived in [from, to).
  size_t delivered(int a, int b, TimePoint from, TimePoint to) const {
    auto it = arrivals_.find({a, b});
    if (it == arrivals_.end()) return 0;
    return static_cast<size_t>(std::count_if(it->second.begin(), it->second.end(),
                                             [&](TimePoint t) { return t >= from && t < to; }));
  }
  // The longest time without data from a to b arriving, within [from, to).
  Duration longest_gap(int a, int b, TimePoint from, TimePoint to) const {
    TimePoint last = from;
    Duration gap{};
    auto it = arrivals_.find({a, b});
    if (it != arrivals_.end())
      for (TimePoint t : it->second)
        if (t >= from && t < to) {
          gap = std::max(gap, t - last);
          last = t;
        }
    return std::max(gap, to - last);
  }

  void run_until(TimePoint until) {
    while (now_ < until) step();
  }

 private:
  IpAddress public_ip(int h) const {
    return hosts_[h].nat ? hosts_[h].nat->public_ip() : hosts_[h].inside.address;
  }
  bool symmetric(int h) const {
    return hosts_[h].nat && hosts_[h].nat->kind() == chaos::NatKind::kSymmetric;
  }

  // What the agent's nat_view would give each tunnel peer: R relays for everyone behind a
  // NAT; a private address across a NAT is never sent to; candidates are where others last
  // saw the peer from (its observed endpoints), published through gossip at each tick.
  void replan() {
    for (int h = 0; h < kHosts; ++h)
      for (auto& [q, p] : hosts_[h].paths) {
        udp::PathPlan plan;
        plan.address = hosts_[q].inside;
        plan.address_works = hosts_[q].nat == nullptr;
        if (auto it = observed_.find(q); it != observed_.end()) plan.candidates = {it->second};
        const bool across = hosts_[q].nat != nullptr;
        if (across && h != kR) plan.relay = NodeId();  // R; the id itself is not used here
        plan.punch = across && !symmetric(q) && !symmetric(h);
        plan.keepalive = across || hosts_[h].nat != nullptr;
        p.set_plan(plan, now_);
      }
  }

  void send(int h, const Endpoint& to, Datagram d) {
    Host& me = hosts_[h];
    if (me.nat) {
      const auto mapped = me.nat->outbound(me.inside, to, now_);
      if (!mapped) return;  // the router's table is full: dropped
      d.from = *mapped;
    } else {
      d.from = me.inside;
    }
    d.to = to;
    in_flight_.push_back({now_ + kStep, d});
  }

  // Data or a keepalive to peer q, where PeerPath says (the tunnel's publish + send).
  void send_to_peer(int h, int q, Type type, int session) {
    PeerPath& p = hosts_[h].paths.at(q);
    std::optional<Endpoint> relay_endpoint;
    if (p.plan().relay) {
      const udp::SendTarget to_relay = hosts_[h].paths.at(kR).target(now_, std::nullopt);
      if (!to_relay.relayed) relay_endpoint = to_relay.endpoint;
    }
    const udp::SendTarget target = p.target(now_, relay_endpoint);
    send(h, target.endpoint, {{}, {}, h, type, target.relayed, q, session});
    hosts_[h].sent_any[q] = now_;
    if (type == Type::kData) p.sent_data(now_);
  }

  std::optional<int> reach(const Datagram& d) {
    if (blocked_.contains({d.from.address, d.to.address})) return std::nullopt;
    for (int i = 0; i < kHosts; ++i) {
      const Host& host = hosts_[i];
      if (!host.nat && host.inside == d.to) return i;
      if (host.nat && host.nat->public_ip() == d.to.address) {
        const auto inside = host.nat->inbound(d.to.port, d.from, now_);
        if (inside && *inside == host.inside) return i;
        return std::nullopt;  // the router dropped it
      }
    }
    return std::nullopt;  // a private address of another site: nobody
  }

  void receive(int r, const Datagram& d) {
    Host& me = hosts_[r];
    if (d.relayed && d.destination != r) {                     // we are the relay
      if (me.paths.at(d.sender).heard_at() != d.from) return;  // the tunnel's relay_refused
      const udp::SendTarget onward = me.paths.at(d.destination).target(now_, std::nullopt);
      if (onward.relayed) return;
      send(r, onward.endpoint, d);
      return;
    }
    PeerPath& p = me.paths.at(d.sender);
    if (d.relayed) {
      p.heard_relayed(now_);
    } else {
      p.heard_direct(d.from, now_);
      // The observed message every keepalive carries: where the sender is seen from.
      if (hosts_[d.sender].nat && hosts_[d.sender].nat != me.nat) observed_[d.sender] = d.from;
    }
    auto& sessions = me.sessions[d.sender];
    switch (d.type) {
      case Type::kInitiation:
        if (sessions.contains(d.session)) return;  // another copy of one we answered
        sessions[d.session] = {{now_, false}, false};
        send_to_peer(r, d.sender, Type::kResponse, d.session);
        return;
      case Type::kResponse: {
        auto pending = me.pending.find(d.sender);
        if (pending == me.pending.end() || pending->second != d.session) return;
        me.pending.erase(pending);
        sessions[d.session] = {{now_, true}, true};
        choose(r, d.sender, d.session);
        send_to_peer(r, d.sender, Type::kKeepalive, d.session);  // confirms it at once
        return;
      }
      case Type::kKeepalive:
      case Type::kData: {
        auto it = sessions.find(d.session);
        if (it == sessions.end()) return;  // not a session we hold: dropped
        if (!it->second.confirmed) {
          it->second.confirmed = true;
          choose(r, d.sender, d.session);
        }
        if (d.type == Type::kKeepalive) return;
        arrivals_[{d.sender, r}].push_back(now_);
        auto sent = me.sent_any.find(d.sender);
        if (sent == me.sent_any.end() || now_ - sent->second > kPassiveKeepalive)
          send_to_peer(r, d.sender, Type::kKeepalive, current(r, d.sender));
        return;
      }
    }
  }

  // A session with q just became usable at h: seal with it if the policy says so.
  void choose(int h, int q, int fresh) {
    Host& me = hosts_[h];
    auto& sessions = me.sessions[q];
    const udp::SessionOrigin* now_used = nullptr;
    if (auto it = me.current.find(q); it != me.current.end())
      now_used = &sessions.at(it->second).origin;
    if (now_used != nullptr && initiator_.at(me.current[q]) != initiator_.at(fresh)) ++crossings_;
    if (udp::seal_with_fresh(node(h), node(q), now_used, sessions.at(fresh).origin))
      me.current[q] = fresh;
  }
  static NodeId node(int h) {
    std::array<uint8_t, NodeId::kSize> bytes{};
    bytes[0] = static_cast<uint8_t>(h + 1);  // R < A < B < C
    return NodeId(bytes);
  }

  void tick(int h) {
    Host& me = hosts_[h];
    for (auto& [q, p] : me.paths) {
      if (current(h, q) < 0) {
        // No session yet: an initiation (a new one each second, as kHandshakeRetry) goes to
        // every endpoint and through the relay.
        const int id = next_session_++;
        initiator_[id] = h;
        me.pending[q] = id;
        for (const Endpoint& e : p.initiation_endpoints())
          send(h, e, {{}, {}, h, Type::kInitiation, false, q, id});
        if (p.plan().relay) send(h, hosts_[kR].inside, {{}, {}, h, Type::kInitiation, true, q, id});
        continue;
      }
      const udp::PathDue due = p.poll(now_);
      if (due.direct_lost && p.plan().relay && current(h, kR) >= 0)
        send_to_peer(h, kR, Type::kKeepalive, current(h, kR));
      if (due.keepalive) send_to_peer(h, q, Type::kKeepalive, current(h, q));
      for (const Endpoint& e : due.punch)
        send(h, e, {{}, {}, h, Type::kKeepalive, false, q, current(h, q)});
    }
  }

  void step() {
    now_ += kStep;
    while (!in_flight_.empty() && in_flight_.front().first <= now_) {
      const Datagram d = in_flight_.front().second;
      in_flight_.pop_front();
      if (auto r = reach(d)) receive(*r, d);
    }
    const auto since = now_ - kTimeZero;
    if (since % kTick == Duration::zero()) {
      replan();
      for (int h = 0; h < kHosts; ++h) tick(h);
    }
    if (since % kDataEvery == Duration::zero())
      for (int a = kA; a <= kC; ++a)
        for (int b = kA; b <= kC; ++b)
          if (a != b && current(a, b) >= 0) send_to_peer(a, b, Type::kData, current(a, b));
  }

  TimePoint now_ = kTimeZero;
  std::array<chaos::Nat, 3> nats_;
  std::array<Host, kHosts> hosts_;
  std::deque<std::pair<TimePoint, Datagram>> in_flight_;
  std::map<int, Endpoint> observed_;
  std::set<std::pair<IpAddress, IpAddress>> blocked_;
  std::map<std::pair<int, int>, std::vector<TimePoint>> arrivals_;
  std::map<int, int> initiator_;  // session id -> the host that initiated it
  int next_session_ = 1;
  int crossings_ = 0;  // times an end held sessions initiated by both ends
};

TimePoint at_s(int seconds) { return kTimeZero + std::chrono::seconds(seconds); }
double secs(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

TEST_CASE("sim.tunnel_paths") {
  World w;
  const std::string names = "RABC";
  const auto pair_info = [&](int a, int b) {
    return std::string(1, names[static_cast<size_t>(a)]) + "->" + names[static_cast<size_t>(b)] +
           " " + std::string(to_string(w.path(a, b).kind(w.now())));
  };
  // 1. Cone to cone punched, symmetric to anything relayed, all data flowing.
  w.run_until(at_s(30));
  INFO(pair_info(kA, kB) << "; " << pair_info(kB, kA) << "; " << pair_info(kA, kC) << "; "
                         << pair_info(kC, kA) << "; " << pair_info(kR, kA));
  CHECK(w.path(kA, kB).kind(w.now()) == PathKind::kPunched);
  CHECK(w.path(kB, kA).kind(w.now()) == PathKind::kPunched);
  CHECK(w.path(kA, kC).kind(w.now()) == PathKind::kRelayed);
  CHECK(w.path(kC, kB).kind(w.now()) == PathKind::kRelayed);
  CHECK(w.path(kR, kA).kind(w.now()) == PathKind::kPunched);  // its address is private
  // Both ends of every pair seal with the same session.
  const auto same_sessions = [&] {
    for (int a = 0; a < kHosts; ++a)
      for (int b = a + 1; b < kHosts; ++b) {
        INFO(pair_info(a, b) << ": sessions " << w.current(a, b) << " and " << w.current(b, a));
        REQUIRE(w.current(a, b) >= 0);
        CHECK(w.current(a, b) == w.current(b, a));
      }
  };
  same_sessions();
  // A and B start handshakes with each other at the same instant: the initiations cross (at
  // the start they did not: a relay forwards only for a host it has heard from). Each end
  // completes two sessions, and both seal with the one A (the lower id) initiated.
  w.forget_sessions(kA, kB);
  w.run_until(at_s(32));
  MESSAGE(w.crossings() << " time(s) an end held sessions initiated by both ends");
  CHECK(w.crossings() >= 2);  // once at each end
  same_sessions();
  CHECK(w.initiator_of(w.current(kA, kB)) == kA);
  CHECK(w.delivered(kA, kB, at_s(31), at_s(32)) >= 19);
  for (int a = kA; a <= kC; ++a)
    for (int b = kA; b <= kC; ++b)
      if (a != b) {
        INFO(pair_info(a, b));
        CHECK(w.delivered(a, b, at_s(25), at_s(30)) >= 95);  // of 100 sent
      }

  // 2. NAT A's router restarts with new ports in the middle of the flows.
  w.nat(kA).flush();
  w.run_until(at_s(70));
  MESSAGE("after A's NAT remapped, A->B data stopped for at most "
          << secs(w.longest_gap(kA, kB, at_s(32), at_s(70))) << " s, B->A for "
          << secs(w.longest_gap(kB, kA, at_s(32), at_s(70))) << " s");
  CHECK(w.longest_gap(kA, kB, at_s(32), at_s(70)) <= std::chrono::seconds(8));
  CHECK(w.longest_gap(kB, kA, at_s(32), at_s(70)) <= std::chrono::seconds(8));
  CHECK(w.longest_gap(kA, kC, at_s(32), at_s(70)) <= std::chrono::seconds(8));
  CHECK(w.path(kB, kA).kind(w.now()) == PathKind::kPunched);  // at A's new port
  CHECK(w.path(kB, kA).heard_at() != std::nullopt);

  // 3. The hole between A's and B's routers dies (and stays dead): the relay carries A<->B.
  w.block_direct(kA, kB, true);
  w.run_until(at_s(110));
  MESSAGE("with the hole dead, A->B data stopped for at most "
          << secs(w.longest_gap(kA, kB, at_s(70), at_s(110))) << " s");
  CHECK(w.longest_gap(kA, kB, at_s(70), at_s(110)) <= std::chrono::seconds(6));
  CHECK(w.longest_gap(kB, kA, at_s(70), at_s(110)) <= std::chrono::seconds(6));
  CHECK(w.path(kA, kB).kind(w.now()) == PathKind::kRelayed);
  CHECK(w.delivered(kA, kB, at_s(100), at_s(110)) >= 190);

  // 4. The hole works again: punching (backed off to 32 s at most) brings A<->B back direct.
  w.block_direct(kA, kB, false);
  w.run_until(at_s(160));
  CHECK(w.path(kA, kB).kind(w.now()) == PathKind::kPunched);
  CHECK(w.path(kB, kA).kind(w.now()) == PathKind::kPunched);
  CHECK(w.delivered(kA, kB, at_s(155), at_s(160)) >= 95);
}
