// The udp tunnel's view of its peers, shared by its threads without a lock on the hot path.
//
// PeerTable is an immutable snapshot (who owns which subnet, at which underlay endpoint,
// with which public key), rebuilt from the plan on every change and published by pointer.
// A PeerState outlives snapshots: it holds a peer's sessions and its path (peer_path.h), so
// a lease change that keeps the peer and its key keeps both. A Keypair is one session's two
// keys. SendTo is where the peer's datagrams go now, published by pointer like the table.
//
// Reclaimer frees what a new snapshot replaced only after every worker thread has passed a
// quiescent point (the top of its loop) since it was retired: the workers read snapshots,
// peer states and keypairs through plain pointers and never take a lock for them.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backends/udp/peer_path.h"
#include "common/cidr.h"
#include "common/endpoint.h"
#include "common/node_id.h"
#include "crypto/identity.h"
#include "crypto/noise_ik.h"
#include "crypto/replay_window.h"

namespace shoal::udp {

struct PeerState;

struct Keypair {
  Keypair(uint32_t local, uint32_t remote, crypto::SessionKeys session,
          std::chrono::steady_clock::time_point at, bool initiated, PeerState* owner)
      : local_index(local),
        remote_index(remote),
        keys(std::move(session)),
        created(at),
        initiator(initiated),
        confirmed(initiated),
        peer(owner) {}
  const uint32_t local_index;   // what the peer puts in its data packets to us
  const uint32_t remote_index;  // what we put in ours
  const crypto::SessionKeys keys;
  const std::chrono::steady_clock::time_point created;
  const bool initiator;
  std::atomic<uint64_t> next_counter{0};  // reserved in ranges by the sending thread
  std::atomic<bool> confirmed;            // responder: the initiator has used it
  crypto::ReplayWindow replay;            // the receiving thread's only
  PeerState* const peer;
};

// Immutable once published.
struct SendTo {
  SendTarget target;  // the peer's own endpoint, or the relay's (then wrapped for it)
  sockaddr_storage address{};
  socklen_t address_length = 0;
};

struct PeerState {
  NodeId owner;
  std::string name;
  crypto::PublicKey key{};
  std::atomic<Keypair*> current{nullptr};       // what we seal with
  std::atomic<int64_t> next_initiation{0};      // steady_clock ticks: no handshake before
  std::atomic<const SendTo*> send_to{nullptr};  // never null once in a table
  // steady_clock ticks of the last authenticated packet straight from send_to's endpoint,
  // and through a relay; written by the receiving thread, read by tick().
  std::atomic<int64_t> heard_direct{0}, heard_relayed{0};
  // steady_clock ticks when we last sent it data, and anything (data or a keepalive); the
  // sending thread writes them at most every few milliseconds.
  std::atomic<int64_t> sent_data{0}, sent_any{0};
  // Under the tunnel's handshake mutex.
  std::vector<Keypair*> keypairs;  // newest last; at most kKeypairsKept
  std::optional<crypto::Initiator> pending;
  std::chrono::steady_clock::time_point last_initiation{};
  uint64_t last_timestamp = 0;  // of the newest initiation accepted from this peer
  PeerPath path;
  std::optional<Endpoint> sees_us_at;                    // what its observed messages said last
  std::chrono::steady_clock::time_point sees_us_when{};  // and when
};

struct Peer {
  PeerState* state = nullptr;
  Endpoint endpoint;
  sockaddr_storage address{};
  socklen_t address_length = 0;
};

class PeerTable {
 public:
  struct Route {
    uint32_t network = 0;  // host order
    uint32_t mask = 0;
    uint32_t peer = 0;  // index into peers
  };
  PeerTable(std::vector<Peer> peers, std::vector<Route> routes);

  // The peer whose subnet holds `ipv4` (host order), or null.
  const Peer* route(uint32_t ipv4) const;
  // The peer at this underlay endpoint, or null.
  const Peer* at(const Endpoint& endpoint) const;
  // The peer with this static key, or null.
  const Peer* with_key(const crypto::PublicKey& key) const;
  // The peer with this node id, or null.
  const Peer* with_owner(const NodeId& owner) const;
  const std::vector<Peer>& peers() const { return peers_; }

 private:
  std::vector<Peer> peers_;
  std::vector<Route> routes_;  // by network; subnets never overlap
  std::vector<std::pair<Endpoint, uint32_t>> by_endpoint_;
  std::vector<std::pair<NodeId, uint32_t>> by_owner_;
};

class Reclaimer {
 public:
  explicit Reclaimer(int workers);
  ~Reclaimer();  // frees everything still retired (the workers have stopped)
  // A worker holds no pointer it read before this call.
  void quiescent(int worker);
  // Frees `what` once every worker has been quiescent since now.
  void retire(std::function<void()> what);
  // Runs the frees whose time has come.
  void collect();

 private:
  std::atomic<uint64_t> epoch_{1};
  std::vector<std::atomic<uint64_t>> seen_;
  std::mutex mutex_;
  std::vector<std::pair<uint64_t, std::function<void()>>> retired_;
};

}  // namespace shoal::udp
