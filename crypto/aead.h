// The udp tunnel's packet cipher. An AeadKey is one direction of one session: the 32-byte
// key that the handshake (crypto/noise_ik.h) derived, ready to seal or open data packets in
// place, with the packet counter as the nonce (4 zero bytes, then the counter little
// endian, as WireGuard does). Two ciphers are offered: ChaCha20-Poly1305 (IETF), which runs
// everywhere, and AES-256-GCM, which libsodium offers only on CPUs with AES-NI and
// PCLMUL; measure_aead() times both once and says which one this CPU should ask for.
//
// Promises: seal and open never allocate and touch no state but their arguments, so one
// key may be used from several threads at once; open on bytes that do not authenticate
// returns false and nothing else (the caller must not use the data then). The key lives in
// a SecureBuffer (for AES, as libsodium's expanded key schedule); AeadKey is move-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "common/bytes.h"
#include "crypto/secure_buffer.h"

namespace shoal::crypto {

// The values travel on the wire (the handshake's cipher byte): never renumber.
enum class Aead : uint8_t { kChaCha20Poly1305 = 1, kAes256Gcm = 2 };
// "chacha20-poly1305", "aes-256-gcm", or "unknown" for any other value.
std::string_view to_string(Aead aead);

inline constexpr size_t kAeadKeySize = 32;
inline constexpr size_t kAeadTagSize = 16;

// Whether this process can use `aead`: ChaCha always; AES only where libsodium has the
// hardware for it. False for values outside the enum.
bool aead_available(Aead aead);

// Which cipher seals 1400-byte packets faster here, with both rates for the log.
struct AeadMeasurement {
  Aead preferred;
  double chacha_mbps;
  double aes_mbps;  // 0 when AES-256-GCM is not available
};
// Measured on the first call (a few milliseconds), then cached; thread-safe. AES is
// preferred only when available and faster than ChaCha.
const AeadMeasurement& measure_aead();

class AeadKey {
 public:
  // Preconditions (SHOAL_REQUIRE): key.size() == kAeadKeySize and aead_available(aead).
  static AeadKey make(Aead aead, ByteView key);

  Aead aead() const { return aead_; }

  // data[0..len) becomes its ciphertext in place; the 16-byte tag goes to tag[0..16).
  // `aad` is authenticated, not encrypted, and may be empty. Never use a counter twice
  // with one key.
  void seal(uint64_t counter, ByteView aad, uint8_t* data, size_t len, uint8_t* tag) const;
  // In place; false if the ciphertext, tag, aad or counter do not authenticate, and then
  // data[0..len) is unspecified.
  bool open(uint64_t counter, ByteView aad, uint8_t* data, size_t len, const uint8_t* tag) const;

 private:
  AeadKey(Aead aead, SecureBuffer memory, size_t offset)
      : aead_(aead), memory_(std::move(memory)), offset_(offset) {}
  const uint8_t* material() const { return memory_.data() + offset_; }

  Aead aead_;
  // ChaCha: the 32-byte key. AES: crypto_aead_aes256gcm_state, at `offset_` so that it
  // is 16-byte aligned (an offset, not a pointer, so that a move keeps it right).
  SecureBuffer memory_;
  size_t offset_;
};

}  // namespace shoal::crypto
