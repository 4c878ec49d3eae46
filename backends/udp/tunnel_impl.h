// The udp tunnel's insides, shared by its two files: tunnel.cc (the worker threads' loops and
// the control calls) and tunnel_session.cc (handshakes, paths, keepalives and relaying).
// Not part of the module's interface.
#pragma once

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "backends/udp/offload.h"
#include "backends/udp/peers.h"
#include "backends/udp/session_policy.h"
#include "backends/udp/tunnel.h"
#include "backends/udp/wire.h"

namespace shoal::udp {

using Clock = std::chrono::steady_clock;

inline constexpr int kIndexBits = 14;
inline constexpr uint32_t kIndexMask = (1u << kIndexBits) - 1;
inline constexpr size_t kKeypairsKept = 3;  // current, previous, and one being confirmed
inline constexpr auto kHandshakeRetry = std::chrono::milliseconds(1000);
inline constexpr auto kRejectAfterExtra = std::chrono::seconds(60);  // old keys' grace
// Data received with nothing sent back for this long is answered with a keepalive
// (WireGuard's passive keepalive, sooner: PeerPath::kSilence counts on it).
inline constexpr auto kPassiveKeepalive = std::chrono::seconds(1);
// The sending thread notes "sent to this peer" at most this often (one store per packet
// would bounce the peer's cache line between the threads).
inline constexpr auto kSentNoteEvery = std::chrono::milliseconds(50);

// PeerPath speaks the cores' TimePoint; the tunnel reads steady_clock.
inline TimePoint path_time(Clock::time_point t) {
  return TimePoint(std::chrono::duration_cast<Duration>(t.time_since_epoch()));
}

enum Worker { kTxWorker = 0, kRxWorker = 1 };

struct Tunnel::Impl {
  Impl(const TunnelConfig& c, const crypto::Identity& id) : config(c), identity(id) {}
  ~Impl();

  // Shared, read-mostly.
  TunnelConfig config;
  const crypto::Identity& identity;
  OpenedTun tun;
  OpenedSocket socket;
  Fd stop_fd;  // an eventfd: written once to wake the threads for good
  std::atomic<bool> stop{false};
  crypto::Aead proposal = crypto::Aead::kChaCha20Poly1305;
  std::atomic<bool> gso{false};
  std::atomic<const PeerTable*> table{nullptr};
  std::atomic<uint32_t> router{0};  // IPv4 host order; 0: send no ICMP
  Reclaimer reclaimer{2};
  std::array<std::atomic<Keypair*>, kIndexMask + 1> by_index{};
  SharedCounters tx_shared, rx_shared;
  std::atomic<uint64_t> handshakes_sent{0}, handshakes_done{0}, bad_handshakes{0};
  // Authentic initiations from a key no lease of ours holds yet: at start a peer may learn
  // our lease before we learn its own, and it retries within kHandshakeRetry.
  std::atomic<uint64_t> unknown_initiators{0};
  std::atomic<uint64_t> misdirected{0};  // initiations made for another host's key
  std::atomic<uint64_t> roams{0}, punches_sent{0}, keepalives_sent{0};

  // Under `mutex`: peer states, pending handshakes, the last handshake timestamp, paths.
  mutable std::mutex mutex;
  std::map<NodeId, std::unique_ptr<PeerState>> states;
  std::unordered_map<uint32_t, PeerState*> pending;  // our initiation's index -> peer
  uint64_t last_timestamp = 0;

  std::thread tx_thread, rx_thread;

  // Handshakes (both threads; take `mutex`).
  void initiate(PeerState& state, Clock::time_point now);
  void initiate_locked(PeerState& state, Clock::time_point now);
  void on_initiation(ByteView message, const Endpoint& from, bool relayed, Clock::time_point now);
  void on_response(ByteView message, const Endpoint& from, bool relayed, Clock::time_point now);
  void confirm(Keypair& keypair, Clock::time_point now);
  // Whether to seal with `fresh` instead of `current` (session_policy.h: crossings resolve
  // to the session the lower node id initiated).
  bool seal_with(const PeerState& state, const Keypair* current, const Keypair& fresh) const;
  uint32_t free_index();
  void install(PeerState& state, Keypair* keypair);
  void retire(Keypair* keypair);
  void forget_pending(PeerState& state);
  void drop_keypairs(PeerState& state);
  uint64_t timestamp();

  // Paths (take or hold `mutex` as named).
  // An authenticated packet of the peer's came straight from `from`, or through its relay:
  // what PeerPath and the tick learn from it. True when its direct endpoint moved (counted
  // as a roam). Holds `mutex`.
  bool heard_locked(PeerState& state, const Endpoint& from, bool relayed, Clock::time_point now);
  // An authenticated packet came straight from `from` and send_to is elsewhere.
  void roam(PeerState& state, const Endpoint& from, Clock::time_point now);
  // Publishes where the peer's datagrams go now, if that changed. Holds `mutex`.
  void publish_locked(PeerState& state, Clock::time_point now);
  // A keepalive that tells the peer where its packets come from (wire.h's observed), sealed
  // with `keypair`, to `to`. Any thread.
  void send_keepalive(PeerState& state, Keypair& keypair, const SendTo& to);
  void note_observed(PeerState& state, const Endpoint& seen_at, Clock::time_point now);
  // The receiving thread got data from a peer we have sent nothing for kPassiveKeepalive.
  void passive_keepalive(PeerState& state, Clock::time_point now);
  // The sending thread sent the peer data.
  static void note_sent(PeerState& state, Clock::time_point now) {
    const int64_t ticks = now.time_since_epoch().count();
    if (ticks - state.sent_data.load(std::memory_order_relaxed) <
        Clock::duration(kSentNoteEvery).count())
      return;
    state.sent_data.store(ticks, std::memory_order_relaxed);
    state.sent_any.store(ticks, std::memory_order_relaxed);
  }
  void tick_locked(PeerState& state, Clock::time_point now);
  TunnelPath describe_locked(const PeerState& state) const;

  // Sending one message: straight, or wrapped for the relay when `to` says so.
  void send_message(const PeerState& state, const SendTo& to, ByteView message);
  void send_to(const sockaddr_storage& to, socklen_t length, ByteView message);

  void tx_loop();
  void rx_loop();
  bool wait(int fd, short events);  // false when stopping
};

SendTo make_send_to(const SendTarget& target);

}  // namespace shoal::udp
