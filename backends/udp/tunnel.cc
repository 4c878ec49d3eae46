#include "backends/udp/tunnel.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sodium.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>

#include "backends/udp/offload.h"
#include "backends/udp/peers.h"
#include "backends/udp/tunnel_impl.h"
#include "backends/udp/wire.h"
#include "common/byte_order.h"
#include "crypto/aead.h"
#include "crypto/noise_ik.h"

namespace shoal::udp {

namespace {

constexpr size_t kMaxTunRead = kVirtioNetHdrSize + kMaxIpPacket;
constexpr size_t kTxReadsPerBatch = 16;  // TUN reads gathered before one sendmmsg
constexpr size_t kMaxSegments = 192;     // per super-packet (64 KiB / a 340-byte MSS)
constexpr size_t kMaxMessages = kTxReadsPerBatch * kMaxSegments;
constexpr size_t kMaxGsoSegments = 64;  // the kernel's UDP_MAX_SEGMENTS
constexpr size_t kMaxGsoBytes = 65000;  // one UDP_SEGMENT send stays one IP datagram
constexpr size_t kRxBatch = 32;
constexpr size_t kRxBuffer = kMaxIpPacket;  // one UDP_GRO train at most

uint32_t ipv4_at(const uint8_t* p) { return get_be32(p); }

// Asks the kernel to cut `m`'s one buffer into datagrams of `segment` bytes (UDP_SEGMENT);
// `control` must outlive the send.
void set_segment_size(msghdr& m, std::span<uint8_t, CMSG_SPACE(sizeof(uint16_t))> control,
                      uint16_t segment) {
  m.msg_control = control.data();
  m.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
}

// Relayed datagrams we pass on, as a token bucket over bytes (the receiving thread's own).
class RelayBudget {
 public:
  explicit RelayBudget(uint32_t mbps) : bytes_per_second_(double(mbps) * 1e6 / 8) {}
  bool take(size_t bytes, Clock::time_point now) {
    if (bytes_per_second_ <= 0) return true;
    const double burst = bytes_per_second_ / 10;  // 100 ms worth
    tokens_ = std::min(
        burst, tokens_ + std::chrono::duration<double>(now - last_).count() * bytes_per_second_);
    last_ = now;
    if (tokens_ < static_cast<double>(bytes)) return false;
    tokens_ -= static_cast<double>(bytes);
    return true;
  }

 private:
  double bytes_per_second_;
  double tokens_ = 0;
  Clock::time_point last_{};
};

// The transmit thread's buffers and batch, allocated once.
struct TxBatch {
  std::vector<uint8_t> read_buffer = std::vector<uint8_t>(kMaxTunRead);
  std::vector<uint8_t> arena;
  size_t used = 0;
  std::array<mmsghdr, kMaxMessages> messages{};
  std::array<iovec, kMaxMessages> iovs{};
  std::array<std::array<uint8_t, CMSG_SPACE(sizeof(uint16_t))>, kMaxMessages> controls{};
  size_t count = 0;
  std::array<uint16_t, kMaxSegments> segment_lengths{};
  explicit TxBatch(size_t arena_bytes) : arena(arena_bytes) {}
};

struct RxBatch {
  std::vector<uint8_t> buffers = std::vector<uint8_t>(kRxBatch * kRxBuffer);
  std::array<mmsghdr, kRxBatch> messages{};
  std::array<iovec, kRxBatch> iovs{};
  std::array<sockaddr_storage, kRxBatch> sources{};
  std::array<std::array<uint8_t, CMSG_SPACE(sizeof(int))>, kRxBatch> controls{};
};

}  // namespace

Tunnel::Impl::~Impl() {
  stop.store(true);
  if (stop_fd.valid()) {
    const uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(stop_fd.get(), &one, sizeof one);
  }
  if (tx_thread.joinable()) tx_thread.join();
  if (rx_thread.joinable()) rx_thread.join();
  for (auto& [owner, state] : states) {
    for (Keypair* k : state->keypairs) delete k;
    delete state->send_to.load();
  }
  delete table.load();
  // The descriptors close after this body, once no thread can use them.
}

bool Tunnel::Impl::wait(int fd, short events) {
  pollfd fds[2] = {{fd, events, 0}, {stop_fd.get(), POLLIN, 0}};
  ::poll(fds, 2, 100);
  return (fds[1].revents & POLLIN) == 0;
}

// --- transmit: TUN -> UDP ---------------------------------------------------------------

void Tunnel::Impl::tx_loop() {
  const size_t headroom = config.encrypt ? kSealedHeaderSize : kPlainHeaderSize;
  const size_t tailroom = config.encrypt ? kTagSize : 0;
  // Room for kTxReadsPerBatch super-packets cut into the smallest segments we allow.
  // The most a record can take besides its segment: a relay header too.
  const size_t overhead = kRelayHeaderSize + headroom + tailroom + 60;
  // The most one TUN read can take in the arena: the packet, and the overhead of every
  // segment it may be cut into.
  const size_t max_read_bytes = kMaxIpPacket + kMaxSegments * overhead;
  TxBatch batch(kTxReadsPerBatch * max_read_bytes);
  TunnelCounters counters;
  std::array<uint8_t, 1600> icmp{};

  auto flush = [&] {
    size_t sent = 0;
    while (sent < batch.count) {
      const int n = ::sendmmsg(socket.fd.get(), batch.messages.data() + sent,
                               static_cast<unsigned>(batch.count - sent), MSG_DONTWAIT);
      ++counters.send_calls;
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!wait(socket.fd.get(), POLLOUT)) break;
        continue;
      }
      if (errno == EIO && gso.load()) gso.store(false);  // the kernel cannot segment: stop asking
      drop(counters, DropReason::kSendFailed);
      ++sent;  // skip the message the kernel refused
    }
    batch.count = 0;
    batch.used = 0;
  };

  auto add_message = [&](uint8_t* data, size_t length, const SendTo& to, uint16_t segment) {
    mmsghdr& m = batch.messages[batch.count];
    iovec& iov = batch.iovs[batch.count];
    iov = {data, length};
    m = {};
    m.msg_hdr.msg_name = const_cast<sockaddr_storage*>(&to.address);
    m.msg_hdr.msg_namelen = to.address_length;
    m.msg_hdr.msg_iov = &iov;
    m.msg_hdr.msg_iovlen = 1;
    if (segment != 0) set_segment_size(m.msg_hdr, batch.controls[batch.count], segment);
    ++batch.count;
  };

  auto reply_icmp = [&](ByteView packet, uint8_t type, uint8_t code) {
    const uint32_t from = router.load(std::memory_order_relaxed);
    if (from == 0) return;
    const size_t n = make_icmp_error(packet, from, type, code, icmp.data() + kVirtioNetHdrSize,
                                     icmp.size() - kVirtioNetHdrSize);
    if (n == 0) return;
    write_virtio_net_hdr({}, icmp.data());
    if (::write(tun.fd.get(), icmp.data(), kVirtioNetHdrSize + n) < 0)
      drop(counters, DropReason::kTunWriteFailed);
  };

  const SessionLimits limits{std::chrono::duration_cast<Duration>(config.rekey_after),
                             std::chrono::duration_cast<Duration>(kRejectAfterExtra),
                             config.rekey_after_messages};
  while (!stop.load()) {
    reclaimer.quiescent(kTxWorker);
    tx_shared.publish(counters);
    if (!wait(tun.fd.get(), POLLIN)) break;
    const PeerTable* peers = table.load(std::memory_order_acquire);
    const auto now = Clock::now();
    for (size_t reads = 0; reads < kTxReadsPerBatch; ++reads) {
      const ssize_t got = ::read(tun.fd.get(), batch.read_buffer.data(), batch.read_buffer.size());
      if (got < 0) break;  // EAGAIN: the TUN is drained
      ++counters.tun_reads;
      const ByteView whole(batch.read_buffer.data(), static_cast<size_t>(got));
      auto header = parse_virtio_net_hdr(whole);
      const ByteView packet = whole.subspan(std::min(whole.size(), kVirtioNetHdrSize));
      if (!header || !looks_like_ipv4(packet)) {
        drop(counters, DropReason::kBadPacket);
        continue;
      }
      const Peer* peer =
          peers ? peers->route(ipv4_at(packet.data() + kIpv4DestinationOffset)) : nullptr;
      if (peer == nullptr) {
        drop(counters, DropReason::kNoRoute);
        reply_icmp(packet, kIcmpDestUnreachable, kIcmpNetUnreachable);
        continue;
      }
      // A router does not forward a packet whose TTL would reach 0 (RFC 1812 5.3.1).
      if (packet[kIpv4TtlOffset] <= 1) {
        drop(counters, DropReason::kTtlExpired);
        reply_icmp(packet, kIcmpTimeExceeded, kIcmpTtlExceededInTransit);
        continue;
      }
      Keypair* keypair = nullptr;
      if (config.encrypt) {
        keypair = peer->state->current.load(std::memory_order_acquire);
        CurrentSession current;
        if (keypair != nullptr)
          current = {true, std::chrono::duration_cast<Duration>(now - keypair->created),
                     keypair->initiator, keypair->next_counter.load(std::memory_order_relaxed)};
        const SendDecision decision = on_send(current, limits);
        if (decision == SendDecision::kHoldForHandshake) {
          initiate(*peer->state, now);
          drop(counters, DropReason::kHandshakePending);
          continue;
        }
        if (decision == SendDecision::kSealAndRekey)
          initiate(*peer->state, now);  // the current session keeps sealing meanwhile
      }
      if (batch.count + kMaxSegments > kMaxMessages ||
          batch.arena.size() - batch.used < max_read_bytes)
        flush();
      // Through a relay, each record starts with the relay header (wire.h).
      const SendTo& to = *peer->state->send_to.load(std::memory_order_acquire);
      const size_t lead = to.target.relayed ? kRelayHeaderSize : 0;
      uint8_t* out = batch.arena.data() + batch.used;
      const SplitResult split =
          split_packet(*header, packet, out, batch.arena.size() - batch.used, lead + headroom,
                       tailroom, std::span<uint16_t>(batch.segment_lengths));
      if (split.error != SplitError::kOk || split.segments == 0) {
        drop(counters,
             split.error == SplitError::kNoRoom ? DropReason::kSendFailed : DropReason::kBadPacket);
        continue;
      }
      uint64_t counter = 0;
      if (keypair) {
        counter = keypair->next_counter.fetch_add(split.segments, std::memory_order_relaxed);
        if (counter + split.segments >= crypto::ReplayWindow::kRejectAfter) {
          drop(counters, DropReason::kHandshakePending);
          continue;
        }
      }
      // Seal every record in place: [header][segment][tag], back to back.
      size_t offset = 0;
      for (size_t k = 0; k < split.segments; ++k) {
        uint8_t* record = out + offset;
        const size_t length = batch.segment_lengths[k];
        if (lead != 0) {
          write_relay_header(record, peer->state->owner, config.self);
          record += lead;
        }
        if (keypair) {
          write_sealed_header(record, keypair->remote_index, counter + k);
          keypair->keys.send.seal(counter + k, {}, record + headroom, length,
                                  record + headroom + length);
        } else {
          write_plain_header(record);
        }
        counters.tx_bytes += length;
        offset += lead + headroom + length + tailroom;
      }
      counters.tx_packets += split.segments;
      note_sent(*peer->state, now);
      // One UDP_SEGMENT send per run of equal records (the last may be shorter).
      const size_t record = lead + headroom + batch.segment_lengths[0] + tailroom;
      const bool segment = gso.load(std::memory_order_relaxed);
      const size_t per_send =
          segment ? std::max<size_t>(1, std::min(kMaxGsoSegments, kMaxGsoBytes / record)) : 1;
      size_t placed = 0;
      for (size_t k = 0; k < split.segments; k += per_send) {
        const size_t n = std::min(per_send, split.segments - k);
        size_t bytes = 0;
        for (size_t j = k; j < k + n; ++j)
          bytes += lead + headroom + batch.segment_lengths[j] + tailroom;
        add_message(out + placed, bytes, to, n > 1 ? static_cast<uint16_t>(record) : 0);
        placed += bytes;
      }
      batch.used += offset;
    }
    flush();
  }
  tx_shared.publish(counters);
}

// --- receive: UDP -> TUN ----------------------------------------------------------------

void Tunnel::Impl::rx_loop() {
  RxBatch batch;
  GroBatch gro(kRxBatch * 64);
  TunnelCounters counters;
  const bool coalesce = tun.offloads.tso;
  std::array<uint8_t, kVirtioNetHdrSize> plain_header{};
  write_virtio_net_hdr({}, plain_header.data());

  for (size_t i = 0; i < kRxBatch; ++i) {
    batch.iovs[i] = {batch.buffers.data() + i * kRxBuffer, kRxBuffer};
  }

  auto flush_gro = [&] {
    for (const ByteView w : gro.writes()) {
      ++counters.tun_writes;
      if (::write(tun.fd.get(), w.data(), w.size()) < 0)
        drop(counters, DropReason::kTunWriteFailed);
    }
    gro.reset();
  };

  auto deliver = [&](ByteView inner, const Peer* sender, PeerState* state, const PeerTable* peers) {
    // The inner packet must come from the sender's own subnets: no peer may speak for another.
    if (!looks_like_ipv4(inner)) {
      drop(counters, DropReason::kMalformed);
      return;
    }
    const Peer* owner = peers->route(ipv4_at(inner.data() + kIpv4SourceOffset));
    if (owner == nullptr || (sender ? owner != sender : owner->state != state)) {
      drop(counters, DropReason::kSpoofed);
      return;
    }
    ++counters.rx_packets;
    counters.rx_bytes += inner.size();
    if (coalesce) {
      if (gro.add(inner)) return;
      flush_gro();  // the batch is full: write it out and start the next
      if (!gro.add(inner)) drop(counters, DropReason::kTunWriteFailed);
      return;
    }
    iovec parts[2] = {{plain_header.data(), plain_header.size()},
                      {const_cast<uint8_t*>(inner.data()), inner.size()}};
    ++counters.tun_writes;
    if (::writev(tun.fd.get(), parts, 2) < 0) drop(counters, DropReason::kTunWriteFailed);
  };

  Clock::time_point now{};
  RelayBudget relay_budget(config.relay_max_mbps);

  // An authenticated, fresh packet of `state` came straight from `from`: follow it there.
  auto heard_direct = [&](PeerState& state, const Endpoint& from) {
    const SendTo* to = state.send_to.load(std::memory_order_acquire);
    if (to == nullptr || to->target.relayed || to->target.endpoint != from ||
        state.heard_direct.load(std::memory_order_relaxed) == 0)
      roam(state, from, now);
    state.heard_direct.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  };

  // A sealed message, straight from `from` or (`source` set) carried by a relay for the
  // peer `source`.
  auto open_sealed = [&](const Datagram& datagram, const Endpoint& from, const NodeId* source,
                         const PeerTable* peers) {
    const uint32_t index = datagram.receiver_index;
    Keypair* keypair = by_index[index & kIndexMask].load(std::memory_order_acquire);
    if (keypair == nullptr || keypair->local_index != index)
      return drop(counters, DropReason::kUnknownSender);
    if (!keypair->keys.recv.open(datagram.counter, {}, datagram.body, datagram.body_size,
                                 datagram.tag))
      return drop(counters, DropReason::kAuthFailed);
    if (!keypair->replay.accept(datagram.counter))
      return drop(counters, DropReason::kReplay);  // it opened
    PeerState& state = *keypair->peer;
    if (source != nullptr) {
      // The relay named the sender; the session says who it is. They must agree.
      if (state.owner != *source) return drop(counters, DropReason::kSpoofed);
      state.heard_relayed.store(now.time_since_epoch().count(), std::memory_order_relaxed);
    } else {
      heard_direct(state, from);
    }
    if (!keypair->confirmed.load(std::memory_order_relaxed)) confirm(*keypair, now);
    const ByteView body(datagram.body, datagram.body_size);
    if (body.empty()) return;  // a bare keepalive
    if (!looks_like_ipv4(body)) {
      if (auto seen = parse_observed(body)) return note_observed(state, *seen, now);
      return drop(counters, DropReason::kMalformed);
    }
    deliver(body, nullptr, &state, peers);
    // Data with nothing sent back for a while (a one-way stream): answer with a keepalive,
    // so the sender sees the path works (PeerPath::kSilence) and its NAT mapping stays open.
    if (config.encrypt &&
        now.time_since_epoch().count() - state.sent_any.load(std::memory_order_relaxed) >
            Clock::duration(kPassiveKeepalive).count())
      passive_keepalive(state, now);
  };

  // Datagrams we relay from one GRO train to one next hop, back to back in the receive buffer,
  // go out as one UDP_SEGMENT send: the relay costs a syscall per train, not per datagram.
  struct RelayRun {
    const SendTo* to = nullptr;
    uint8_t* start = nullptr;
    size_t segment = 0, bytes = 0, count = 0;
    bool closed = false;  // a shorter datagram ended it
  } run;
  std::array<uint8_t, CMSG_SPACE(sizeof(uint16_t))> relay_control{};
  auto flush_relay = [&] {
    if (run.count == 0) return;
    if (run.count == 1 || !gso.load(std::memory_order_relaxed)) {
      for (size_t at = 0; at < run.bytes; at += run.segment)
        send_to(run.to->address, run.to->address_length,
                {run.start + at, std::min(run.segment, run.bytes - at)});
    } else {
      iovec iov{run.start, run.bytes};
      msghdr m{};
      m.msg_name = const_cast<sockaddr_storage*>(&run.to->address);
      m.msg_namelen = run.to->address_length;
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      set_segment_size(m, relay_control, static_cast<uint16_t>(run.segment));
      if (::sendmsg(socket.fd.get(), &m, 0) < 0) drop(counters, DropReason::kSendFailed);
    }
    run = {};
  };
  auto relay_out = [&](const SendTo* to, uint8_t* bytes, size_t size) {
    const bool joins = run.count > 0 && run.to == to && !run.closed &&
                       bytes == run.start + run.bytes && size <= run.segment &&
                       run.count < kMaxGsoSegments && run.bytes + size <= kMaxGsoBytes;
    if (!joins) {
      flush_relay();
      run = {to, bytes, size, 0, 0, false};
    }
    run.bytes += size;
    ++run.count;
    run.closed = size < run.segment;
  };

  // We are the relay: pass the datagram on, unread, only between two peers we hold live
  // sessions with, from the endpoint the sender's own sealed packets come from.
  auto relay = [&](const Datagram& datagram, uint8_t* bytes, size_t size, const Endpoint& from,
                   const PeerTable* peers) {
    if (!config.relay) return drop(counters, DropReason::kRelayRefused);
    const Peer* sender = peers->with_owner(datagram.source);
    const Peer* target = peers->with_owner(datagram.destination);
    if (sender == nullptr || target == nullptr || sender == target)
      return drop(counters, DropReason::kRelayRefused);
    const SendTo* back = sender->state->send_to.load(std::memory_order_acquire);
    const SendTo* to = target->state->send_to.load(std::memory_order_acquire);
    if (back == nullptr || back->target.relayed || back->target.endpoint != from ||
        sender->state->current.load(std::memory_order_relaxed) == nullptr || to == nullptr ||
        to->target.relayed)
      return drop(counters, DropReason::kRelayRefused);
    if (!relay_budget.take(size, now)) return drop(counters, DropReason::kRelayLimited);
    relay_out(to, bytes, size);
    ++counters.relayed_packets;
    counters.relayed_bytes += size;
  };

  auto handle = [&](uint8_t* d, size_t n, const Endpoint& from, const PeerTable* peers) {
    const Datagram datagram = parse_datagram(d, n, config.encrypt);
    if (peers == nullptr) return drop(counters, DropReason::kUnknownSender);
    switch (datagram.kind) {
      case DatagramKind::kPlain: {
        const Peer* sender = peers->at(from);
        if (sender == nullptr) return drop(counters, DropReason::kUnknownSender);
        return deliver({datagram.body, datagram.body_size}, sender, nullptr, peers);
      }
      case DatagramKind::kSealed:
        return open_sealed(datagram, from, nullptr, peers);
      case DatagramKind::kInitiation:
        return on_initiation({d, n}, from, false, now);
      case DatagramKind::kResponse:
        return on_response({d, n}, from, false, now);
      case DatagramKind::kRelayed: {
        if (!(datagram.destination == config.self)) return relay(datagram, d, n, from, peers);
        // For us: the carried message, parsed as one of its own (never another relayed one).
        const Datagram inner = parse_datagram(datagram.body, datagram.body_size, true);
        const ByteView whole(datagram.body, datagram.body_size);
        switch (inner.kind) {
          case DatagramKind::kSealed:
            return open_sealed(inner, from, &datagram.source, peers);
          case DatagramKind::kInitiation:
            return on_initiation(whole, from, true, now);
          case DatagramKind::kResponse:
            return on_response(whole, from, true, now);
          default:
            return drop(counters, DropReason::kMalformed);
        }
      }
      case DatagramKind::kInvalid:
        return drop(counters, DropReason::kMalformed);
    }
  };

  while (!stop.load()) {
    reclaimer.quiescent(kRxWorker);
    rx_shared.publish(counters);
    if (!wait(socket.fd.get(), POLLIN)) break;
    for (size_t i = 0; i < kRxBatch; ++i) {
      auto& h = batch.messages[i].msg_hdr;
      h = {};
      h.msg_name = &batch.sources[i];
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_iov = &batch.iovs[i];
      h.msg_iovlen = 1;
      h.msg_control = batch.controls[i].data();
      h.msg_controllen = batch.controls[i].size();
    }
    const int got =
        ::recvmmsg(socket.fd.get(), batch.messages.data(), kRxBatch, MSG_DONTWAIT, nullptr);
    if (got <= 0) continue;
    ++counters.receive_calls;
    const PeerTable* peers = table.load(std::memory_order_acquire);
    now = Clock::now();
    gro.reset();
    for (int i = 0; i < got; ++i) {
      const auto& h = batch.messages[static_cast<size_t>(i)].msg_hdr;
      const size_t length = batch.messages[static_cast<size_t>(i)].msg_len;
      size_t train = length;  // UDP_GRO: equal datagrams back to back, the last maybe shorter
      for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr;
           c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
          int size = 0;
          std::memcpy(&size, CMSG_DATA(c), sizeof size);
          if (size > 0) train = static_cast<size_t>(size);
        }
      }
      const Endpoint from = from_sockaddr(batch.sources[static_cast<size_t>(i)]);
      uint8_t* base = batch.buffers.data() + static_cast<size_t>(i) * kRxBuffer;
      for (size_t at = 0; at < length; at += train) {
        uint8_t* d = base + at;
        const size_t n = std::min(train, length - at);
        handle(d, n, from, peers);
      }
      flush_relay();
    }
    if (coalesce) flush_gro();
  }
  rx_shared.publish(counters);
}

// --- control ----------------------------------------------------------------------------

Tunnel::Tunnel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tunnel::~Tunnel() = default;

Result<std::unique_ptr<Tunnel>> Tunnel::start(const TunnelConfig& config,
                                              const crypto::Identity& identity) {
  auto impl = std::make_unique<Impl>(config, identity);
  auto tun = open_tun(config.device);
  if (!tun) return tun.error();
  impl->tun = std::move(*tun);
  auto socket = open_udp(config.bind);
  if (!socket) return socket.error();
  impl->socket = std::move(*socket);
  impl->gso.store(impl->socket.offloads.gso);
  impl->stop_fd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!impl->stop_fd.valid()) return errno_status("cannot make an eventfd");
  if (config.encrypt) impl->proposal = crypto::measure_aead().preferred;
  impl->table.store(new PeerTable({}, {}));
  Impl* raw = impl.get();
  impl->tx_thread = std::thread([raw] { raw->tx_loop(); });
  impl->rx_thread = std::thread([raw] { raw->rx_loop(); });
  return std::unique_ptr<Tunnel>(new Tunnel(std::move(impl)));
}

const std::string& Tunnel::device() const { return impl_->tun.name; }

void Tunnel::set_peers(const std::vector<TunnelPeer>& wanted, std::optional<IpAddress> router) {
  Impl& d = *impl_;
  d.router.store(router && router->is_v4() ? router->v4_host_order() : 0);
  std::vector<Peer> peers;
  std::vector<PeerTable::Route> routes;
  std::map<NodeId, uint32_t> slot;  // owner -> index into peers
  const auto now = Clock::now();
  {
    std::lock_guard lock(d.mutex);
    std::map<NodeId, std::unique_ptr<PeerState>> kept;
    for (const TunnelPeer& w : wanted) {
      if (!w.subnet.network().is_v4()) continue;  // the overlay is IPv4
      auto [it, fresh] = slot.emplace(w.owner, static_cast<uint32_t>(peers.size()));
      if (fresh) {
        crypto::PublicKey key{};
        if (w.public_key.size() == key.size())
          std::copy(w.public_key.begin(), w.public_key.end(), key.begin());
        auto old = d.states.find(w.owner);
        std::unique_ptr<PeerState> state;
        if (old != d.states.end() && old->second->key == key) {
          state = std::move(old->second);  // same peer, same key: its sessions carry on
          d.states.erase(old);
        } else {
          state = std::make_unique<PeerState>();
          state->owner = w.owner;
          state->key = key;
        }
        state->name = w.name;
        PathPlan plan{w.endpoint, w.candidates, w.relay, w.punch, w.keepalive, w.address_works};
        if (!d.config.encrypt) plan = {w.endpoint, {}, std::nullopt, false, false};  // no roaming
        if (plan.relay == d.config.self || plan.relay == w.owner) plan.relay.reset();
        state->path.set_plan(plan, path_time(now));
        peers.push_back({state.get(), w.endpoint, {}, 0});
        kept.emplace(w.owner, std::move(state));
      }
      const uint32_t network = w.subnet.network().v4_host_order();
      const uint32_t mask = w.subnet.prefix() == 0 ? 0 : ~uint32_t{0} << (32 - w.subnet.prefix());
      routes.push_back({network, mask, it->second});
    }
    // Peers that are gone (or whose key changed): their sessions go with them.
    for (auto& [owner, state] : d.states) {
      d.drop_keypairs(*state);
      PeerState* raw = state.release();
      d.reclaimer.retire([raw] { delete raw; });
    }
    d.states = std::move(kept);
    // Relays first: another peer's path may go through one.
    for (auto& [owner, state] : d.states)
      if (state->path.plan().relay == std::nullopt) d.publish_locked(*state, now);
    for (auto& [owner, state] : d.states) d.publish_locked(*state, now);
  }
  auto* fresh = new PeerTable(std::move(peers), std::move(routes));
  const PeerTable* old = d.table.exchange(fresh, std::memory_order_acq_rel);
  d.reclaimer.retire([old] { delete old; });
  d.reclaimer.collect();
  // Handshake with new peers now, not on their first packet: a pod's first TCP SYN would
  // otherwise be dropped and wait a second for its retransmission. (This thread reads
  // `fresh` safely: only this thread retires tables.)
  if (d.config.encrypt) {
    for (const Peer& peer : fresh->peers()) {
      if (peer.state->current.load() == nullptr) d.initiate(*peer.state, now);
    }
  }
}

TunnelStatus Tunnel::status() const {
  const Impl& d = *impl_;
  TunnelStatus out;
  out.tun = d.tun.offloads;
  out.udp = d.socket.offloads;
  out.udp.gso = d.gso.load();
  out.cipher = d.config.encrypt ? std::string(crypto::to_string(d.proposal)) : "none";
  out.counters = d.tx_shared.read();
  out.counters.add(d.rx_shared.read());
  out.counters.handshakes_sent = d.handshakes_sent.load();
  out.counters.handshakes_done = d.handshakes_done.load();
  drop(out.counters, DropReason::kBadHandshake, d.bad_handshakes.load());
  drop(out.counters, DropReason::kUnknownSender, d.unknown_initiators.load());
  drop(out.counters, DropReason::kMisdirected, d.misdirected.load());
  out.roams = d.roams.load();
  out.punches_sent = d.punches_sent.load();
  out.keepalives_sent = d.keepalives_sent.load();
  std::lock_guard lock(d.mutex);
  out.peers = d.states.size();
  for (const auto& [owner, state] : d.states) {
    out.sessions += state->current.load() != nullptr;
    out.paths.push_back(d.describe_locked(*state));
  }
  return out;
}

std::optional<TunnelPath> Tunnel::path(const NodeId& owner) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->states.find(owner);
  if (it == impl_->states.end()) return std::nullopt;
  return impl_->describe_locked(*it->second);
}

}  // namespace shoal::udp
