// Tunnel is shoal's udp backend datapath: packets the kernel routes into the TUN device go
// to the peer that owns their destination's subnet, in UDP datagrams, sealed when
// encryption is on; datagrams from peers are opened, checked and written to the TUN.
//
// Two threads, one per direction, so a flow is never reordered. The transmit thread reads
// super-packets from the TUN (offload.h splits them), seals each segment in place in a
// buffer with room for the tunnel header and tag, and sends each peer's run of equal
// segments with one UDP_SEGMENT send (sendmmsg for the batch). The receive thread takes
// batches with recvmmsg (and UDP_GRO), opens each datagram in place, checks its replay
// counter only after it authenticated, and coalesces TCP segments (GRO) before writing.
// Neither thread takes a lock for peer lookup: the peer table is a published snapshot.
//
// Promises: a datagram that fails authentication, replays, comes from no known peer, or
// carries an inner source outside its peer's subnets is dropped and counted, never written
// to the TUN. Packets for an address no peer owns get an ICMP net unreachable; TTL 1 gets
// time exceeded. Sessions come from the Noise IK handshake of crypto/noise_ik.h, rekeyed
// after `rekey_after` or 2^60 messages without dropping traffic (the old session keeps
// working until the new one is confirmed). docs/udp.md has the wire format.
//
// Across NATs (docs/sites.md): each peer's path (peer_path.h) follows only authenticated
// packets, so traffic roams to wherever a peer's sealed packets come from. Handshakes go to
// every endpoint the peer advertises at once, and through a relay member when the plan names
// one; keepalives hold NAT mappings open and tell the peer where its packets come from
// (how a host learns its tunnel's public endpoint: reflexive()). A relay forwards the
// end-to-end sealed messages only between peers it holds live sessions with, and cannot read
// or forge them.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/udp/peer_path.h"
#include "backends/udp/tun.h"
#include "backends/udp/tunnel_stats.h"
#include "backends/udp/udp_socket.h"
#include "common/bytes.h"
#include "common/cidr.h"
#include "common/endpoint.h"
#include "common/node_id.h"
#include "common/status.h"
#include "crypto/identity.h"

namespace shoal::udp {

struct TunnelConfig {
  std::string device = "shoal0";
  Endpoint bind;  // the underlay address and the backend's port
  bool encrypt = true;
  std::chrono::milliseconds rekey_after{120'000};
  uint64_t rekey_after_messages = uint64_t{1} << 60;
  NodeId self;                                  // names us in relayed datagrams
  std::chrono::milliseconds keepalive{25'000};  // across a NAT
  bool relay = true;                            // pass on datagrams between other peers
  uint32_t relay_max_mbps = 0;                  // 0: no cap
};

struct TunnelPeer {
  NodeId owner;
  std::string name;
  Cidr subnet;
  Endpoint endpoint;  // the peer's underlay address and port
  Bytes public_key;   // its X25519 identity key (32 bytes); may be empty when not encrypting
  // Across NATs (encrypted tunnels only): more endpoints to try, a member that relays to it,
  // whether to punch and to keep the mapping open. peer_path.h says how they are used.
  std::vector<Endpoint> candidates;
  std::optional<NodeId> relay;
  bool punch = false;
  bool keepalive = false;
  bool address_works = true;  // false: `endpoint` is a private address across a NAT
  bool operator==(const TunnelPeer&) const = default;
};

struct TunnelPath {
  NodeId owner;
  std::string name;
  PathKind kind = PathKind::kUnknown;
  std::optional<Endpoint> endpoint;  // where its packets came from last
  bool via_relay = false;            // data goes through the relay now
};

struct TunnelStatus {
  TunOffloads tun;
  UdpOffloads udp;
  std::string cipher;  // "chacha20-poly1305", "aes-256-gcm" or "none"
  TunnelCounters counters;
  size_t peers = 0, sessions = 0;
  uint64_t roams = 0;            // a peer's endpoint moved (authenticated packets only)
  uint64_t punches_sent = 0;     // datagrams sent to punch a hole
  uint64_t keepalives_sent = 0;  // sent to hold a NAT mapping open
  std::vector<TunnelPath> paths;
};

class Tunnel {
 public:
  // Opens the TUN device and the socket and starts the threads. `identity` must outlive
  // the tunnel.
  static Result<std::unique_ptr<Tunnel>> start(const TunnelConfig& config,
                                               const crypto::Identity& identity);
  ~Tunnel();  // stops the threads; the (persistent) device stays
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  // From the control thread: the peers to carry traffic to (one entry per subnet) and the
  // address ICMP errors come from (our subnet's .0; nullopt: none sent).
  void set_peers(const std::vector<TunnelPeer>& peers, std::optional<IpAddress> router);
  // From the control thread, about once a second: handshakes with peers across a NAT,
  // keepalives, punches, and the move to a relay when a direct path went quiet.
  void tick();
  // Our tunnel's endpoints as peers outside our NAT see them (at most kMaxReflexive, the
  // newest observation first; observations stale after twice a path's stale time are
  // forgotten); empty when none has said or all see our bind address.
  static constexpr size_t kMaxReflexive = 2;
  std::vector<Endpoint> reflexive() const;
  TunnelStatus status() const;
  // One peer's path (status().paths' entry), or nullopt when it is no peer of the tunnel.
  std::optional<TunnelPath> path(const NodeId& owner) const;
  const std::string& device() const;

 private:
  struct Impl;
  explicit Tunnel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::udp
