// How we reach one member across NATs: where our datagrams to it go, whether that endpoint
// has proved itself, and what to try when it has not (the ICE vocabulary, without ICE).
//
// A member advertises its address (maybe a private LAN address) and candidates: a configured
// public address (a port forward) and its server-reflexive address (gossip/reflexive.h).
// Promises:
//  - Only an ack to a probe of ours, carrying the fresh sequence number we chose and coming
//    from an endpoint, proves that endpoint (prove()). Any other packet from a new endpoint,
//    authenticated or not, replayed or not, only makes it worth one try (set_hint()).
//  - probe_endpoints() is small (at most kMaxProbeEndpoints) and always starts with reach.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/endpoint.h"
#include "common/path_kind.h"
#include "common/time.h"

namespace shoal::gossip {

// Candidates a member may advertise besides its address (wire.h refuses more).
inline constexpr size_t kMaxCandidates = 4;
inline constexpr size_t kMaxProbeEndpoints = kMaxCandidates + 2;

// kRelayed here: only indirect probes through helpers answer; no direct path works.
using PathKind = shoal::PathKind;
using shoal::to_string;

struct Path {
  Endpoint reach;                // where our datagrams to the member go
  bool proven = false;           // reach answered a fresh probe of ours
  bool relayed = false;          // the last probe was answered only through a helper
  int direct_failures = 0;       // probes in a row with no direct answer
  std::optional<Endpoint> hint;  // its packets came from here lately: worth one try
  // Our own endpoint as this member last saw it (Ack.observed): not our address means the
  // path between us crosses a NAT.
  std::optional<Endpoint> sees_us_at;
  // When a probe of ours last settled which kind the path is (path_kind); never: not yet.
  TimePoint decided_at = kTimeNever;
  // When we last pinged a hint while reach worked (Membership::on_ping): at most one such
  // check per probe interval, so packets from spoofed sources buy at most that.
  TimePoint hint_checked_at = kTimeNever;

  // reach is proven and the last probe got its direct answer.
  bool works() const { return proven && direct_failures == 0; }
  // A fresh ack of ours came from `from`. Returns true when reach moved.
  bool prove(const Endpoint& from);
  // A probe round ended with no direct answer (relayed: a helper's answer came).
  void direct_failed(bool answered_by_helper);
  void set_hint(const Endpoint& from) {
    if (from != reach) hint = from;
  }
  // Where one datagram that is not a probe goes (gossip, an accusation, a request to help):
  // reach once proven, else where the member's packets came from lately (its NAT lets us in
  // there, since it just sent to us), else reach.
  const Endpoint& send_to() const { return proven || !hint ? reach : *hint; }
  // The member advertised new endpoints: a reach that does not work, or a punched one it no
  // longer advertises (unless it is behind a symmetric NAT), starts again from its address
  // (probe_endpoints() tries the candidates next).
  void readvertised(const Endpoint& address, const std::vector<Endpoint>& candidates,
                    bool symmetric_nat);
};

// What kind of path `path` is to a member advertising `address`.
PathKind path_kind(const Path& path, const Endpoint& address);

// Where one probe goes: reach alone while it works; else reach, the address, the candidates
// and the hint (each once), which is how a hole gets punched from our side.
std::vector<Endpoint> probe_endpoints(const Path& path, const Endpoint& address,
                                      const std::vector<Endpoint>& candidates);

}  // namespace shoal::gossip
