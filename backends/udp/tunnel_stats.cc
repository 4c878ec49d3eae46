#include "backends/udp/tunnel_stats.h"

namespace shoal::udp {

std::string_view to_string(DropReason reason) {
  switch (reason) {
    case DropReason::kNoRoute:
      return "no_route";
    case DropReason::kTtlExpired:
      return "ttl_expired";
    case DropReason::kHandshakePending:
      return "handshake_pending";
    case DropReason::kBadPacket:
      return "bad_packet";
    case DropReason::kMalformed:
      return "malformed";
    case DropReason::kUnknownSender:
      return "unknown_sender";
    case DropReason::kAuthFailed:
      return "auth_failed";
    case DropReason::kReplay:
      return "replay";
    case DropReason::kSpoofed:
      return "spoofed_source";
    case DropReason::kBadHandshake:
      return "bad_handshake";
    case DropReason::kSendFailed:
      return "send_failed";
    case DropReason::kTunWriteFailed:
      return "tun_write_failed";
    case DropReason::kRelayRefused:
      return "relay_refused";
    case DropReason::kRelayLimited:
      return "relay_limited";
    case DropReason::kMisdirected:
      return "misdirected";
    case DropReason::kCount:
      break;
  }
  return "?";
}

namespace {

// The counters as one flat array, in a fixed order, for publishing.
template <typename Counters, typename Fn>
void each_field(Counters& c, Fn&& fn) {
  size_t i = 0;
  for (auto* f : {&c.tx_packets, &c.tx_bytes, &c.rx_packets, &c.rx_bytes, &c.handshakes_sent,
                  &c.handshakes_done, &c.tun_reads, &c.tun_writes, &c.send_calls, &c.receive_calls,
                  &c.relayed_packets, &c.relayed_bytes})
    fn(i++, *f);
  for (auto& d : c.dropped) fn(i++, d);
}

}  // namespace

void TunnelCounters::add(const TunnelCounters& other) {
  TunnelCounters copy = other;
  std::array<uint64_t, kCounterFields + kDropReasons> flat{};
  each_field(copy, [&](size_t i, uint64_t& v) { flat[i] = v; });
  each_field(*this, [&](size_t i, uint64_t& v) { v += flat[i]; });
}

void SharedCounters::publish(const TunnelCounters& local) {
  TunnelCounters copy = local;
  each_field(copy, [&](size_t i, uint64_t& v) { fields_[i].store(v, std::memory_order_relaxed); });
}

TunnelCounters SharedCounters::read() const {
  TunnelCounters out;
  each_field(out, [&](size_t i, uint64_t& v) { v = fields_[i].load(std::memory_order_relaxed); });
  return out;
}

}  // namespace shoal::udp
