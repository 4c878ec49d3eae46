// What one member knows about another: identity, where to reach it, and its SWIM state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/endpoint.h"
#include "common/node_id.h"
#include "common/time.h"
#include "gossip/path.h"
#include "gossip/version.h"

namespace shoal::gossip {

enum class MemberState : uint8_t { kAlive, kSuspect, kDead, kLeft };
std::string_view to_string(MemberState s);

struct Member {
  NodeId id;
  std::string name;
  Endpoint address;
  uint64_t incarnation = 0;  // bumped only by the member itself, to refute or update
  MemberState state = MemberState::kAlive;
  TimePoint state_since;       // when this member entered `state`, on the observer's clock
  Bytes meta;                  // opaque payload of the layer above (memberlist's meta)
  VersionRange versions = {};  // the wire versions it reads, as it advertises them
  // Across NATs (wire version 2), as it advertises them: more endpoints to try besides
  // `address`, whether it relays for others, whether its NAT is symmetric.
  std::vector<Endpoint> candidates;
  bool relay = false;
  bool symmetric_nat = false;
  Path path;  // ours, not advertised: how we reach it (path.h)

  // Reachable by a stream (a push-pull) at `address`: it advertises no NAT in front of it.
  // Behind NAT nobody outside can open a stream to it, and its address is a LAN address
  // that, from another site, leads into our own LAN.
  bool takes_streams() const { return candidates.empty() && !symmetric_nat; }

  // Across NATs, datagrams reach a member where a probe of ours proved the path, where its
  // packets came from lately (a relay hears every keepalive of the members it relays for),
  // or where it advertises nothing but its address (no NAT in front of it, as far as we
  // know).
  bool likely_reachable() const {
    return path.works() || path.hint || (candidates.empty() && !symmetric_nat);
  }

  bool is_alive_or_suspect() const {
    return state == MemberState::kAlive || state == MemberState::kSuspect;
  }
};

}  // namespace shoal::gossip
