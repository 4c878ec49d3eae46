// The failure detector: one probe per probe interval over a shuffled round-robin, direct
// ping, then k indirect pings plus a stream ping, then suspicion. Lifeguard's nacks tell a
// prober whether the silence was the target's fault or its own. A suspicion still held at half
// its minimum timeout takes one round-robin slot for a recheck (see docs/gossip.md).
#include <algorithm>

#include "gossip/membership.h"
#include "gossip/wire.h"

namespace shoal::gossip {
namespace {

bool probeable(const Member& m) { return m.is_alive_or_suspect(); }

bool alive_and_reachable(const Member& m, TimePoint, Duration) {
  return m.state == MemberState::kAlive && m.likely_reachable();
}

// How long a helper waits for the target before it nacks. The prober decides when its probe
// round ends, (probe_interval - probe_timeout) after it asked us, so the nack has to be on its
// way well before then. memberlist waits the whole probe timeout: with the LAN profile its nacks
// reach the prober a few milliseconds after it has decided, so every failed probe of a dead
// member counted all its helpers' nacks as missing and raised the prober's health score (2 to 3
// on every survivor after one real failure, measured), slowing the detection of the next one.
// 80 % of the window leaves the way back; an ack from the target is forwarded until then.
Duration nack_delay(const Config& c) {
  return std::min(c.probe_timeout, c.probe_interval - c.probe_timeout) * 4 / 5;
}

}  // namespace

void Membership::start_probe(TimePoint now) {
  next_probe_ = now + awareness_.scale(config_.probe_interval);
  if (leaving_) return;
  Entry* target = suspicion_to_recheck(now);
  if (target) {
    stats_.suspicion_rechecks++;
  } else {
    const Entry* next = next_probe_target(now);
    target = next ? find_entry(next->member.id) : nullptr;
  }
  if (!target) return;

  stats_.probes++;
  probe_ = Probe{target->member.id, ++next_seq_, now + awareness_.scale(config_.probe_timeout),
                 now + awareness_.scale(config_.probe_interval)};
  probe_->stretched = awareness_.score() > 0;
  probe_->incarnation = target->member.incarnation;
  // A suspect hears the accusation with the ping itself, so it can refute in its ack.
  std::vector<Bytes> leading;
  if (target->member.state == MemberState::kSuspect)
    leading.push_back(encode_update(suspect_update(target->member, id())));
  ping_paths(*target, probe_->seq, std::move(leading), doubts(target->member.id));
}

std::vector<Membership::Doubt> Membership::doubts(const NodeId& target) {
  // A member that alone holds another suspect or dead, having missed its refutation, hears
  // nothing that would set it right: gossip's retransmits of the refutation are spent, nobody
  // gossips about a member that is fine, that member probes us once a probe round (minutes
  // in a large cluster), a suspicion is rechecked only once (maybe during the partition),
  // and reconnect() picks a member held dead by one member of n about once in n ticks. So
  // each ping of ours asks about one suspect and one dead member, at random; a target that
  // knows the member alive at a newer incarnation answers in its ack (answer_doubts). A
  // question and not a restated accusation: a doubt never spreads a suspicion or a death.
  std::vector<Doubt> asked;
  auto ask_about = [&](MemberState state) {
    if (const Entry* picked = random_held(state, target))
      asked.push_back({picked->member.id, picked->member.incarnation});
  };
  ask_about(MemberState::kSuspect);
  ask_about(MemberState::kDead);
  stats_.doubts_sent += asked.size();
  return asked;
}

void Membership::ask_doubts(TimePoint now) {
  // Our doubts ride on our probes, for free. But after a partition made our probes fail,
  // Lifeguard stretches them up to 8 times, just when a refutation we missed keeps a member
  // suspect or dead in our view alone. So while our probes are stretched and we hold
  // doubts, a ping of their own goes to a random live member each probe interval.
  //
  // So it does, too, while we hold a suspicion older than two probe intervals: under loss a
  // suspect refutes within a second or so (99.96 % of them in gossip_sim at 25 %), and one
  // still suspect after that may be one whose refutation we missed. Our probes ask about it,
  // but their targets come in round-robin order, and just after a heal many have no working
  // path yet: in homelab-nat at 960 hosts, h910 held a member suspect alone for 6 s after
  // the others had its refutation, while three of the five probes that asked about it went
  // unanswered.
  next_doubts_ = now + config_.probe_interval;
  if (leaving_) return;
  if (awareness_.score() == 0 && !holds_old_suspicion(now)) return;
  if (count(MemberState::kSuspect) + count(MemberState::kDead) == 0) return;
  const auto asked = random_members(1, NodeId(), alive_and_reachable, now);
  if (asked.empty()) return;
  Entry* e = find_entry(asked.front()->member.id);
  stats_.doubt_pings++;
  ping_outside_probe(now, *e, {}, doubts(e->member.id));
}

bool Membership::holds_old_suspicion(TimePoint now) const {
  for (const uint32_t pos : held_[0])  // the suspects
    if (now - entries_[pos].member.state_since >= 2 * config_.probe_interval) return true;
  return false;
}

std::vector<Bytes> Membership::answer_doubts(const proto::Ping& ping) {
  // Two answers settle a doubt: the member's alive at a newer incarnation (it refuted), or
  // its leave. A member that missed a leave's gossip (a leaver gossips one round, and its
  // receivers a few) probes the leaver, fails, and holds it suspect then dead, never left:
  // e2e.agent_cluster saw one of four survivors do so, and no push-pull was due within its
  // 20 s. Its probes' doubts now bring the leave.
  std::vector<Bytes> answers;
  for (const proto::Doubt& doubt : ping.doubts()) {
    const Entry* e = find_entry(*node_id_from(doubt.node()));
    if (!e) continue;
    const Member& m = e->member;
    if (m.state == MemberState::kAlive && m.incarnation > doubt.incarnation()) {
      answers.push_back(encode_update(alive_update(m)));
    } else if (m.state == MemberState::kLeft && m.incarnation >= doubt.incarnation()) {
      answers.push_back(encode_update(dead_update(m, m.id)));
    } else {
      continue;
    }
    stats_.doubts_answered++;
  }
  return answers;
}

void Membership::advance_probe(TimePoint now) {
  if (!probe_) return;
  Entry* target = find_entry(probe_->target);
  if (!target || !probeable(target->member)) {
    probe_.reset();  // it died or left meanwhile: nothing to decide any more
    return;
  }

  if (!probe_->indirect_sent && now >= probe_->ack_deadline) {
    probe_->indirect_sent = true;
    const Member target_member = target->member;
    for (const Entry* helper : helpers_for(now, target_member)) {
      proto::Envelope envelope;
      auto* ping = envelope.mutable_indirect_ping();
      ping->set_seq(probe_->seq);
      ping->set_target(to_proto_bytes(target_member.id));
      to_proto(target_member.path.send_to(), *ping->mutable_target_addr());
      ping->set_want_nack(true);
      if (target_member.state == MemberState::kSuspect)
        ping->set_accused_at(target_member.incarnation);
      send_datagram(helper->member.path.send_to(), envelope);
      stats_.indirect_probes_sent++;
      probe_->expected_nacks++;
      probe_->helpers.push_back(helper->member.id);
    }
    if (config_.stream_fallback_probe) {
      // memberlist's TCP ping: a different path that survives UDP loss and UDP filtering.
      proto::Envelope envelope;
      envelope.mutable_ping()->set_seq(probe_->seq);
      envelope.mutable_ping()->set_target(to_proto_bytes(target_member.id));
      send_stream(target_member.address, std::nullopt, false, envelope);
      stats_.stream_probes_sent++;
    }
  }

  if (now < probe_->round_end) return;
  if (probe_->stretched && !probe_->last_look_sent) {
    // Lifeguard stretches a probe up to 8 times after our probes failed, as they do in a
    // partition: its pings went out seconds ago, maybe before the heal, and the target's
    // answer would come now. Accusing on that old silence raised fresh suspicions for 4 s
    // after ring-of-majorities healed at 300 hosts, each a new epidemic to refute. So one
    // more direct ping, and one unstretched probe timeout for its ack. A dead member is
    // found that much later, and only by a member whose own health is in doubt.
    probe_->last_look_sent = true;
    probe_->round_end = now + config_.probe_timeout;
    stats_.probe_last_looks++;
    ping_paths(*target, probe_->seq, {}, {});
    return;
  }
  // Nobody heard from the target in a whole probe round.
  stats_.probes_failed++;
  // A path that worked and stopped: our NAT may have remapped us.
  if (target->member.path.works()) refresh_soon(now);
  target->member.path.direct_failed(false);
  target->member.path.decided_at = now;
  // Lifeguard: with helpers that nack, only their missing nacks count against our own
  // health (if they could not answer us, the problem is likely on our side).
  const int expected = probe_->expected_nacks;
  awareness_.apply_delta(expected > 0 ? expected - std::min(expected, probe_->nacks) : 1);
  const uint64_t probe_incarnation = probe_->incarnation;
  probe_.reset();
  // A member that never answered us, heard of only lately and not known to be public (a
  // relay), may sit behind a NAT whose way in is not set up yet: its relays may not know
  // it, or we may not know its relays. No accusation until the grace ends. Only a crash in
  // the first seconds after such a member joined is found that much later.
  const bool maybe_behind_nat = !target->member.relay;
  if (!target->answered && maybe_behind_nat && now - target->known_since < config_.join_grace) {
    stats_.probes_in_grace++;
    return;
  }

  // The target spoke up during our probe: its alive at a newer incarnation (a refutation,
  // or a new address) came while we waited, and whatever made our pings fail may be what it
  // answered (its NAT forgot it, and its relays learn its new mapping only after it pings
  // them). An accusation now would name the new incarnation on older evidence: after home
  // c's router restart in homelab-nat (--sim, 480 hosts) 16 members were accused again
  // within a second of refuting, each a second epidemic to refute. The next probe decides.
  if (target->member.incarnation > probe_incarnation) {
    stats_.probes_outrun++;
    return;
  }
  if (target->member.state == MemberState::kAlive) {
    const proto::Update accusation = suspect_update(target->member, id());
    on_suspect(now, accusation.suspect());
    // The suspect hears it first, straight from us, so it can refute before anyone waits.
    proto::Envelope envelope;
    send_datagram(target->member.path.send_to(), envelope, {encode_update(accusation)});
  } else {
    // Already suspect: our failed probe is one more independent confirmation.
    on_suspect(now, suspect_update(target->member, id()).suspect());
  }
}

void Membership::on_ping(TimePoint now, const Endpoint& from, const proto::Envelope& request,
                         std::optional<StreamId> stream) {
  const proto::Ping& ping = request.ping();
  if (ping.target() != to_proto_bytes(id())) {
    stats_.dropped_wrong_target++;  // meant for whoever had this address before us
    return;
  }
  if (Entry* sender = find_entry(*node_id_from(request.sender())); sender && !stream) {
    sender->member.path.set_hint(from);  // worth one try; only an ack of ours proves it
    check_hint(now, *sender, from);
  }
  proto::Envelope envelope;
  envelope.mutable_ack()->set_seq(ping.seq());
  if (delegate_) {
    const Bytes digest = delegate_->state_digest();
    if (digest.size() <= kMaxStateDigestBytes)
      envelope.mutable_ack()->set_state_digest(std::string(as_chars(digest)));
  }
  // Where the ping came from, as we see it: the prober's server-reflexive address.
  if (!stream) to_proto(from, *envelope.mutable_ack()->mutable_observed());
  if (stream) {
    send_stream(from, stream, true, envelope);
    return;
  }
  // A ping relayed by a helper means the prober could not reach us: it may be suspecting us.
  // Our own alive goes first in the ack (the helper passes it on), so a refutation reaches a
  // prober that gossip reaches badly (one behind a symmetric NAT hears only its relays).
  std::vector<Bytes> own_alive;
  if (ping.punch_seq() != 0) own_alive.push_back(encode_update(alive_update(self())));
  std::vector<Bytes> leading = own_alive;
  // The prober holds an older advertisement of ours: a doubt about ourselves.
  if (own_alive.empty() && ping.has_known_incarnation() &&
      ping.known_incarnation() < self().incarnation) {
    stats_.stale_views_answered++;
    leading.push_back(encode_update(alive_update(self())));
  }
  for (Bytes& answer : answer_doubts(ping)) leading.push_back(std::move(answer));
  send_datagram(from, envelope, leading);
  // A helper named the prober and where it may be reached: ack it there too, straight from
  // our socket. The prober sent to us a moment ago, so its NAT lets our ack in, and ours now
  // lets its next probes in: the hole is punched from both ends.
  if (ping.punch_seq() == 0) return;
  for (const proto::Address& a : ping.punch_to()) {
    const auto to = from_proto(a);
    if (!to || *to == from) continue;
    proto::Envelope punch;
    punch.mutable_ack()->set_seq(ping.punch_seq());
    stats_.punch_acks_sent++;
    send_datagram(*to, punch, own_alive);
  }
}

void Membership::on_indirect_ping(TimePoint now, const Endpoint& from,
                                  const proto::Envelope& request) {
  const auto& ask = request.indirect_ping();
  const auto asked = from_proto(ask.target_addr());
  if (!asked) return;
  // Our own view of the target's endpoints (a relay has its hint: where the target's
  // keepalives come from) beats the prober's guess; both are tried.
  std::vector<Endpoint> targets;
  if (const Entry* known = find_entry(*node_id_from(ask.target())))
    targets = probe_endpoints(known->member.path, known->member.address, known->member.candidates);
  if (std::find(targets.begin(), targets.end(), *asked) == targets.end()) targets.push_back(*asked);
  stats_.relayed_probes++;
  const uint32_t seq = ++next_seq_;
  const TimePoint deadline = now + nack_delay(config_);
  relays_[seq] = Relay{ask.seq(), from, ask.want_nack(), deadline, *node_id_from(ask.target())};
  relay_deadlines_.insert({deadline, seq});
  proto::Envelope envelope;
  envelope.mutable_ping()->set_seq(seq);
  envelope.mutable_ping()->set_target(ask.target());
  // The prober's accusation, carried to the target only: its refutation comes back on the
  // ack, which we forward with its alive.
  std::vector<Bytes> accusation;
  if (ask.has_accused_at()) {
    proto::Update u;
    u.mutable_suspect()->set_node(ask.target());
    u.mutable_suspect()->set_incarnation(ask.accused_at());
    u.mutable_suspect()->set_from(request.sender());
    accusation.push_back(encode_update(u));
  }
  {
    // Where the prober may be reached: where its request came from (its reflexive address
    // as we see it), then what it advertises.
    envelope.mutable_ping()->set_punch_seq(ask.seq());
    std::vector<Endpoint> to{from};
    if (const Entry* prober = find_entry(*node_id_from(request.sender()))) {
      for (const Endpoint& e :
           probe_endpoints(prober->member.path, prober->member.address, prober->member.candidates))
        if (std::find(to.begin(), to.end(), e) == to.end()) to.push_back(e);
    }
    for (size_t i = 0; i < to.size() && i < kMaxCandidates; ++i)
      to_proto(to[i], *envelope.mutable_ping()->add_punch_to());
  }
  for (size_t i = 0; i < targets.size(); ++i)
    send_datagram(targets[i], envelope, accusation, /*piggyback=*/i == 0);
}

void Membership::on_ack(TimePoint now, const Endpoint& from, const proto::Envelope& envelope,
                        bool via_stream) {
  const proto::Ack& ack = envelope.ack();
  const uint32_t seq = ack.seq();
  const auto sender = node_id_from(envelope.sender());
  if (seq == 0) return;  // never a seq of ours
  const bool from_target_or_helper =
      probe_ && sender &&
      (*sender == probe_->target ||
       std::find(probe_->helpers.begin(), probe_->helpers.end(), *sender) != probe_->helpers.end());
  if (probe_ && probe_->seq == seq && from_target_or_helper) {
    if (via_stream && probe_->indirect_sent) stats_.probes_rescued_by_stream++;
    awareness_.apply_delta(-1);
    const NodeId target = probe_->target;
    const bool direct = sender == target && !via_stream;
    probe_.reset();
    Entry* e = find_entry(target);
    if (e) e->answered = true;
    if (e && direct) {
      prove_path(now, *e, from, ack);
    } else if (e && !via_stream) {
      // Alive, but only through a helper. The target's punched ack may still come.
      if (e->member.path.works()) refresh_soon(now);
      e->member.path.direct_failed(true);
      e->member.path.decided_at = now;
      expect_path_check(seq, target, now);
      // The target has just sent to us (its punch) from its own socket, so its NAT now lets
      // us in; and the helper's ack told us where it is reached (its alive rode along). Try
      // once more at once, rather than a whole probe round later.
      follow_up_punch(now, *e);
    }
    // Only the probed member itself sets a digest (relays do not), so it summarises the
    // target's state. Sync with the address it gossips, not the ack's source.
    if (e && delegate_ && !leaving_ && !ack.state_digest().empty() &&
        delegate_->wants_sync_after(as_bytes(ack.state_digest())))
      sync_state_with(e->member.address);
    return;
  }
  if (auto check = path_checks_.find(seq); check != path_checks_.end()) {
    // A late direct ack (a punch) or the answer to a mapping refresh: proves a path only.
    Entry* e = find_entry(check->second.target);
    if (e && sender == check->second.target && !via_stream) {
      path_checks_.erase(check);
      prove_path(now, *e, from, ack);
    }
    return;
  }
  auto relay = relays_.find(seq);
  if (relay == relays_.end() || sender != relay->second.target) {
    stats_.dropped_stray_ack++;  // late, duplicated, forged, or matching a seq by chance
    return;
  }
  proto::Envelope forward;
  forward.mutable_ack()->set_seq(relay->second.origin_seq);
  const Endpoint origin = relay->second.origin;
  relay_deadlines_.erase({relay->second.deadline, seq});
  relays_.erase(relay);
  // The target's alive as we now know it (its ack led with it): the prober may suspect it.
  std::vector<Bytes> target_alive;
  if (const Entry* target = sender ? find_entry(*sender) : nullptr;
      target && target->member.state == MemberState::kAlive)
    target_alive.push_back(encode_update(alive_update(target->member)));
  send_datagram(origin, forward, target_alive);
}

void Membership::on_nack(const proto::Envelope& envelope) {
  const auto sender = node_id_from(envelope.sender());
  if (probe_ && probe_->seq == envelope.nack().seq() && sender &&
      std::find(probe_->helpers.begin(), probe_->helpers.end(), *sender) != probe_->helpers.end()) {
    stats_.nacks_received++;
    probe_->nacks++;
  } else {
    stats_.dropped_stray_ack++;
  }
}

void Membership::expire_relays(TimePoint now) {
  while (!relay_deadlines_.empty() && relay_deadlines_.begin()->first <= now) {
    const uint32_t seq = relay_deadlines_.begin()->second;
    relay_deadlines_.erase(relay_deadlines_.begin());
    auto relay = relays_.find(seq);
    if (relay == relays_.end()) continue;
    if (relay->second.want_nack) {
      // Lifeguard: tell the prober we are alive and tried, but the target stayed silent.
      proto::Envelope envelope;
      envelope.mutable_nack()->set_seq(relay->second.origin_seq);
      const Endpoint origin = relay->second.origin;
      relays_.erase(relay);
      send_datagram(origin, envelope);
    } else {
      relays_.erase(relay);
    }
  }
}

void Membership::remind_suspects(TimePoint now) {
  // Each member still suspected at half the minimum timeout gets the accusation again every
  // other probe interval: a lone suspicion (nobody confirms it) lasts up to its maximum,
  // a minute at 300 members, and is all that is left to repair after a heal. After a cut
  // shorter than the minimum timeout, nobody died: every suspect of the other side must
  // hear its accusation, whose gossip spent its retransmits while the cut lasted.
  constexpr int kReminderPeriod = 2;
  // Not in a probe slot: Lifeguard stretches those up to 8 times after a partition made our
  // probes fail, and a reminder accuses nobody new.
  for (const auto& [deadline, suspect] : suspicion_deadlines_) {
    Entry* e = find_entry(suspect);
    if (!e || !e->suspicion ||
        !e->suspicion->take_reminder(now, kReminderPeriod * config_.probe_interval))
      continue;
    stats_.suspicion_reminders++;
    // A ping, so that the answer comes straight back: a member that already refuted treats
    // the accusation as stale and puts its alive on the ack, where gossip would bring its
    // old news to us only by chance (the others have it, so they do not pass it on).
    ping_outside_probe(now, *e, {encode_update(suspect_update(e->member, id()))});
    // Behind a NAT with no way in of our own (a symmetric NAT, or ours drops what it did not
    // ask for), our reminders never reach it: a suspicion raised in a partition outlived the
    // heal by 12 s in homelab-nat's short form.
    if (!e->member.takes_streams() && !e->member.path.works()) accuse_through_relay(now, *e);
  }
}

bool Membership::accuse_through_relay(TimePoint now, const Entry& e) {
  // One of its relays reaches it, so we ask that relay to ping it with our accusation (at
  // the incarnation we hold it suspect or dead); its refutation comes back on the forwarded
  // ack. (Handing the relay the accusation as gossip also worked, but the relay took the
  // suspicion up and spread it: 5 false deaths in homelab-nat at 960 hosts.)
  for (const NodeId& r : relays_for(e.member.id)) {
    const Entry* relay = find_entry(r);
    if (!relay || relay == &entries_[0] || !relay->member.likely_reachable()) continue;
    proto::Envelope envelope;
    auto* ask = envelope.mutable_indirect_ping();
    ask->set_seq(++next_seq_);
    // The target's own ack to us (the relay asks it to punch) proves a path, as a path
    // check's does; the relay's forwarded one only brings the refutation.
    expect_path_check(ask->seq(), e.member.id, now);
    ask->set_target(to_proto_bytes(e.member.id));
    to_proto(e.member.path.send_to(), *ask->mutable_target_addr());
    ask->set_accused_at(e.member.incarnation);
    send_datagram(relay->member.path.send_to(), envelope);
    stats_.accusations_through_relays++;
    return true;
  }
  return false;
}

void Membership::check_hint(TimePoint now, Entry& sender, const Endpoint& from) {
  // A member whose path from us works pings us from another endpoint: its NAT has remapped
  // it (a router restart). What we send it (gossip, and the pings we forward when others
  // ask us to reach it, as they ask the relays of a member behind a symmetric NAT) still
  // goes to the forgotten mapping until a probe of ours fails there, once per probe round,
  // minutes away in a large cluster: at 300 hosts homelab-nat's symmetric site never agreed
  // after its router restarted. So one ping of ours to the new endpoint; its ack proves it.
  Path& path = sender.member.path;
  if (!path.proven || from == path.reach || leaving_) return;
  if (path.hint_checked_at != kTimeNever && now - path.hint_checked_at < config_.probe_interval)
    return;
  path.hint_checked_at = now;
  stats_.hint_checks++;
  const uint32_t seq = ++next_seq_;
  expect_path_check(seq, sender.member.id, now);
  proto::Envelope envelope;
  envelope.mutable_ping()->set_seq(seq);
  envelope.mutable_ping()->set_target(to_proto_bytes(sender.member.id));
  send_datagram(from, envelope);
}

Membership::Entry* Membership::suspicion_to_recheck(TimePoint now) {
  // Each suspicion is rechecked once, in place of one round-robin probe (the round goes on
  // where it was). In a loss storm most suspicions are refuted before their recheck time, so
  // this costs few probes; a real failure costs one extra probe per member, whose failure
  // also confirms the suspicion.
  for (const auto& [deadline, id] : suspicion_deadlines_) {
    Entry* e = find_entry(id);
    if (e && e->suspicion && e->suspicion->take_recheck(now)) return e;
  }
  return nullptr;
}

const Membership::Entry* Membership::next_probe_target(TimePoint now) {
  // Each candidate is looked at most once per round, and a round restarts at most once.
  for (int round = 0; round < 2; ++round) {
    while (probe_pos_ < probe_order_.size()) {
      const Entry* e = find_entry(probe_order_[probe_pos_++]);
      if (e && probeable(e->member)) return e;
    }
    reap_and_reshuffle(now);
  }
  return nullptr;
}

void Membership::reap_and_reshuffle(TimePoint now) {
  // Forget members dead or gone for longer than dead_reap_after (never ourselves: index 0).
  for (size_t i = entries_.size(); i-- > 1;) {
    Member& m = entries_[i].member;
    if (m.is_alive_or_suspect() || now - m.state_since < config_.dead_reap_after) continue;
    emit(Event::Kind::kReaped, m);
    counted(m.state, -1);
    track_held(i, m.state, MemberState::kAlive);  // out of held_ (alive: no list)
    relay_candidates_stale_ = true;
    index_.erase(m.id);
    if (i != entries_.size() - 1) {
      entries_[i] = std::move(entries_.back());
      index_.insert_or_assign(entries_[i].member.id, static_cast<uint32_t>(i));
      if (const MemberState moved = entries_[i].member.state; moved != MemberState::kAlive) {
        track_held(entries_.size() - 1, moved, MemberState::kAlive);
        track_held(i, MemberState::kAlive, moved);
      }
    }
    entries_.pop_back();
  }
  probe_order_.clear();
  for (size_t i = 1; i < entries_.size(); ++i) probe_order_.push_back(entries_[i].member.id);
  rng_.shuffle(probe_order_);
  probe_pos_ = 0;
}

}  // namespace shoal::gossip
