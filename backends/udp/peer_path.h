// PeerPath decides where the udp tunnel sends one peer's datagrams: straight to an endpoint,
// or wrapped to a relay member that forwards them. It is sans-IO: the tunnel tells it what
// authenticated packets showed and what time it is, and asks it where to send.
//
// Promises:
//  - The direct endpoint moves only on heard_direct(), which the tunnel calls only for a
//    packet that authenticated and passed the replay check (WireGuard's roaming rule): a
//    forged or replayed packet can never redirect a peer's traffic.
//  - A direct endpoint that spoke within stale_after() is used; otherwise the relay, when
//    the plan names one; otherwise the best guess (the last endpoint heard, else the
//    advertised address), which is what a peer on a plain LAN needs.
//  - A direct endpoint is dead sooner when we keep sending data and hear nothing back for
//    kSilence: the receiving end answers data with a keepalive at least once a second
//    (Tunnel's passive keepalive), so silence means the path broke (a NAT remapped), and
//    traffic moves to the relay within seconds instead of stale_after().
//  - Punch probes to the candidates back off from 2 s to 32 s and start again from 2 s
//    whenever the direct path dies or the plan changes: hole punching costs a few datagrams
//    per minute at most once it has failed.
//  - A candidate the peer newly publishes gets one punch at the next take_punch(), even while
//    the direct path is fresh (the peer's NAT may have remapped it there).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/endpoint.h"
#include "common/node_id.h"
#include "common/path_kind.h"
#include "common/time.h"

namespace shoal::udp {

// What the agent knows about reaching a peer, from gossip.
struct PathPlan {
  Endpoint address;                  // the peer's advertised underlay address and port
  std::vector<Endpoint> candidates;  // more endpoints it may answer at (reflexive, public)
  std::optional<NodeId> relay;       // a member that relays to it; none: never relay
  bool punch = false;                // try the candidates directly even while a relay works
  bool keepalive = false;            // a NAT lies between us: hold its mapping open
  // false: `address` is private, across a NAT: no initiation or punch goes there, and data
  // only when nothing else (heard endpoint, candidate, relay) is known.
  bool address_works = true;
  bool operator==(const PathPlan&) const = default;
};

// kUnknown here: nothing authenticated came from the peer yet.
using PathKind = shoal::PathKind;
using shoal::to_string;

struct SendTarget {
  Endpoint endpoint;  // where the datagram goes: the peer, or the relay
  bool relayed = false;
  bool operator==(const SendTarget&) const = default;
};

// What is due for one peer at a tick (PeerPath::poll), for the tunnel to send.
struct PathDue {
  bool keepalive = false;       // to where data goes now (target())
  std::vector<Endpoint> punch;  // a keepalive straight to each
  bool direct_lost = false;     // the direct path just died: show the relay we are alive
};

class PeerPath {
 public:
  static constexpr size_t kMaxTargets = 6;  // initiation copies sent directly, at most

  explicit PeerPath(Duration keepalive_interval = std::chrono::seconds(25));

  // A new plan from the agent. What was learned stays where it still fits.
  void set_plan(const PathPlan& plan, TimePoint now);
  const PathPlan& plan() const { return plan_; }

  // An authenticated, fresh packet came straight from `from`. True when the endpoint moved
  // (not on the first packet heard).
  bool heard_direct(const Endpoint& from, TimePoint now);
  // An authenticated, fresh packet came through a relay.
  void heard_relayed(TimePoint now);
  // We sent the peer data (not keepalives) at `now`.
  void sent_data(TimePoint now);
  // True once each time the direct path goes from fresh to dead.
  bool take_direct_lost(TimePoint now);

  // Where data goes now; `relay_endpoint` is the relay member's own direct endpoint, when
  // it has one (a relay we cannot reach ourselves is no use).
  SendTarget target(TimePoint now, std::optional<Endpoint> relay_endpoint) const;
  // Where a handshake initiation goes directly: the endpoint heard last, the address and the
  // candidates, each once. (The tunnel also sends one through the relay, if any.)
  std::vector<Endpoint> initiation_endpoints() const;
  // The direct endpoints to punch now (empty when it is not time); schedules the next round.
  std::vector<Endpoint> take_punch(TimePoint now);
  // Whether to send a keepalive now; schedules the next one.
  bool take_keepalive(TimePoint now);
  // All of the above at once: what the tunnel does for this peer at a tick, with a session.
  PathDue poll(TimePoint now);

  PathKind kind(TimePoint now) const;
  // The endpoint authenticated packets came from last, if any.
  const std::optional<Endpoint>& heard_at() const { return heard_at_; }
  bool direct_fresh(TimePoint now) const;
  Duration stale_after() const { return 2 * keepalive_ + std::chrono::seconds(5); }
  static constexpr Duration kSilence = std::chrono::seconds(3);

 private:
  Duration keepalive_;
  PathPlan plan_;
  std::optional<Endpoint> heard_at_;
  TimePoint heard_direct_at_ = kTimeNever;  // never: not yet
  TimePoint heard_relayed_at_ = kTimeNever;
  TimePoint sent_data_at_ = kTimeNever;
  bool reported_fresh_ = false;
  TimePoint next_punch_ = kTimeZero;
  Duration punch_backoff_ = std::chrono::seconds(2);
  TimePoint next_keepalive_ = kTimeZero;
  bool was_fresh_ = false;
  std::vector<Endpoint> fresh_candidates_;  // newly published: one punch each, whatever else
};

}  // namespace shoal::udp
