// The tunnel's sessions and paths: Noise IK handshakes, roaming, keepalives, hole punching
// and sending through a relay. Everything here runs under Impl::mutex, off the hot path.
#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "backends/udp/tunnel_impl.h"
#include "backends/udp/udp_socket.h"
#include "common/byte_order.h"

namespace shoal::udp {

SendTo make_send_to(const SendTarget& target) {
  SendTo out;
  out.target = target;
  out.address_length = to_sockaddr(target.endpoint, out.address);
  return out;
}

uint64_t Tunnel::Impl::timestamp() {
  // Strictly increasing, so a responder never takes two initiations of ours as replays.
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  last_timestamp = std::max(last_timestamp + 1, static_cast<uint64_t>(now));
  return last_timestamp;
}

void Tunnel::Impl::send_to(const sockaddr_storage& to, socklen_t length, ByteView message) {
  ::sendto(socket.fd.get(), message.data(), message.size(), 0,
           reinterpret_cast<const sockaddr*>(&to), length);
}

void Tunnel::Impl::send_message(const PeerState& state, const SendTo& to, ByteView message) {
  if (!to.target.relayed) {
    send_to(to.address, to.address_length, message);
    return;
  }
  // Handshakes and keepalives are small; the hot path wraps data in place instead.
  std::array<uint8_t, kRelayHeaderSize + crypto::kInitiationSize> wrapped{};
  if (message.size() > wrapped.size() - kRelayHeaderSize) return;
  write_relay_header(wrapped.data(), state.owner, config.self);
  std::memcpy(wrapped.data() + kRelayHeaderSize, message.data(), message.size());
  send_to(to.address, to.address_length, {wrapped.data(), kRelayHeaderSize + message.size()});
}

uint32_t Tunnel::Impl::free_index() {
  // The low bits pick a slot of by_index; the rest is random, so an index says nothing.
  for (int attempt = 0; attempt < 64; ++attempt) {
    uint32_t index = 0;
    randombytes_buf(&index, sizeof index);
    if (by_index[index & kIndexMask].load() != nullptr) continue;
    bool taken = false;
    for (const auto& [p, s] : pending) taken |= (p & kIndexMask) == (index & kIndexMask);
    if (!taken) return index;
  }
  return 0;  // 16,384 slots full: refuse the handshake
}

void Tunnel::Impl::retire(Keypair* keypair) {
  // Out of the index first, so no new lookup finds it; freed once both threads moved on.
  Keypair* expected = keypair;
  by_index[keypair->local_index & kIndexMask].compare_exchange_strong(expected, nullptr);
  expected = keypair;
  keypair->peer->current.compare_exchange_strong(expected, nullptr);
  reclaimer.retire([keypair] { delete keypair; });
}

void Tunnel::Impl::forget_pending(PeerState& state) {
  std::erase_if(pending, [&](const auto& entry) { return entry.second == &state; });
}

void Tunnel::Impl::install(PeerState& state, Keypair* keypair) {
  by_index[keypair->local_index & kIndexMask].store(keypair, std::memory_order_release);
  state.keypairs.push_back(keypair);
  while (state.keypairs.size() > kKeypairsKept) {
    retire(state.keypairs.front());
    state.keypairs.erase(state.keypairs.begin());
  }
}

void Tunnel::Impl::drop_keypairs(PeerState& state) {
  state.current.store(nullptr);
  for (Keypair* k : state.keypairs) retire(k);
  state.keypairs.clear();
  forget_pending(state);
  state.pending.reset();
}

void Tunnel::Impl::initiate(PeerState& state, Clock::time_point now) {
  // Checked before the lock too: a peer that does not answer must not make every packet
  // take the lock while its retry timer runs.
  if (now.time_since_epoch().count() < state.next_initiation.load(std::memory_order_relaxed))
    return;
  std::lock_guard lock(mutex);
  initiate_locked(state, now);
}

void Tunnel::Impl::initiate_locked(PeerState& state, Clock::time_point now) {
  if (now.time_since_epoch().count() < state.next_initiation.load(std::memory_order_relaxed))
    return;
  state.next_initiation.store((now + kHandshakeRetry).time_since_epoch().count(),
                              std::memory_order_relaxed);
  const uint32_t index = free_index();
  if (index == 0) return;
  forget_pending(state);
  std::array<uint8_t, crypto::kInitiationSize> message{};
  auto started = crypto::Initiator::start(identity, state.key, index, timestamp(), proposal,
                                          std::span<uint8_t, crypto::kInitiationSize>(message));
  if (!started) return;  // a weak peer key: nothing to talk to
  state.pending = std::move(started).value();
  state.last_initiation = now;
  pending[index] = &state;
  // The same message to every endpoint the peer may answer at, and through its relay: the
  // responder answers the first copy and ignores the rest (same timestamp). Sending from
  // both ends at once is what punches a hole through two NATs.
  const ByteView bytes(message.data(), message.size());
  for (const Endpoint& e : state.path.initiation_endpoints())
    send_message(state, make_send_to({e, false}), bytes);
  if (const SendTo* to = state.send_to.load(); to && to->target.relayed)
    send_message(state, *to, bytes);
  handshakes_sent.fetch_add(1, std::memory_order_relaxed);
}

void Tunnel::Impl::on_initiation(ByteView message, const Endpoint& from, bool relayed,
                                 Clock::time_point now) {
  // Meant for another host: a peer guessed a private address that, at our site, is ours.
  if (!crypto::initiation_addressed_to(identity.public_key(), message)) {
    misdirected.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const PeerTable* peers = table.load(std::memory_order_acquire);
  std::lock_guard lock(mutex);
  const uint32_t index = free_index();
  if (index == 0) {  // every session index is taken: counted with the refused handshakes
    bad_handshakes.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::array<uint8_t, crypto::kResponseSize> response{};
  const Peer* peer = nullptr;  // set by is_known, so known once respond() succeeds
  auto accepted = crypto::respond(
      identity, message, index,
      [&](const crypto::PublicKey& key) {
        peer = peers->with_key(key);
        return peer != nullptr;
      },
      std::span<uint8_t, crypto::kResponseSize>(response));
  if (!accepted) {
    // The initiation opened, but its static key is no peer's; else forged or corrupt.
    if (accepted.error() == crypto::DropReason::kUnknownPeer)
      unknown_initiators.fetch_add(1, std::memory_order_relaxed);
    else
      bad_handshakes.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  PeerState& state = *peer->state;
  // Another copy of the initiation we answered (it went to several endpoints) is no fault;
  // an older one is a replay.
  if (accepted->timestamp_ns == state.last_timestamp) return;
  if (accepted->timestamp_ns < state.last_timestamp) {
    bad_handshakes.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  state.last_timestamp = accepted->timestamp_ns;
  install(state,
          new Keypair(index, accepted->peer_index, std::move(accepted->keys), now, false, &state));
  // The initiation authenticated and is newer than any before: the peer is where it came
  // from (behind a NAT, that is the NAT's mapping), so answer there.
  heard_locked(state, from, relayed, now);
  publish_locked(state, now);
  send_message(state, *state.send_to.load(), {response.data(), response.size()});
  handshakes_done.fetch_add(1, std::memory_order_relaxed);
}

void Tunnel::Impl::on_response(ByteView message, const Endpoint& from, bool relayed,
                               Clock::time_point now) {
  if (message.size() < 12) return;
  std::lock_guard lock(mutex);
  auto it = pending.find(get_be32(message.data() + 8));
  if (it == pending.end() || !it->second->pending) {
    bad_handshakes.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  PeerState& state = *it->second;
  auto done = state.pending->finish(message);
  if (!done) {
    bad_handshakes.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const uint32_t index = it->first;
  pending.erase(it);
  state.pending.reset();
  auto* keypair = new Keypair(index, done->peer_index, std::move(done->keys), now, true, &state);
  install(state, keypair);
  if (seal_with(state, state.current.load(), *keypair))
    state.current.store(keypair, std::memory_order_release);
  handshakes_done.fetch_add(1, std::memory_order_relaxed);
  heard_locked(state, from, relayed, now);
  publish_locked(state, now);
  // Confirm the session to the responder at once, so it may seal with it too.
  send_keepalive(state, *keypair, *state.send_to.load());
}

bool Tunnel::Impl::seal_with(const PeerState& state, const Keypair* current,
                             const Keypair& fresh) const {
  if (current == nullptr) return true;
  const SessionOrigin now_used{path_time(current->created), current->initiator};
  return seal_with_fresh(config.self, state.owner, &now_used,
                         {path_time(fresh.created), fresh.initiator});
}

void Tunnel::Impl::confirm(Keypair& keypair, Clock::time_point now) {
  std::lock_guard lock(mutex);
  if (keypair.confirmed.exchange(true)) return;
  PeerState& state = *keypair.peer;
  // Still one of the peer's (not retired while we waited for the lock)?
  if (std::find(state.keypairs.begin(), state.keypairs.end(), &keypair) == state.keypairs.end())
    return;
  if (seal_with(state, state.current.load(), keypair)) state.current.store(&keypair);
  // The initiator's first packet: tell it at once where it reaches us from, so a host
  // behind NAT learns its public endpoint within one round trip of its first handshake.
  publish_locked(state, now);
  send_keepalive(state, keypair, *state.send_to.load());
}

void Tunnel::Impl::send_keepalive(PeerState& state, Keypair& keypair, const SendTo& to) {
  std::array<uint8_t, kSealedHeaderSize + kMaxObservedSize + kTagSize> message{};
  const std::optional<Endpoint> seen = state.path.heard_at();
  const size_t body = seen ? write_observed(message.data() + kSealedHeaderSize, *seen) : 0;
  const uint64_t counter = keypair.next_counter.fetch_add(1);
  write_sealed_header(message.data(), keypair.remote_index, counter);
  keypair.keys.send.seal(counter, {}, message.data() + kSealedHeaderSize, body,
                         message.data() + kSealedHeaderSize + body);
  send_message(state, to, {message.data(), kSealedHeaderSize + body + kTagSize});
  state.sent_any.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
}

void Tunnel::Impl::passive_keepalive(PeerState& state, Clock::time_point now) {
  std::lock_guard lock(mutex);
  if (now.time_since_epoch().count() - state.sent_any.load(std::memory_order_relaxed) <=
      Clock::duration(kPassiveKeepalive).count())
    return;  // another packet's keepalive went while we waited for the lock
  Keypair* keypair = state.current.load();
  if (keypair == nullptr) return;
  send_keepalive(state, *keypair, *state.send_to.load());
  keepalives_sent.fetch_add(1, std::memory_order_relaxed);
}

void Tunnel::Impl::note_observed(PeerState& state, const Endpoint& seen_at, Clock::time_point now) {
  std::lock_guard lock(mutex);
  state.sees_us_at = seen_at;
  state.sees_us_when = now;
}

bool Tunnel::Impl::heard_locked(PeerState& state, const Endpoint& from, bool relayed,
                                Clock::time_point now) {
  if (relayed) {
    state.path.heard_relayed(path_time(now));
    return false;
  }
  state.heard_direct.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  const bool moved = state.path.heard_direct(from, path_time(now));
  if (moved) roams.fetch_add(1, std::memory_order_relaxed);
  return moved;
}

void Tunnel::Impl::roam(PeerState& state, const Endpoint& from, Clock::time_point now) {
  std::lock_guard lock(mutex);
  const bool moved = heard_locked(state, from, false, now);
  publish_locked(state, now);
  if (!moved) return;
  // Its NAT remapped: tell it at once where it reaches us from now, so it can publish its new
  // reflexive endpoint and peers behind port-restricted NATs punch towards it (they drop its
  // packets from the new port until they have sent there).
  if (Keypair* keypair = state.current.load(); keypair != nullptr && config.encrypt)
    send_keepalive(state, *keypair, *state.send_to.load());
}

void Tunnel::Impl::publish_locked(PeerState& state, Clock::time_point now) {
  std::optional<Endpoint> relay_endpoint;
  if (const auto& relay = state.path.plan().relay) {
    auto it = states.find(*relay);
    // A relay we reach only through another relay is no relay.
    if (it != states.end()) {
      const SendTo* to = it->second->send_to.load();
      if (to && !to->target.relayed) relay_endpoint = to->target.endpoint;
    }
  }
  const SendTarget target = state.path.target(path_time(now), relay_endpoint);
  const SendTo* old = state.send_to.load();
  if (old && old->target == target) return;
  state.send_to.store(new SendTo(make_send_to(target)), std::memory_order_release);
  if (old) reclaimer.retire([old] { delete old; });
}

void Tunnel::Impl::tick_locked(PeerState& state, Clock::time_point now) {
  const TimePoint at = path_time(now);
  if (const int64_t heard = state.heard_direct.load(); heard != 0 && state.path.heard_at())
    state.path.heard_direct(*state.path.heard_at(),
                            path_time(Clock::time_point(Clock::duration(heard))));
  if (const int64_t heard = state.heard_relayed.load(); heard != 0)
    state.path.heard_relayed(path_time(Clock::time_point(Clock::duration(heard))));
  if (const int64_t sent = state.sent_data.load(); sent != 0)
    state.path.sent_data(path_time(Clock::time_point(Clock::duration(sent))));
  publish_locked(state, now);
  if (!config.encrypt) return;
  Keypair* keypair = state.current.load();
  const PathPlan& plan = state.path.plan();
  // Across a NAT, have a session before the first packet needs one.
  if (keypair == nullptr && (plan.keepalive || plan.relay)) initiate_locked(state, now);
  if (keypair == nullptr) return;
  const PathDue due = state.path.poll(at);  // the same decisions the simulator drives
  if (due.direct_lost) {
    // Traffic moves to the relay now. If our own NAT remapped, the relay still knows us at
    // the old endpoint and refuses to forward what we send from the new one: show it first.
    if (auto it = states.find(plan.relay.value_or(NodeId())); it != states.end()) {
      if (Keypair* relay_keypair = it->second->current.load())
        send_keepalive(*it->second, *relay_keypair, *it->second->send_to.load());
    }
  }
  if (due.keepalive) {
    send_keepalive(state, *keypair, *state.send_to.load());
    keepalives_sent.fetch_add(1, std::memory_order_relaxed);
  }
  for (const Endpoint& e : due.punch) {
    send_keepalive(state, *keypair, make_send_to({e, false}));
    punches_sent.fetch_add(1, std::memory_order_relaxed);
  }
}

TunnelPath Tunnel::Impl::describe_locked(const PeerState& state) const {
  const SendTo* to = state.send_to.load();
  return {state.owner, state.name, state.path.kind(path_time(Clock::now())), state.path.heard_at(),
          to != nullptr && to->target.relayed};
}

void Tunnel::tick() {
  Impl& d = *impl_;
  const auto now = Clock::now();
  {
    std::lock_guard lock(d.mutex);
    for (auto& [owner, state] : d.states) d.tick_locked(*state, now);
  }
  d.reclaimer.collect();
}

std::vector<Endpoint> Tunnel::reflexive() const {
  const Impl& d = *impl_;
  // Newest first: after a NAT remaps, the one peer that has heard us from the new port is
  // right and the others, still naming the old one, are about to go stale.
  std::vector<std::pair<Clock::time_point, Endpoint>> seen;
  const auto now = Clock::now();
  {
    std::lock_guard lock(d.mutex);
    for (const auto& [owner, state] : d.states) {
      const auto age = now - state->sees_us_when;
      if (state->sees_us_at && *state->sees_us_at != d.config.bind &&
          age < 2 * state->path.stale_after())
        seen.emplace_back(state->sees_us_when, *state->sees_us_at);
    }
  }
  std::sort(seen.begin(), seen.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<Endpoint> out;
  for (const auto& [when, endpoint] : seen) {
    if (out.size() == kMaxReflexive) break;
    if (std::find(out.begin(), out.end(), endpoint) == out.end()) out.push_back(endpoint);
  }
  return out;
}

}  // namespace shoal::udp
