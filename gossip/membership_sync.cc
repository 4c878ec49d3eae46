// Dissemination and anti-entropy: gossip rounds that carry queued updates to a few random
// members, push-pull exchanges of the whole member list over a stream (which also carries
// the state delegate's data), joins, reconnects to dead members, and leaving.
#include <algorithm>

#include "gossip/membership.h"
#include "gossip/wire.h"

namespace shoal::gossip {
namespace {

// Push-pulls a member makes in one burst of revivals or joins (a heal, a cluster starting),
// and for joins one more after it settles: bounds what a flapping partition can cost.
constexpr size_t kMaxHealSyncs = 10;

// How often a member push-pulls while a burst of revivals lasts. A member that pulls from a
// random one learns what it knows, so the share of members still missing a revival squares
// each round: four or five rounds at 1,000 members. Half a probe interval puts them inside
// the 5 s a heal may take; kMaxHealSyncs bounds the cost all the same.
Duration heal_round(const Config& c) { return c.probe_interval / 2; }

// Gossip reaches live members, and dead ones for a while so they can hear and refute.
bool gossip_target(const Member& m, TimePoint now, Duration dead_window) {
  return m.is_alive_or_suspect() || now - m.state_since < dead_window;
}

bool reachable_gossip_target(const Member& m, TimePoint now, Duration dead_window) {
  return gossip_target(m, now, dead_window) && m.likely_reachable();
}

bool alive(const Member& m, TimePoint, Duration) { return m.state == MemberState::kAlive; }

bool alive_relay(const Member& m, TimePoint, Duration) {
  return m.state == MemberState::kAlive && m.relay;
}

proto::MemberStatus to_proto(MemberState s) {
  switch (s) {
    case MemberState::kAlive:
      return proto::MEMBER_STATUS_ALIVE;
    case MemberState::kSuspect:
      return proto::MEMBER_STATUS_SUSPECT;
    case MemberState::kDead:
      return proto::MEMBER_STATUS_DEAD;
    case MemberState::kLeft:
      return proto::MEMBER_STATUS_LEFT;
  }
  return proto::MEMBER_STATUS_UNSPECIFIED;
}

}  // namespace

void Membership::gossip(TimePoint now) {
  auto nothing_queued = [this] { return broadcasts_.empty() && user_broadcasts_.empty(); };
  if (nothing_queued()) return;
  // Where datagrams are likely to arrive first; others only to make up the fanout.
  auto targets = random_members(config_.gossip_nodes, NodeId(), reachable_gossip_target, now);
  if (targets.size() < static_cast<size_t>(config_.gossip_nodes)) {
    for (const Entry* e : random_members(config_.gossip_nodes, NodeId(), gossip_target, now))
      if (targets.size() < static_cast<size_t>(config_.gossip_nodes) &&
          std::find(targets.begin(), targets.end(), e) == targets.end())
        targets.push_back(e);
  }
  for (const Entry* e : targets) {
    if (nothing_queued()) break;
    proto::Envelope envelope;  // no body: the updates are the message
    send_datagram(e->member.path.send_to(), envelope);
  }
  if (leaving_) leave_gossiped_ = true;
}

void Membership::write_local_members(TimePoint now, proto::PushPull& state) const {
  // While an update is still being gossiped, and as long again: members that joined before
  // it hear it only from gossip, so the more members pass it on, the surer all hear it.
  const Duration recent_window =
      2 * retransmit_limit(config_.retransmit_mult, entries_.size()) * config_.gossip_interval;
  state.mutable_members()->Reserve(static_cast<int>(entries_.size()));
  for (const Entry& e : entries_) {
    auto* m = state.add_members();
    m->set_recent(now - e.member.state_since < recent_window);
    // (Set from the bytes themselves: a temporary std::string would be one more malloc per
    // member, and 16-byte ids do not fit its small-string buffer.)
    m->set_node(e.member.id.view().data(), e.member.id.view().size());
    m->set_name(e.member.name);
    gossip::to_proto(e.member.address, *m->mutable_addr());
    m->set_incarnation(e.member.incarnation);
    m->set_status(to_proto(e.member.state));
    write_nat_fields(e.member, *m);
    m->set_meta(e.member.meta.data(), e.member.meta.size());
    m->set_version_min(e.member.versions.min);
    m->set_version_max(e.member.versions.max);
  }
}

void Membership::push_pull(TimePoint now, const Endpoint& to, bool join) {
  stats_.push_pulls_started++;
  google::protobuf::Arena arena;  // thousands of strings, freed at once (see on_push_pull)
  auto& envelope = *google::protobuf::Arena::CreateMessage<proto::Envelope>(&arena);
  auto* state = envelope.mutable_push_pull();
  state->set_join(join);
  write_local_members(now, *state);
  if (delegate_) state->set_user_state(std::string(as_chars(delegate_->local_state(join))));
  send_stream(to, std::nullopt, false, envelope);
}

void Membership::sync_state(TimePoint now) {
  if (leaving_ || !delegate_) return;
  auto peers = random_members(1, NodeId(), alive, now);
  if (peers.empty()) return;
  sync_state_with(peers.front()->member.address);
}

void Membership::sync_state_with(const Endpoint& peer) {
  stats_.state_syncs_started++;
  proto::Envelope envelope;
  auto* state = envelope.mutable_push_pull();
  state->set_state_only(true);
  state->set_user_state(std::string(as_chars(delegate_->local_state(false))));
  send_stream(peer, std::nullopt, false, envelope);
}

void Membership::on_push_pull(TimePoint now, const Endpoint& from, const proto::Envelope& envelope,
                              std::optional<StreamId> stream) {
  if (!stream) return;  // handle_packet refuses these before they get here
  const proto::PushPull& remote = envelope.push_pull();
  constexpr uint32_t kMaxRounds = 16;  // a peer cannot keep us talking forever
  if (remote.round() > kMaxRounds) {
    stats_.dropped_invalid++;
    return;
  }
  if (remote.round() == 0) stats_.push_pulls_received++;
  // Merge first, answer second: if the peer believed us dead, our answer already carries
  // the refutation.
  if (remote.round() <= 1) merge_remote_members(now, *node_id_from(envelope.sender()), remote);
  std::optional<Bytes> user;
  if (delegate_)
    user =
        delegate_->merge_remote_state(as_bytes(remote.user_state()), remote.join(), remote.round());
  if (remote.round() == 0 && (user || !remote.state_only())) {
    // The opening of a full push-pull always gets an answer: it carries our member list.
    // On an arena, which frees its thousands of strings at once: built on the heap, at 2,000
    // members and 25 % loss (heal push-pulls every half second) malloc took 62 % of the
    // simulator's time, most of it walking a fragmented heap (gossip_sim).
    google::protobuf::Arena arena;
    auto& answer = *google::protobuf::Arena::CreateMessage<proto::Envelope>(&arena);
    auto* state = answer.mutable_push_pull();
    state->set_reply(true);
    state->set_join(remote.join());
    state->set_round(1);
    state->set_state_only(remote.state_only());
    if (!remote.state_only()) write_local_members(now, *state);
    if (user) state->set_user_state(std::string(as_chars(*user)));
    send_stream(from, stream, /*close=*/!user, answer);
  } else if (user) {
    proto::Envelope next;
    auto* state = next.mutable_push_pull();
    state->set_reply(true);
    state->set_join(remote.join());
    state->set_round(remote.round() + 1);
    state->set_user_state(std::string(as_chars(*user)));
    send_stream(from, stream, /*close=*/false, next);
  } else {
    transmits_.push_back(Transmit{Transmit::Kind::kStream, from, stream, true, {}});
  }
}

void Membership::merge_remote_members(TimePoint now, const NodeId& sender,
                                      const proto::PushPull& state) {
  for (const proto::MemberState& m : state.members()) {
    // Most of a list is news to nobody: skip what cannot change anything without building
    // a message for it. Stale entries never change a member, and an alive at the
    // incarnation we hold changes nobody but ourselves (a refutation).
    if (const Entry* e = find_entry(*node_id_from(m.node()))) {
      if (m.incarnation() < e->member.incarnation) continue;
      if (m.incarnation() == e->member.incarnation && m.status() == proto::MEMBER_STATUS_ALIVE &&
          e != &entries_[0])
        continue;
    }
    switch (m.status()) {
      case proto::MEMBER_STATUS_ALIVE: {
        proto::Alive alive;
        alive.set_node(m.node());
        alive.set_incarnation(m.incarnation());
        *alive.mutable_addr() = m.addr();
        alive.set_name(m.name());
        alive.set_meta(m.meta());
        alive.set_version_min(m.version_min());
        alive.set_version_max(m.version_max());
        *alive.mutable_candidates() = m.candidates();
        alive.set_relay(m.relay());
        alive.set_symmetric_nat(m.symmetric_nat());
        // A joiner re-gossips only what its seed's answer marks recent (and the seed
        // itself): the rest is old news to everyone, and N joiners re-gossiping N members
        // each is memberlist's N^2 join storm. Recent members are news to those who joined
        // just before us, which learn of them only through gossip. Other merges re-gossip
        // whatever is new to us.
        const bool join_answer = state.reply() && state.join();
        on_alive(now, alive,
                 /*bootstrap=*/join_answer && !m.recent() && m.node() != to_proto_bytes(sender));
        break;
      }
      case proto::MEMBER_STATUS_LEFT: {
        proto::Dead dead;
        dead.set_node(m.node());
        dead.set_incarnation(m.incarnation());
        dead.set_from(m.node());
        on_dead(now, dead);
        break;
      }
      case proto::MEMBER_STATUS_SUSPECT:
      case proto::MEMBER_STATUS_DEAD: {
        // Like memberlist, a remote death only makes us suspect: the member gets a chance
        // to refute, and a stale list cannot kill a live member outright.
        proto::Suspect suspect;
        suspect.set_node(m.node());
        suspect.set_incarnation(m.incarnation());
        suspect.set_from(to_proto_bytes(sender));
        on_suspect(now, suspect);
        break;
      }
      default:
        break;
    }
  }
}

void Membership::periodic_push_pull(TimePoint now) {
  if (leaving_) return;
  // Behind NAT nobody outside can open a stream to us, nor we to others behind theirs: our
  // anti-entropy goes through a relay, which everybody reaches, or a seed while we know no
  // relay (a whole site that missed the relays' news would otherwise only ever sync with
  // itself: every other NATed member's address leads back into its own LAN).
  std::vector<const Entry*> peers;
  if (reflexive_.behind_nat(now)) {
    peers = random_members(1, NodeId(), alive_relay, now);
    if (peers.empty() && !seeds_.empty()) {
      push_pull(now, seeds_[rng_.below(seeds_.size())], false);
      return;
    }
  }
  if (peers.empty()) peers = random_members(1, NodeId(), alive, now);
  if (!peers.empty()) {
    push_pull(now, peers.front()->member.address, false);
  } else if (!seeds_.empty()) {
    // Alone: keep knocking on the seeds' doors (a restart, or everyone else reaped).
    push_pull(now, seeds_[rng_.below(seeds_.size())], true);
  }
}

void Membership::reconnect(TimePoint now) {
  if (leaving_) return;
  // serf's reconnect: push-pull with a dead member. If it is back (the other side of a
  // healed partition), the exchange makes both sides suspect, refute and see each other
  // again. The rate is set for the cluster, not per member, and it never backs off: the
  // time to find a heal must not grow with the partition's length (a per-member backoff
  // to 30 s once made 10 hosts take 15 s to agree after a 2-minute cut).
  //
  // Each of the `up` members that believe `dead` members dead tries one of them this tick
  // with probability min(dead, reconnects_per_tick) / up, so each tick the cluster makes
  // about that many tries, spread over the dead at random: a member dead for good costs
  // the whole cluster about one connection attempt per tick, wherever it is counted
  // from; one member alone against a dead majority tries one each tick; nobody dead costs
  // nothing. (Every member counts from its own view, so the sum is approximate.)
  const size_t dead = count(MemberState::kDead);
  if (dead == 0) return;
  const size_t up = count(MemberState::kAlive) + count(MemberState::kSuspect);
  const size_t tries = std::min(dead, static_cast<size_t>(config_.reconnects_per_tick));
  if (up > tries && rng_.below(up) >= tries) return;
  const Entry* picked = random_held(MemberState::kDead, NodeId());
  if (!picked) return;
  stats_.reconnect_attempts++;
  if (picked->member.takes_streams()) {
    push_pull(now, picked->member.address, false);
  } else {
    // Behind NAT it takes no stream from us (and its address leads into our own LAN). Ask
    // one of its relays to tell it we hold it dead: it refutes if it is back, and the
    // relay's forwarded ack brings the refutation, or the newer alive the relay already
    // has if we missed it. A push-pull with a relay brought only the latter: a member held
    // dead by us alone (it never heard so) stayed dead 12 s after homelab-nat's cut.
    // Without a relay in reach, a push-pull with any live member.
    Entry* e = find_entry(picked->member.id);
    if (!accuse_through_relay(now, *e)) periodic_push_pull(now);
  }
}

bool Membership::suspicion_is_lone() const {
  // Under loss, suspicions are scattered and refuted within a second or so: at 25 % loss
  // at most 9 members of 1,000, and 10 of 2,000, were suspect at once to any member
  // (gossip_sim). A cut or a NAT router's restart makes many suspect together: 84 of 480
  // within 3.5 s when home c's router restarted (homelab-nat). 16 lies between, and a
  // smaller cluster's own size sets the bar lower: below 64 members every suspicion
  // counts, where a push-pull costs little.
  const size_t wide = std::clamp<size_t>(entries_.size() / 32, 1, 16);
  return count(MemberState::kSuspect) < wide;
}

void Membership::note_revival(TimePoint now, Revival why) {
  // After a heal, hundreds of refutations must reach hundreds of members. Gossip carries a
  // few per packet and retransmits each only a few times, so it alone takes tens of
  // seconds at 1,000 members and misses some; the next push-pull is minutes away. A
  // revival is a member we held dead or suspect coming back alive: after a cut shorter
  // than the suspicion timeout nobody died, and the refutations of suspects are the whole
  // heal (flapping-link at 1,000 hosts agreed 8.2 s after each 10 s cut when only deaths
  // counted, 4.2 s since). So in a burst of revivals (three or more, a few probe intervals
  // apart at most: a heal, not a restart) each member that sees it push-pulls with a
  // random member every probe interval while revivals keep coming, and once more after
  // they stopped: pairwise exchanges of whole member lists spread the heal in log(n)
  // rounds. At most kMaxHealSyncs per burst; restarts one at a time cost nothing.
  //
  // In a cluster of fewer than 12, two revivals make a burst: a site of two hosts coming
  // back is a heal there, and with three the hosts on either side of such a cut never saw
  // one. Their only way to tell the members they held dead was then reconnect()'s draw,
  // and the short homelab-nat (8 hosts) took 10-12 s to agree after its cut on 2 seeds of
  // 192. A push-pull costs little in a cluster that small.
  //
  // Under loss, members see a steady trickle of refuted suspicions, six a second among
  // 1,000 at 25 % loss. Counted as revivals they made every member spend a whole burst
  // (kMaxHealSyncs whole-list push-pulls) in each spell of loss, on top of the loss
  // (gossip_sim's push_pulls_per_member_min). So a lone suspicion (suspicion_is_lone)
  // does not start a burst. A suspect back at a new address is never lone: a NAT router
  // in front of many restarted, and their new addresses are the news a burst spreads (home
  // a's restart in homelab-nat at 480 hosts agreed 7.5-9.5 s after it without that rule,
  // 3.2-4.0 s with it). Once a burst runs, every revival counts: the last refutations of a
  // heal are lone by then, and they are still news of it.
  const size_t burst = std::clamp<size_t>(entries_.size() / 4, 2, 3);
  // Revivals so far that are at most five probe intervals apart: one burst.
  const bool in_burst = revivals_ > 0 && now - last_revival_ <= 5 * config_.probe_interval;
  if (why == Revival::kLoneSuspicion && !(in_burst && revivals_ >= burst)) return;
  if (!in_burst) {
    revivals_ = 0;
    heal_syncs_in_burst_ = 0;
    joins_in_burst_ = false;
  }
  joins_in_burst_ |= why == Revival::kJoin;
  ++revivals_;
  last_revival_ = now;
  revived_since_heal_sync_ = true;
  if (revivals_ < burst) return;
  if (heal_syncs_in_burst_ < kMaxHealSyncs) {
    if (heal_sync_at_ == kTimeNever) heal_sync_at_ = now + heal_round(config_);
  } else if (heal_syncs_in_burst_ == kMaxHealSyncs && joins_in_burst_) {
    // Out of rounds while members still join (a cluster of 1,000 starting over 10 s): one
    // more, two probe intervals after the burst's last news, brings those that came after.
    // Members behind NAT need it most: gossip reaches them through few doors, and nothing
    // else asks about a member never heard of. Not after a heal, whose revivals are of
    // members we know (probes and doubts ask about them): there a late push-pull brought
    // back suspicions that had just been refuted (homelab-nat at 480 hosts, 3 seeds).
    heal_sync_at_ = now + 2 * config_.probe_interval;
  }
}

void Membership::heal_sync(TimePoint now) {
  stats_.heal_syncs++;
  ++heal_syncs_in_burst_;
  periodic_push_pull(now);
  // A round that brought no revival means the heal has reached us: the burst is over.
  const bool more = revived_since_heal_sync_ && heal_syncs_in_burst_ < kMaxHealSyncs;
  revived_since_heal_sync_ = false;
  heal_sync_at_ = more ? now + heal_round(config_) : kTimeNever;
}

void Membership::join(TimePoint now, std::vector<Endpoint> seeds) {
  seeds_ = std::move(seeds);
  for (const Endpoint& seed : seeds_)
    if (seed != self().address) push_pull(now, seed, true);
  // One early anti-entropy round with a random member: it brings whatever joined at the
  // same time as us, which neither the seed's answer nor (yet) gossip carried.
  next_push_pull_ = std::min(next_push_pull_, now + 2 * config_.probe_interval);
}

void Membership::leave(TimePoint now) {
  if (leaving_) return;
  leaving_ = true;
  probe_.reset();
  Member& me = entries_[0].member;
  counted(me.state, -1);
  counted(MemberState::kLeft, +1);
  me.state = MemberState::kLeft;
  me.state_since = now;
  queue_update(me.id, dead_update(me, me.id));
  gossip(now);  // tell a few members right away rather than at the next gossip tick
}

}  // namespace shoal::gossip
