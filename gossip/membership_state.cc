// The SWIM state rules: how alive, suspect and dead messages change what we believe, how
// we refute accusations against ourselves, and when a suspicion becomes a death.
//
// Incarnation numbers order everything: only the member itself raises its own, so a
// higher incarnation always wins, and at equal incarnation dead > suspect > alive.
#include <algorithm>

#include "gossip/membership.h"
#include "gossip/wire.h"

namespace shoal::gossip {

proto::Update Membership::alive_update(const Member& m) const {
  proto::Update u;
  auto* a = u.mutable_alive();
  a->set_node(to_proto_bytes(m.id));
  a->set_incarnation(m.incarnation);
  to_proto(m.address, *a->mutable_addr());
  a->set_name(m.name);
  a->set_meta(std::string(as_chars(m.meta)));
  a->set_version_min(m.versions.min);
  a->set_version_max(m.versions.max);
  write_nat_fields(m, *a);
  return u;
}

proto::Update Membership::suspect_update(const Member& m, const NodeId& from) const {
  proto::Update u;
  auto* s = u.mutable_suspect();
  s->set_node(to_proto_bytes(m.id));
  s->set_incarnation(m.incarnation);
  s->set_from(to_proto_bytes(from));
  return u;
}

proto::Update Membership::dead_update(const Member& m, const NodeId& from) const {
  proto::Update u;
  auto* d = u.mutable_dead();
  d->set_node(to_proto_bytes(m.id));
  d->set_incarnation(m.incarnation);
  d->set_from(to_proto_bytes(from));
  return u;
}

void Membership::queue_update(const NodeId& about, const proto::Update& update) {
  // Keyed by member: a newer message about a member replaces an older one still queued.
  broadcasts_.push(BroadcastKey{BroadcastKey::Topic::kMember, about}, encode_update(update));
}

void Membership::count_live_version(const Member& m, int delta) {
  uint32_t& n = live_by_max_version_[m.versions.max];
  n = delta > 0 ? n + 1 : n - 1;
  wire_version_stale_ = true;  // a member joined or left the set we write for
}

void Membership::set_state(TimePoint now, Entry& e, MemberState state) {
  if (e.member.state == state) return;
  e.member.state_since = now;
  counted(e.member.state, -1);
  counted(state, +1);
  track_held(static_cast<size_t>(&e - entries_.data()), e.member.state, state);
  const bool was_live = e.member.is_alive_or_suspect();
  e.member.state = state;
  if (&e != &entries_[0] && was_live != e.member.is_alive_or_suspect())
    count_live_version(e.member, was_live ? -1 : +1);
}

void Membership::remove_suspicion(Entry& e) {
  if (!e.suspicion) return;
  suspicion_deadlines_.erase({e.suspicion->deadline(), e.member.id});
  e.suspicion.reset();
}

// `bootstrap`: learned in bulk; apply it but do not gossip it on.
void Membership::on_alive(TimePoint now, const proto::Alive& alive, bool bootstrap) {
  const NodeId id = *node_id_from(alive.node());
  const auto address = from_proto(alive.addr());
  if (!address) return;  // decode() checked it; this keeps the rule local and obvious
  const Bytes meta(alive.meta().begin(), alive.meta().end());
  const VersionRange versions = versions_from(alive.version_min(), alive.version_max());
  Entry* e = find_entry(id);

  if (id == this->id()) {
    // Our own alive coming back to us is normal. A newer or different one means somebody
    // (an earlier life of ours, before a restart) speaks for us: take the name back.
    Member& me = entries_[0].member;
    if (alive.incarnation() < me.incarnation) return;
    // A different range is an earlier life too: the build before an upgrade.
    if (alive.incarnation() == me.incarnation && meta == me.meta && *address == me.address &&
        versions == me.versions)
      return;
    if (!bootstrap && !leaving_) refute(now, alive.incarnation());
    return;
  }

  if (!e) {
    if (entries_.size() >= config_.max_members) return;
    Entry fresh;
    fresh.member.id = id;
    fresh.member.name = alive.name();
    fresh.member.address = *address;
    fresh.member.incarnation = alive.incarnation();
    fresh.member.state_since = now;
    fresh.member.meta = meta;
    fresh.member.versions = versions;
    read_nat_fields(alive, fresh.member);
    fresh.member.path.reach = *address;
    fresh.known_since = now;
    index_.try_emplace(id, static_cast<uint32_t>(entries_.size()));
    counted(fresh.member.state, +1);
    count_live_version(fresh.member, +1);
    entries_.push_back(std::move(fresh));
    relay_candidates_stale_ = true;
    // Slot it into the current probe round at a random place still ahead of us.
    probe_order_.push_back(id);
    const size_t ahead = probe_order_.size() - probe_pos_;
    std::swap(probe_order_.back(), probe_order_[probe_pos_ + rng_.below(ahead)]);
    if (!bootstrap) queue_update(id, alive_update(entries_.back().member));
    // A burst of joins is news for everyone, as a heal's revivals are: gossip alone leaves
    // holes where it reaches members through NATs (note_revival).
    note_revival(now, Revival::kJoin);
    emit(Event::Kind::kJoined, entries_.back().member);
    return;
  }

  Member& m = e->member;
  if (alive.incarnation() <= m.incarnation) return;
  const MemberState before = m.state;
  Member advertised;
  read_nat_fields(alive, advertised);
  const bool moved = m.address != *address || m.candidates != advertised.candidates;
  // Counted before set_state() takes this member out of the suspects. One back at a new
  // address was no loss: its NAT remapped, and others still hold the old address too.
  const bool lone_suspicion = before == MemberState::kSuspect && !moved && suspicion_is_lone();
  const bool changed = m.name != alive.name() || moved || m.meta != meta ||
                       m.relay != advertised.relay || m.symmetric_nat != advertised.symmetric_nat;
  remove_suspicion(*e);
  m.incarnation = alive.incarnation();
  m.name = alive.name();
  m.address = *address;
  m.meta = meta;
  m.candidates = std::move(advertised.candidates);
  if (m.relay != advertised.relay) relay_candidates_stale_ = true;
  m.relay = advertised.relay;
  m.symmetric_nat = advertised.symmetric_nat;
  if (moved) m.path.readvertised(m.address, m.candidates, m.symmetric_nat);
  if (m.versions != versions) {
    const bool live = m.is_alive_or_suspect();  // else set_state below counts it
    if (live) count_live_version(m, -1);
    m.versions = versions;
    if (live) count_live_version(m, +1);
  }
  set_state(now, *e, MemberState::kAlive);
  if (!bootstrap) queue_update(id, alive_update(m));
  if (before != MemberState::kAlive)
    note_revival(now, lone_suspicion ? Revival::kLoneSuspicion : Revival::kReturn);
  if (before != MemberState::kAlive) {
    emit(Event::Kind::kAlive, m);
  } else if (changed) {
    emit(Event::Kind::kUpdated, m);
  }
}

void Membership::on_suspect(TimePoint now, const proto::Suspect& suspect) {
  const NodeId id = *node_id_from(suspect.node());
  const NodeId from = *node_id_from(suspect.from());
  if (id == this->id()) {
    answer_accusation(now, suspect.incarnation());
    return;
  }
  Entry* e = find_entry(id);
  if (!e || suspect.incarnation() < e->member.incarnation) return;  // unknown or stale

  if (e->member.state == MemberState::kSuspect && suspect.incarnation() == e->member.incarnation) {
    // Another member agrees: an independent confirmation shortens the timeout.
    if (!e->suspicion) return;
    const TimePoint before = e->suspicion->deadline();
    if (e->suspicion->confirm(from)) {
      suspicion_deadlines_.erase({before, id});
      suspicion_deadlines_.insert({e->suspicion->deadline(), id});
      queue_update(id, suspect_update(e->member, from));
    }
    return;
  }
  if (!e->member.is_alive_or_suspect()) return;  // dead or left already

  // A suspect at a higher incarnation refuted the suspicion we hold and was accused again:
  // that is a new suspicion with a fresh timeout (SWIM's rule), not a confirmation of the
  // old one (memberlist confirms; the old timer then ends in a death the member had refuted).
  const bool was_suspect = e->member.state == MemberState::kSuspect;
  remove_suspicion(*e);
  if (!was_suspect) stats_.suspicions_started++;
  e->member.incarnation = suspect.incarnation();
  set_state(now, *e, MemberState::kSuspect);
  queue_update(id, suspect_update(e->member, from));

  // Lifeguard: expect k = mult - 2 independent confirmations, so the nominal timeout is hit
  // two probe rounds early; in a cluster too small to give them, expect none.
  const size_t n = entries_.size();
  int k = config_.suspicion_mult - 2;
  if (static_cast<int>(n) - 2 < k) k = 0;
  const Duration min = suspicion_timeout(config_.suspicion_mult, n, config_.probe_interval);
  const Duration max = min * config_.suspicion_max_timeout_mult;
  e->suspicion = std::make_unique<Suspicion>(from, k, min, max, now);
  suspicion_deadlines_.insert({e->suspicion->deadline(), id});
  if (!was_suspect) emit(Event::Kind::kSuspect, e->member);
}

void Membership::on_dead(TimePoint now, const proto::Dead& dead) {
  const NodeId id = *node_id_from(dead.node());
  const NodeId from = *node_id_from(dead.from());
  const bool left = id == from;
  if (id == this->id()) {
    answer_accusation(now, dead.incarnation());
    return;
  }
  Entry* e = find_entry(id);
  if (!e || dead.incarnation() < e->member.incarnation) return;
  const MemberState state = e->member.state;
  // Dead is final at an incarnation, except that a leave explains a death seen earlier.
  if (state == MemberState::kLeft || (state == MemberState::kDead && !left)) return;

  remove_suspicion(*e);
  e->member.incarnation = dead.incarnation();
  set_state(now, *e, left ? MemberState::kLeft : MemberState::kDead);
  queue_update(id, dead_update(e->member, from));
  emit(left ? Event::Kind::kLeft : Event::Kind::kDead, e->member);
}

void Membership::answer_accusation(TimePoint now, uint64_t accused_incarnation) {
  if (leaving_) return;  // our own leave coming back, or a death we no longer dispute
  // Behind NAT, being accused often means our router forgot our mapping (a restart, a
  // conntrack flush): ping our relays now rather than at the next keepalive, so that they
  // reach us again and tell us our new address.
  refresh_soon(now);
  Member& me = entries_[0].member;
  if (accused_incarnation >= me.incarnation) {
    refute(now, accused_incarnation);
    return;
  }
  // Already refuted, yet the accusation still travels: whoever sent it, or holds it, may have
  // missed our refutation. Announce our alive afresh, so it leaves with our next packets
  // (the ack, when the accusation rode on a ping) and is gossiped a full round again.
  stats_.stale_accusations++;
  queue_update(me.id, alive_update(me));
}

void Membership::refute(TimePoint now, uint64_t accused_incarnation) {
  Member& me = entries_[0].member;
  me.incarnation = std::max(me.incarnation, accused_incarnation) + 1;
  me.state_since = now;
  stats_.refutations++;
  // Lifeguard: being accused is a hint that we are the slow one.
  awareness_.apply_delta(1);
  queue_update(me.id, alive_update(me));
}

void Membership::expire_suspicions(TimePoint now) {
  while (!suspicion_deadlines_.empty() && suspicion_deadlines_.begin()->first <= now) {
    const NodeId id = suspicion_deadlines_.begin()->second;
    suspicion_deadlines_.erase(suspicion_deadlines_.begin());
    Entry* e = find_entry(id);
    if (!e || e->member.state != MemberState::kSuspect) continue;
    e->suspicion.reset();  // its deadline was just erased above
    stats_.declared_dead++;
    on_dead(now, dead_update(e->member, this->id()).dead());
  }
}

}  // namespace shoal::gossip
