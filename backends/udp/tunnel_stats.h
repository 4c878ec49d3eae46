// What the udp tunnel counts: packets and bytes each way, handshakes, and every dropped
// packet by reason. Each worker thread keeps its own TunnelStats and publishes it with
// relaxed atomics once per batch, so counting costs the hot path no shared cache line.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace shoal::udp {

// Why the tunnel dropped a packet: each is a label of shoal_tunnel_dropped_total.
enum class DropReason : uint8_t {
  kNoRoute,           // to the TUN's network, but no lease covers the address (ICMP sent)
  kTtlExpired,        // TTL 1: not forwarded (ICMP time exceeded sent)
  kHandshakePending,  // no session with the peer yet (a handshake is on its way)
  kBadPacket,         // from the TUN: not an IP packet, or a malformed offload header
  kMalformed,         // from the wire: too short, an unknown type, a bad inner packet
  kUnknownSender,     // from an address, key or session index no lease knows
  kAuthFailed,        // did not authenticate (tampered, or another key)
  kReplay,            // authenticated, but its counter was seen before or is too old
  kSpoofed,           // inner source outside the sending peer's subnets
  kBadHandshake,      // a handshake message that did not verify (or a replayed one)
  kSendFailed,        // the socket refused it (buffer full, no route on the underlay)
  kTunWriteFailed,    // the TUN refused it
  kRelayRefused,      // asked to relay: we do not relay, or do not know the sender or target
  kRelayLimited,      // asked to relay beyond RelayMaxMbps
  kMisdirected,       // a handshake made for another host's key (sites reuse LAN addresses)
  kCount
};
inline constexpr size_t kDropReasons = static_cast<size_t>(DropReason::kCount);
// snake_case, the metrics label: "no_route", "spoofed_source", ...
std::string_view to_string(DropReason reason);

inline constexpr size_t kCounterFields = 12;  // TunnelCounters' plain fields

struct TunnelCounters {
  uint64_t tx_packets = 0, tx_bytes = 0;  // inner packets sealed and sent, their bytes
  uint64_t rx_packets = 0, rx_bytes = 0;  // inner packets accepted and written to the TUN
  uint64_t handshakes_sent = 0, handshakes_done = 0;
  uint64_t tun_reads = 0, tun_writes = 0, send_calls = 0, receive_calls = 0;
  uint64_t relayed_packets = 0, relayed_bytes = 0;  // datagrams we passed on for others
  std::array<uint64_t, kDropReasons> dropped{};     // indexed by DropReason
  void add(const TunnelCounters& other);
};

// Counts `packets` dropped for `reason`: every drop goes through here.
inline void drop(TunnelCounters& counters, DropReason reason, uint64_t packets = 1) {
  counters.dropped[static_cast<size_t>(reason)] += packets;
}

// A worker's counters, readable from another thread.
class SharedCounters {
 public:
  void publish(const TunnelCounters& local);  // the worker's running totals
  TunnelCounters read() const;

 private:
  static constexpr size_t kFields = kCounterFields + kDropReasons;
  std::array<std::atomic<uint64_t>, kFields> fields_{};
};

}  // namespace shoal::udp
