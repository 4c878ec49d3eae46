// The udp tunnel's datagrams, the one door for the bytes peers send it. parse_datagram()
// reads the header of one UDP payload and says what it is; it checks every length and never
// reads outside the datagram. It does not authenticate anything: a data message is trusted
// only after its AEAD opens it, and then its replay counter is checked.
//
// Wire format (all integers big-endian; docs/udp.md):
//   plaintext data  type 5, 3 zero bytes, the inner IP packet
//   sealed data     type 4, 3 zero bytes, receiver index (4), counter (8), ciphertext, tag (16)
//   initiation      type 1, 128 bytes      response  type 2, 76 bytes   (crypto/noise_ik.h)
//   relayed         type 6, 3 zero bytes, destination node id (16), source node id (16),
//                   then one sealed, initiation or response message, end to end between
//                   source and destination: the relay reads only the two ids.
//
// A sealed message's plaintext is an IPv4 packet, nothing (a keepalive), or a tunnel
// control message, told apart by its first byte (an IPv4 packet's is 0x4_):
//   observed        0x01, family (4 or 6), port (2), address (4 or 16): "your packets reach
//                   me from here", how a host behind NAT learns its tunnel's public endpoint
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "common/bytes.h"
#include "common/endpoint.h"
#include "common/node_id.h"
#include "crypto/aead.h"
#include "crypto/noise_ik.h"

namespace shoal::udp {

inline constexpr size_t kPlainHeaderSize = 4;
inline constexpr size_t kSealedHeaderSize = crypto::kDataHeaderSize;
inline constexpr size_t kTagSize = crypto::kAeadTagSize;
inline constexpr uint8_t kMsgRelayed = 6;
inline constexpr size_t kRelayHeaderSize = 4 + 2 * NodeId::kSize;  // node::kUdpRelayHeader
inline constexpr size_t kMaxObservedSize = 4 + 16;

enum class DatagramKind : uint8_t { kPlain, kSealed, kInitiation, kResponse, kRelayed, kInvalid };

struct Datagram {
  DatagramKind kind = DatagramKind::kInvalid;
  uint32_t receiver_index = 0;  // sealed
  uint64_t counter = 0;         // sealed
  uint8_t* body = nullptr;      // plain: the inner packet; sealed: the ciphertext
  size_t body_size = 0;
  uint8_t* tag = nullptr;      // sealed: the 16-byte tag after the ciphertext
  NodeId destination, source;  // relayed; body is then the message it carries
};

// What `data[0, size)` holds. Messages of the other mode (plaintext on a sealed tunnel and
// the reverse) are kInvalid: a tunnel never mixes them.
Datagram parse_datagram(uint8_t* data, size_t size, bool sealed);

void write_plain_header(uint8_t* out);
void write_relay_header(uint8_t* out, const NodeId& destination, const NodeId& source);
void write_sealed_header(uint8_t* out, uint32_t receiver_index, uint64_t counter);

// True when `packet` starts like an IPv4 packet (version 4, at least a minimal header): what
// the tunnel carries. The TUN and GroBatch check the rest.
bool looks_like_ipv4(ByteView packet);

// The observed control message: writes at most kMaxObservedSize bytes, returns how many.
size_t write_observed(uint8_t* out, const Endpoint& endpoint);
// nullopt unless `plaintext` is exactly one well-formed observed message.
std::optional<Endpoint> parse_observed(ByteView plaintext);

}  // namespace shoal::udp
