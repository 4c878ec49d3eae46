#include "node/nat_view.h"

#include "gossip/path.h"
#include "gossip/wire.h"
#include "node/datapath_plan.h"
#include "proto/shoal.pb.h"

namespace shoal::node {

namespace {
constexpr size_t kMaxMetaBytes = 512;  // gossip refuses larger meta anyway
}

Bytes encode_member_meta(const MemberMeta& meta) {
  proto::MemberMeta out;
  for (const Endpoint& e : meta.tunnel) gossip::to_proto(e, *out.add_tunnel());
  if (meta.keys) to_proto(*meta.keys, *out.mutable_keys());
  const std::string bytes = out.SerializeAsString();
  return Bytes(bytes.begin(), bytes.end());
}

std::optional<MemberMeta> decode_member_meta(ByteView bytes) {
  if (bytes.size() > kMaxMetaBytes) return std::nullopt;
  proto::MemberMeta in;
  if (!in.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return std::nullopt;
  if (static_cast<size_t>(in.tunnel_size()) > gossip::kMaxCandidates) return std::nullopt;
  MemberMeta out;
  for (const auto& a : in.tunnel()) {
    auto e = gossip::from_proto(a);
    if (!e) return std::nullopt;
    out.tunnel.push_back(*e);
  }
  if (in.has_keys()) {
    auto keys = from_proto(in.keys());
    if (!keys || !keys->keyring.empty()) return std::nullopt;  // a version, never keys
    out.keys = keys->version;
  }
  return out;
}

NatView nat_view(const gossip::Membership& membership, TimePoint now) {
  NatView view;
  const std::vector<gossip::Member> members = membership.members();
  const gossip::Member& self = membership.self();
  view.behind_nat = behind_nat(members, self.id);
  const bool self_behind_nat = membership.reflexive().behind_nat(now);
  const bool self_symmetric = self.symmetric_nat || membership.reflexive().symmetric();
  for (const gossip::Member& m : members) {
    if (m.id == self.id || !m.is_alive_or_suspect()) continue;
    PeerReach reach;
    if (auto meta = decode_member_meta(m.meta)) reach.tunnel_candidates = meta->tunnel;
    const bool across = view.behind_nat.contains(m.id);
    reach.keepalive = across || self_behind_nat;
    // Before gossip has proven a path, a member that advertises our own LAN address is still
    // obviously elsewhere: another site reusing our range.
    reach.address_works = !across && m.address.address != self.address.address;
    if (across) {
      // The members it keeps its mappings open to (gossip's relays_for): it is reachable
      // through them even when no hole can be punched.
      for (const NodeId& r : membership.relays_for(m.id)) {
        if (r != self.id && r != m.id) {
          reach.relay = r;
          break;
        }
      }
      reach.punch = !m.symmetric_nat && !self_symmetric;
    }
    view.peers.emplace(m.id, std::move(reach));
  }
  return view;
}

}  // namespace shoal::node
