// Membership: construction, input dispatch, output queues and the plumbing shared by the
// state rules (membership_state.cc), the failure detector (membership_probe.cc) and
// dissemination (membership_sync.cc).
#include "gossip/membership.h"

#include <google/protobuf/arena.h>

#include <algorithm>
#include <cassert>

#include "common/take_front.h"
#include "gossip/wire.h"

namespace shoal::gossip {

std::string_view to_string(MemberState s) {
  switch (s) {
    case MemberState::kAlive:
      return "alive";
    case MemberState::kSuspect:
      return "suspect";
    case MemberState::kDead:
      return "dead";
    case MemberState::kLeft:
      return "left";
  }
  return "?";
}

std::string_view to_string(Event::Kind k) {
  switch (k) {
    case Event::Kind::kJoined:
      return "joined";
    case Event::Kind::kUpdated:
      return "updated";
    case Event::Kind::kSuspect:
      return "suspect";
    case Event::Kind::kAlive:
      return "alive";
    case Event::Kind::kDead:
      return "dead";
    case Event::Kind::kLeft:
      return "left";
    case Event::Kind::kReaped:
      return "reaped";
    case Event::Kind::kUserMessage:
      return "user_message";
  }
  return "?";
}

Membership::Membership(Config config, LocalNode self, uint64_t seed, TimePoint now)
    : config_(std::move(config)),
      rng_(seed),
      awareness_(config_.awareness_max_multiplier),
      reflexive_(self.address),
      public_address_(self.public_address),
      relay_allowed_(self.relay_allowed) {
  assert(config_.validate().empty());
  Entry me;
  me.member.id = self.id;
  me.member.name = std::move(self.name);
  me.member.address = self.address;
  me.member.incarnation = self.incarnation;
  me.member.state_since = now;
  me.member.meta = std::move(self.meta);
  me.member.versions = config_.wire_versions;
  if (public_address_) me.member.candidates.push_back(*public_address_);
  me.member.path.reach = me.member.address;
  index_.try_emplace(me.member.id, 0);
  counted(me.member.state, +1);
  entries_.push_back(std::move(me));
  // Spread the first timers over one interval so that members started together do not
  // probe and gossip in lockstep.
  next_probe_ = now + Duration(rng_.below(config_.probe_interval.count()) + 1);
  next_gossip_ = now + Duration(rng_.below(config_.gossip_interval.count()) + 1);
  next_push_pull_ = now + config_.push_pull_interval;
  next_reconnect_ = now + Duration(rng_.below(config_.reconnect_interval.count()) + 1);
  next_refresh_ = next_probe_ + config_.probe_interval;
  queue_update(self.id, alive_update(entries_[0].member));
}

Membership::~Membership() = default;

// --- input -------------------------------------------------------------------------------

namespace {

// Parses `bytes` on an arena whose first block is on the stack, so a message costs (almost)
// no allocation, and hands the envelope to `use` if it decoded; else returns the error.
template <typename Use>
Result<void, DropReason> with_envelope(ByteView bytes, const DecodeLimits& limits, Use&& use) {
  alignas(16) char block[8192];
  google::protobuf::ArenaOptions options;
  options.initial_block = block;
  options.initial_block_size = sizeof(block);
  google::protobuf::Arena arena(options);
  auto& envelope = *google::protobuf::Arena::CreateMessage<proto::Envelope>(&arena);
  auto decoded = decode(bytes, limits, envelope);
  if (!decoded) return decoded;
  use(envelope);
  return {};
}

}  // namespace

void Membership::handle_packet(TimePoint now, const Endpoint& from, ByteView packet) {
  stats_.packets_in++;
  stats_.bytes_in += packet.size();
  // A datagram may be a little larger than our own budget (a peer configured differently),
  // but never larger than UDP allows.
  const DecodeLimits limits{65507, config_.max_meta_bytes, config_.max_name_bytes, 0,
                            config_.wire_versions};
  auto decoded = with_envelope(packet, limits, [&](const proto::Envelope& envelope) {
    if (packet[0] > config_.wire_versions.max) stats_.newer_version_in++;
    if (envelope.body_case() == proto::Envelope::kPushPull) {
      stats_.dropped_invalid++;  // push-pull travels on streams only
      return;
    }
    handle_envelope(now, from, envelope, std::nullopt);
  });
  if (!decoded) count_drop(static_cast<int>(decoded.error()));
}

void Membership::handle_stream(TimePoint now, const Endpoint& from, StreamId stream,
                               ByteView message) {
  stats_.streams_in++;
  stats_.stream_bytes_in += message.size();
  const DecodeLimits limits{config_.max_stream_bytes, config_.max_meta_bytes,
                            config_.max_name_bytes, config_.max_members, config_.wire_versions};
  auto decoded = with_envelope(message, limits, [&](const proto::Envelope& envelope) {
    if (message[0] > config_.wire_versions.max) stats_.newer_version_in++;
    handle_envelope(now, from, envelope, stream);
  });
  if (!decoded) count_drop(static_cast<int>(decoded.error()));
}

void Membership::handle_envelope(TimePoint now, const Endpoint& from,
                                 const proto::Envelope& envelope, std::optional<StreamId> stream) {
  if (!stream) {
    Entry* sender = find_entry(*node_id_from(envelope.sender()));
    // Only what comes unasked: an ack to our own ping comes back through the mapping that
    // ping just made, so it says nothing about the mappings others send to. After a router
    // restart our probes kept being acked while the relays that reach a member behind a
    // symmetric NAT still sent to the forgotten mapping, and nothing asked us to refresh
    // them before the keepalive interval (24 s to agree after homelab-nat's second reset at
    // 300 hosts).
    // Behind a symmetric NAT, each member we pinged lately holds a mapping made for it alone
    // and may send on it, new after a restart as well: only our relays' packets show that the
    // way everyone else reaches us (through them) still works. (After home c's restart in
    // homelab-nat, --sim at 480 hosts, a member heard a non-relay 1.8 s later, so its
    // silence rule waited, and it was accused only 4 s after the restart, refuting last.)
    const bool answer = envelope.has_ack() || envelope.has_nack();
    const bool through_our_way_in =
        sender && (!reflexive_.symmetric() || std::find(own_relays_.begin(), own_relays_.end(),
                                                        sender->member.id) != own_relays_.end());
    if (through_our_way_in && !answer && sender->member.path.sees_us_at &&
        *sender->member.path.sees_us_at != self().address)
      last_outside_in_ = now;
    // A member we hold dead sent us a packet: the others see it alive, and we missed its
    // refutation (gossip's retransmits are few), so anti-entropy would fix our view only at
    // the next push-pull, a minute away in a large cluster, and reconnect() rarely picks a
    // member that only we hold dead. Sync with it now, at most once per few probe rounds:
    // the exchange brings its newer incarnation, or shows it its death so it refutes. Behind
    // NAT it takes no stream; but its packet came from an endpoint that reaches it now, so
    // we tell it there that we hold it dead, and it refutes.
    if (sender && sender->member.state == MemberState::kDead && now >= sender->revive_sync_after &&
        !leaving_) {
      sender->revive_sync_after = now + 5 * config_.probe_interval;
      stats_.revive_syncs++;
      if (sender->member.takes_streams()) {
        push_pull(now, sender->member.address, false);
      } else {
        proto::Envelope accusation;  // no body: the update is the message
        send_datagram(from, accusation, {encode_update(dead_update(sender->member, id()))},
                      /*piggyback=*/false);
      }
    }
  }
  // Updates first: a suspect message that rides on a ping must be refuted in the ack.
  handle_updates(now, envelope);
  switch (envelope.body_case()) {
    case proto::Envelope::kPing:
      on_ping(now, from, envelope, stream);
      break;
    case proto::Envelope::kIndirectPing:
      on_indirect_ping(now, from, envelope);
      break;
    case proto::Envelope::kAck:
      on_ack(now, from, envelope, stream.has_value());
      break;
    case proto::Envelope::kNack:
      on_nack(envelope);
      break;
    case proto::Envelope::kPushPull:
      on_push_pull(now, from, envelope, stream);
      break;
    case proto::Envelope::BODY_NOT_SET:
      break;
  }
}

void Membership::handle_updates(TimePoint now, const proto::Envelope& envelope) {
  for (const proto::Update& update : envelope.updates()) {
    stats_.updates_received++;
    switch (update.kind_case()) {
      case proto::Update::kAlive:
        on_alive(now, update.alive(), false);
        break;
      case proto::Update::kSuspect:
        on_suspect(now, update.suspect());
        break;
      case proto::Update::kDead:
        on_dead(now, update.dead());
        break;
      case proto::Update::kUser: {
        stats_.user_messages_received++;
        const auto& data = update.user().data();
        const Entry* sender = find_entry(*node_id_from(envelope.sender()));
        Member who = sender ? sender->member : Member{};
        if (!sender) who.id = *node_id_from(envelope.sender());
        emit(Event::Kind::kUserMessage, who, Bytes(data.begin(), data.end()));
        break;
      }
      case proto::Update::KIND_NOT_SET:
        break;
    }
  }
}

void Membership::count_drop(int reason) {
  switch (static_cast<DropReason>(reason)) {
    case DropReason::kEmpty:
      stats_.dropped_empty++;
      break;
    case DropReason::kOversized:
      stats_.dropped_oversized++;
      break;
    case DropReason::kBadVersion:
      stats_.dropped_bad_version++;
      break;
    case DropReason::kMalformed:
      stats_.dropped_malformed++;
      break;
    case DropReason::kInvalid:
      stats_.dropped_invalid++;
      break;
    case DropReason::kUnknown:
    case DropReason::kCount:
      stats_.dropped_unknown++;
      break;
  }
}

void Membership::handle_timeout(TimePoint now) {
  advance_probe(now);
  expire_relays(now);
  expire_suspicions(now);
  if (now >= next_probe_) {
    if (!probe_) {
      start_probe(now);
    } else {
      // Still waiting on the last probe: the next one starts when this one ends. (Keeps
      // next_timeout() from naming an instant that has passed and would change nothing.)
      next_probe_ = std::max(next_probe_, probe_->round_end);
    }
  }
  if (now >= next_gossip_) {
    remind_suspects(now);
    if (now >= next_doubts_) ask_doubts(now);
    gossip(now);
    next_gossip_ = now + config_.gossip_interval;
  }
  if (now >= next_push_pull_) {
    periodic_push_pull(now);
    next_push_pull_ = now + push_pull_scale(config_.push_pull_interval, entries_.size());
  }
  if (now >= next_reconnect_) {
    reconnect(now);
    next_reconnect_ = now + config_.reconnect_interval;
  }
  if (now >= heal_sync_at_) heal_sync(now);
  // Behind NAT, three probe intervals with nothing from outside: ping our relays (a router
  // that restarted forgets our mapping, and nobody outside can tell us).
  const Duration silence = 3 * config_.probe_interval;
  if (last_outside_in_ != kTimeNever && now - last_outside_in_ > silence &&
      now - last_refresh_ > silence)
    refresh_soon(now);
  if (now >= next_refresh_) refresh_mappings(now);  // sets next_refresh_
}

// --- output ------------------------------------------------------------------------------

std::optional<Transmit> Membership::poll_transmit() { return take_front(transmits_); }

std::optional<Event> Membership::poll_event() { return take_front(events_); }

TimePoint Membership::next_timeout() const {
  TimePoint t = std::min(
      {next_probe_, next_gossip_, next_push_pull_, next_reconnect_, next_refresh_, heal_sync_at_});
  if (probe_) t = std::min(t, probe_->indirect_sent ? probe_->round_end : probe_->ack_deadline);
  if (!relay_deadlines_.empty()) t = std::min(t, relay_deadlines_.begin()->first);
  if (!suspicion_deadlines_.empty()) t = std::min(t, suspicion_deadlines_.begin()->first);
  return t;
}

void Membership::emit(Event::Kind kind, const Member& member, Bytes data) {
  events_.push_back(Event{kind, member, std::move(data)});
}

uint8_t Membership::wire_version() const {
  if (!wire_version_stale_) return wire_version_;
  const VersionRange& ours = self().versions;
  uint8_t lowest_max = ours.max;
  bool anyone_else = false;  // alive or suspect: the dead catch up when they are back
  for (size_t v = 0; v < live_by_max_version_.size(); ++v) {
    if (live_by_max_version_[v] == 0) continue;
    anyone_else = true;
    lowest_max = std::min(lowest_max, static_cast<uint8_t>(v));
    break;
  }
  // Alone, we cannot know what the seeds read: our oldest is the safest guess.
  wire_version_ = anyone_else ? std::max(lowest_max, ours.min) : ours.min;
  wire_version_stale_ = false;
  return wire_version_;
}

void Membership::send_datagram(const Endpoint& to, proto::Envelope& envelope,
                               const std::vector<Bytes>& leading_updates, bool piggyback) {
  envelope.set_sender(to_proto_bytes(id()));
  envelope.set_sender_version_min(self().versions.min);
  Bytes packet = encode(envelope, wire_version());
  packet.reserve(std::max(packet.size(), config_.max_packet_bytes));  // one allocation per packet
  for (const Bytes& update : leading_updates) append_update(packet, update);
  const int limit = retransmit_limit(config_.retransmit_mult, entries_.size());
  for (BroadcastQueue* queue : {&broadcasts_, &user_broadcasts_}) {
    if (!piggyback || packet.size() >= config_.max_packet_bytes) break;
    queue->take(config_.max_packet_bytes - packet.size(), limit, update_overhead,
                [&packet](ByteView update) { append_update(packet, update); });
  }
  stats_.packets_out++;
  stats_.bytes_out += packet.size();
  transmits_.push_back(
      Transmit{Transmit::Kind::kDatagram, to, std::nullopt, false, std::move(packet)});
}

void Membership::send_stream(const Endpoint& to, std::optional<StreamId> stream, bool close,
                             proto::Envelope& envelope) {
  envelope.set_sender(to_proto_bytes(id()));
  envelope.set_sender_version_min(self().versions.min);
  Bytes message = encode(envelope, wire_version());
  stats_.streams_out++;
  stats_.stream_bytes_out += message.size();
  transmits_.push_back(Transmit{Transmit::Kind::kStream, to, stream, close, std::move(message)});
}

// --- queries -----------------------------------------------------------------------------

Membership::Entry* Membership::find_entry(const NodeId& id) {
  const uint32_t* pos = index_.find(id);
  return pos ? &entries_[*pos] : nullptr;
}

const Member* Membership::find(const NodeId& id) const {
  const uint32_t* pos = index_.find(id);
  return pos ? &entries_[*pos].member : nullptr;
}

std::vector<Member> Membership::members() const {
  std::vector<Member> out;
  out.reserve(entries_.size());
  for (const Entry& e : entries_) out.push_back(e.member);
  return out;
}

size_t Membership::count(MemberState state) const {
  return state_counts_[static_cast<size_t>(state)];
}

void Membership::counted(MemberState state, int delta) {
  size_t& n = state_counts_[static_cast<size_t>(state)];
  n = delta > 0 ? n + 1 : n - 1;
}

std::vector<const Membership::Entry*> Membership::random_members(size_t k, const NodeId& exclude,
                                                                 Eligible eligible, TimePoint now) {
  // memberlist's kRandomNodes: random draws, bounded at 3n, so a large list costs O(k).
  std::vector<const Entry*> picked;
  const size_t n = entries_.size();
  for (size_t attempt = 0; attempt < 3 * n && picked.size() < k; ++attempt) {
    const Entry& e = entries_[rng_.below(n)];
    if (&e == &entries_[0] || e.member.id == exclude) continue;
    if (!eligible(e.member, now, config_.gossip_to_the_dead_time)) continue;
    if (std::find(picked.begin(), picked.end(), &e) != picked.end()) continue;
    picked.push_back(&e);
  }
  return picked;
}

namespace {
// held_'s slot for a state; -1: not held in a list.
int held_list(MemberState state) {
  if (state == MemberState::kSuspect) return 0;
  if (state == MemberState::kDead) return 1;
  return -1;
}
}  // namespace

std::string Membership::audit() const {
  std::array<size_t, 4> counts{};
  std::array<uint32_t, 256> live{};
  std::array<size_t, 2> held{};
  size_t relaying = 0;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    const std::string entry = "entry " + std::to_string(i) + " (" + e.member.name + ")";
    const uint32_t* pos = index_.find(e.member.id);
    if (!pos || *pos != i) return entry + ": the index by id leads elsewhere";
    counts[static_cast<size_t>(e.member.state)]++;
    if (i > 0 && e.member.is_alive_or_suspect()) live[e.member.versions.max]++;
    relaying += e.member.relay;
    if (const int list = held_list(e.member.state); list >= 0) {
      held[list]++;
      if (e.held_slot >= held_[list].size() || held_[list][e.held_slot] != i)
        return entry + ": missing from the held list of its state";
    }
  }
  if (index_.size() != entries_.size()) return "the index by id holds ids that are not entries";
  if (counts != state_counts_) return "the counts by state are off";
  if (live != live_by_max_version_) return "the counts of live members by version are off";
  if (held[0] != held_[0].size() || held[1] != held_[1].size())
    return "a held list has members not in its state";
  if (!relay_candidates_stale_) {
    if (relay_candidates_.size() != relaying) return "the relay candidates are not the relaying";
    for (const RelayCandidate& c : relay_candidates_)
      if (c.pos >= entries_.size() || !entries_[c.pos].member.relay)
        return "a relay candidate is not a relaying member";
  }
  return {};
}

void Membership::track_held(size_t pos, MemberState from, MemberState to) {
  if (const int list = held_list(from); list >= 0) {
    std::vector<uint32_t>& held = held_[list];
    const uint32_t slot = entries_[pos].held_slot;
    assert(slot < held.size() && held[slot] == pos);
    held[slot] = held.back();
    entries_[held[slot]].held_slot = slot;
    held.pop_back();
  }
  if (const int list = held_list(to); list >= 0) {
    entries_[pos].held_slot = static_cast<uint32_t>(held_[list].size());
    held_[list].push_back(static_cast<uint32_t>(pos));
  }
}

const Membership::Entry* Membership::random_held(MemberState state, const NodeId& exclude) {
  const int list = held_list(state);
  if (list < 0 || held_[list].empty()) return nullptr;
  const std::vector<uint32_t>& held = held_[list];
  size_t pick = rng_.below(held.size());
  if (entries_[held[pick]].member.id == exclude) {
    if (held.size() == 1) return nullptr;
    pick = (pick + 1 + rng_.below(held.size() - 1)) % held.size();  // uniform over the rest
  }
  const Entry& e = entries_[held[pick]];
  assert(e.member.state == state && &e != &entries_[0]);
  return &e;
}

void Membership::set_meta(TimePoint now, Bytes meta) {
  Entry& me = entries_[0];
  me.member.meta = std::move(meta);
  me.member.incarnation++;
  me.member.state_since = now;
  queue_update(me.member.id, alive_update(me.member));
}

void Membership::broadcast_user(std::optional<NodeId> about, Bytes data) {
  proto::Update update;
  update.mutable_user()->set_data(std::string(as_chars(data)));
  std::optional<BroadcastKey> key;
  if (about) key = BroadcastKey{BroadcastKey::Topic::kUser, *about};
  user_broadcasts_.push(key, encode_update(update));
}

}  // namespace shoal::gossip
