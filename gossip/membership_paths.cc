// Reaching members across NATs (docs/sites.md). A probe fans out over a member's endpoints
// until one answers: our half of a hole punch; the helper of an indirect probe arranges the
// other half (membership_probe.cc, on_indirect_ping). Acks tell us where we are seen from
// (reflexive.h). A member behind NAT keeps its mapping open to a few relays that every member
// computes alike (relays_for), and those relays are the first helpers asked about it.
#include <algorithm>

#include "common/hash.h"
#include "gossip/membership.h"
#include "gossip/wire.h"

namespace shoal::gossip {
namespace {

// Mapping refreshes whose answer we still wait for, at most (oldest dropped first).
constexpr size_t kMaxPathChecks = 64;

uint64_t mix(uint64_t x) { return finalise(x + kGoldenGamma); }

uint64_t first_word(const NodeId& id) {
  uint64_t w = 0;
  for (size_t i = 0; i < 8; ++i) w = (w << 8) | id.view()[i];
  return w;
}

// Rendezvous (highest random weight) hashing: each member ranks the relays its own way, and
// everyone computes the same ranking. The relay's half, mixed_half(relay), is computed once.
uint64_t mixed_half(const NodeId& relay) { return mix(first_word(relay)); }
uint64_t weight(uint64_t member_word, uint64_t relay_half) { return mix(member_word ^ relay_half); }

bool can_relay(const Member& m) { return m.relay && m.state == MemberState::kAlive; }

bool alive_only(const Member& m, TimePoint, Duration) { return m.state == MemberState::kAlive; }

}  // namespace

void Membership::ping_paths(Entry& target, uint32_t seq, std::vector<Bytes> leading,
                            const std::vector<Doubt>& doubts) {
  Member& m = target.member;
  const auto endpoints = probe_endpoints(m.path, m.address, m.candidates);
  if (endpoints.size() > 1) stats_.punch_attempts++;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    proto::Envelope envelope;
    envelope.mutable_ping()->set_seq(seq);
    envelope.mutable_ping()->set_target(to_proto_bytes(m.id));
    envelope.mutable_ping()->set_known_incarnation(m.incarnation);
    for (const Doubt& doubt : doubts) {
      proto::Doubt& asked = *envelope.mutable_ping()->add_doubts();
      asked.set_node(to_proto_bytes(doubt.node));
      asked.set_incarnation(doubt.incarnation);
    }
    // Only the endpoint we believe in carries gossip: the others are likely dead ends.
    send_datagram(endpoints[i], envelope, leading, /*piggyback=*/i == 0);
  }
}

void Membership::expect_path_check(uint32_t seq, const NodeId& target, TimePoint now) {
  path_checks_[seq] = PathCheck{target, now + config_.probe_interval};
  if (path_checks_.size() > kMaxPathChecks) path_checks_.erase(path_checks_.begin());
}

void Membership::ping_outside_probe(TimePoint now, Entry& target, std::vector<Bytes> leading,
                                    const std::vector<Doubt>& doubts) {
  const uint32_t seq = ++next_seq_;
  expect_path_check(seq, target.member.id, now);
  ping_paths(target, seq, std::move(leading), doubts);
}

void Membership::follow_up_punch(TimePoint now, Entry& target) {
  ping_outside_probe(now, target);  // counts the punch attempt when it fans out
}

void Membership::prove_path(TimePoint now, Entry& e, const Endpoint& from, const proto::Ack& ack) {
  Path& path = e.member.path;
  const bool was_proven = path.proven;
  const bool was_punched = path_kind(path, e.member.address) == PathKind::kPunched;
  if (path.prove(from) && was_proven) stats_.path_moves++;
  path.decided_at = now;
  if (!was_punched && path_kind(path, e.member.address) == PathKind::kPunched) stats_.punches++;
  if (!ack.has_observed()) return;
  const auto seen = from_proto(ack.observed());
  if (!seen) return;
  path.sees_us_at = *seen;
  const bool anchor =
      e.member.relay || std::find(seeds_.begin(), seeds_.end(), e.member.address) != seeds_.end();
  const auto before = reflexive_.reflexive();
  if (reflexive_.observe(e.member.id, *seen, anchor, now)) readvertise_self(now);
  // Seen outside at another endpoint than our reflexive one: our NAT may have restarted and
  // remapped us. Our relays are anchors, whose one word moves our address: ask them now
  // rather than wait for a second ordinary observer (at 300 hosts the last of 75 remapped
  // members took 9 s to readvertise, and every member that probed it meanwhile accused it).
  // (A neighbour that sees us at our own address is no sign of that.)
  if (before && *seen != *before && *seen != self().address && reflexive_.reflexive() == before)
    refresh_soon(now);
}

void Membership::readvertise_self(TimePoint now) {
  if (leaving_) return;
  Member& me = entries_[0].member;
  std::vector<Endpoint> candidates;
  if (public_address_) candidates.push_back(*public_address_);
  if (const auto r = reflexive_.reflexive(); r && *r != me.address && r != public_address_)
    candidates.push_back(*r);
  const bool relay = relay_allowed_ && reflexive_.public_reachable(now, anchors_exist());
  const bool symmetric = reflexive_.symmetric();
  if (candidates == me.candidates && relay == me.relay && symmetric == me.symmetric_nat) return;
  me.candidates = std::move(candidates);
  if (relay != me.relay) relay_candidates_stale_ = true;
  me.relay = relay;
  me.symmetric_nat = symmetric;
  me.incarnation++;
  me.state_since = now;
  stats_.endpoint_changes++;
  queue_update(me.id, alive_update(me));
  // A new address (a remap): our relays must hear from the new mapping before anyone asks
  // them to reach us.
  refresh_soon(now);
}

void Membership::refresh_soon(TimePoint now) {
  if (!reflexive_.behind_nat(now)) return;
  next_refresh_ = std::min(next_refresh_, std::max(now, last_refresh_ + config_.probe_interval));
}

void Membership::refresh_mappings(TimePoint now) {
  next_refresh_ = now + config_.keepalive_interval;
  last_refresh_ = now;
  std::erase_if(path_checks_, [now](const auto& c) { return c.second.until < now; });
  if (leaving_) return;
  // Until we know where we stand, each probe interval (at a join, probes alone would take a
  // while to reach an anchor); then, behind NAT, every keepalive interval (our NAT forgets a
  // mapping nobody sends on, and our relays must reach us). Our own relays: they are the
  // helpers others ask about us, and three of them tell a symmetric NAT from a cone.
  const bool settled = reflexive_.settled(now, anchors_exist());
  if (settled && !reflexive_.behind_nat(now)) return;
  if (!settled) next_refresh_ = now + config_.probe_interval;
  std::vector<Entry*> targets;
  own_relays_ = relays_for(id());
  for (const NodeId& r : own_relays_)
    if (Entry* e = find_entry(r)) targets.push_back(e);
  if (targets.empty() && !settled)  // no relay known yet: any two live members
    for (const Entry* e : random_members(2, NodeId(), alive_only, now))
      targets.push_back(find_entry(e->member.id));
  for (Entry* e : targets) {
    const uint64_t before = stats_.bytes_out;
    ping_outside_probe(now, *e);
    stats_.mapping_refreshes++;
    stats_.mapping_refresh_bytes += stats_.bytes_out - before;
  }
}

bool Membership::anchors_exist() const {
  return !seeds_.empty() || std::any_of(entries_.begin() + 1, entries_.end(),
                                        [](const Entry& e) { return can_relay(e.member); });
}

std::vector<NodeId> Membership::relays_for(const NodeId& member) const {
  if (relay_candidates_stale_) {
    relay_candidates_.clear();
    for (size_t i = 0; i < entries_.size(); ++i)
      if (entries_[i].member.relay)
        relay_candidates_.push_back({mixed_half(entries_[i].member.id), static_cast<uint32_t>(i)});
    relay_candidates_stale_ = false;
  }
  // Rank every member that advertises relaying by its weight, then take the best k that are
  // alive and not `member` itself: the first few ranked, usually. The state is read only
  // for those.
  const uint64_t member_word = first_word(member);
  std::vector<std::pair<uint64_t, uint32_t>> ranked;
  ranked.reserve(relay_candidates_.size());
  for (const RelayCandidate& c : relay_candidates_)
    ranked.emplace_back(weight(member_word, c.mixed_id), c.pos);
  const size_t k = static_cast<size_t>(config_.relays_per_member);
  const auto by_weight = [](const auto& a, const auto& b) { return a.first > b.first; };
  std::vector<NodeId> out;
  size_t sorted = 0;
  for (size_t i = 0; i < ranked.size() && out.size() < k; ++i) {
    if (i == sorted) {  // sort a window of 2k more, or the rest if that is all
      sorted = std::min(ranked.size(), sorted + 2 * k);
      std::partial_sort(ranked.begin() + static_cast<std::ptrdiff_t>(i),
                        ranked.begin() + static_cast<std::ptrdiff_t>(sorted), ranked.end(),
                        by_weight);
    }
    const Member& m = entries_[ranked[i].second].member;
    if (m.id != member && can_relay(m)) out.push_back(m.id);
  }
  return out;
}

std::vector<const Membership::Entry*> Membership::helpers_for(TimePoint now, const Member& target) {
  const size_t k = static_cast<size_t>(config_.indirect_checks);
  std::vector<const Entry*> out;
  // The relays a member keeps its mapping open to reach it through its NAT, if it has one;
  // if it has none they reach it anyway. (Before it has learned whether it has, its
  // candidates cannot tell us, so they are asked first in every case.)
  for (const NodeId& r : relays_for(target.id)) {
    const Entry* e = find_entry(r);
    if (out.size() < k && e && e != &entries_[0]) out.push_back(e);
  }
  for (const Entry* e : random_members(k, target.id, alive_only, now)) {
    if (out.size() >= k) break;
    if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
  }
  return out;
}

template <typename Message>
void Membership::write_nat_fields(const Member& m, Message& out) {
  // Written at every version, unlike other additions: a reader of version 1 skips them
  // without misreading anything, and a member that relays an alive must not strip them (the
  // copy without them would win at the same incarnation).
  for (const Endpoint& c : m.candidates) to_proto(c, *out.add_candidates());
  out.set_relay(m.relay);
  out.set_symmetric_nat(m.symmetric_nat);
}

template void Membership::write_nat_fields(const Member&, proto::Alive&);
template void Membership::write_nat_fields(const Member&, proto::MemberState&);

void Membership::read_nat_fields(const proto::Alive& in, Member& m) {
  m.candidates.clear();
  for (const proto::Address& a : in.candidates())
    if (auto e = from_proto(a)) m.candidates.push_back(*e);
  m.relay = in.relay();
  m.symmetric_nat = in.symmetric_nat();
}

}  // namespace shoal::gossip
