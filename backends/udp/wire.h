// The udp tunnel's datagrams, the one door for the bytes peers send it. parse_datagram()
// reads the header of one UDP payload and says what it is; it checks every length and never
// reads outside the datagram. It does not authenticate anything: a data message is trusted
// only after its AEAD opens it, and then its replay counter is checked.
//
// Wire format (all integers big-endian; docs/udp.md):
//   plaintext data  type 5, 3 zero bytes, the inner IP packet
//   sealed data     type 4, 3 zero bytes, receiver index (4), counter (8), ciphertext, tag (16)
//   initiation      type 1, 128 bytes      response  type 2, 76 bytes   (crypto/noise_ik.h)
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/bytes.h"
#include "crypto/aead.h"
#include "crypto/noise_ik.h"

namespace shoal::udp {

inline constexpr size_t kPlainHeaderSize = 4;
inline constexpr size_t kSealedHeaderSize = crypto::kDataHeaderSize;
inline constexpr size_t kTagSize = crypto::kAeadTagSize;

enum class DatagramKind : uint8_t { kPlain, kSealed, kInitiation, kResponse, kInvalid };

struct Datagram {
  DatagramKind kind = DatagramKind::kInvalid;
  uint32_t receiver_index = 0;  // sealed
  uint64_t counter = 0;         // sealed
  uint8_t* body = nullptr;      // plain: the inner packet; sealed: the ciphertext
  size_t body_size = 0;
  uint8_t* tag = nullptr;  // sealed: the 16-byte tag after the ciphertext
};

// What `data[0, size)` holds. Messages of the other mode (plaintext on a sealed tunnel and
// the reverse) are kInvalid: a tunnel never mixes them.
Datagram parse_datagram(uint8_t* data, size_t size, bool sealed);

void write_plain_header(uint8_t* out);
void write_sealed_header(uint8_t* out, uint32_t receiver_index, uint64_t counter);

// True when `packet` starts like an IPv4 packet (version 4, at least a minimal header): what
// the tunnel carries. The TUN and GroBatch check the rest.
bool looks_like_ipv4(ByteView packet);

}  // namespace shoal::udp
