// NatView is what the datapath needs to know about peers across NATs, read from gossip:
// who sits across a NAT from us (never host-gw or vxlan for them), and for the udp tunnel,
// each peer's tunnel endpoints, the member that relays to it, and whether to punch and to
// keep a mapping open (backends/udp/peer_path.h uses them). Sans-IO, a function of the
// membership and the time.
//
// The tunnel's endpoints travel in the member's gossip meta (MemberMeta in shoal.proto):
// decode_member_meta() is the one door for those bytes; it caps their size and count and
// never throws.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <vector>

#include "common/bytes.h"
#include "common/endpoint.h"
#include "common/node_id.h"
#include "common/time.h"
#include "gossip/membership.h"
#include "node/cluster_keys.h"

namespace shoal::node {

struct MemberMeta {
  std::vector<Endpoint> tunnel;     // at most gossip::kMaxCandidates
  std::optional<KeysVersion> keys;  // the cluster keyring it has applied (cluster_keys.h)
  bool operator==(const MemberMeta&) const = default;
};
Bytes encode_member_meta(const MemberMeta& meta);
// Empty bytes are an empty meta (a member that publishes none); nullopt when malformed.
std::optional<MemberMeta> decode_member_meta(ByteView bytes);

struct PeerReach {
  std::vector<Endpoint> tunnel_candidates;  // what its meta says
  std::optional<NodeId> relay;              // set only for a member across a NAT from us
  bool punch = false;      // neither end behind a symmetric NAT: a hole can be punched
  bool keepalive = false;  // a NAT lies between us
  // Its advertised address answers our gossip probes. Across a NAT it is a private address
  // that, at our site, may be nobody's or another host's (even ours: sites reuse LAN ranges),
  // so the tunnel sends nothing there.
  bool address_works = true;
};

struct NatView {
  std::set<NodeId> behind_nat;  // as datapath_plan.h's behind_nat()
  std::map<NodeId, PeerReach> peers;
};

NatView nat_view(const gossip::Membership& membership, TimePoint now);

}  // namespace shoal::node
