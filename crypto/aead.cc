#include "crypto/aead.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <memory>

#include "common/byte_order.h"
#include "common/status.h"
#include "crypto/sodium_init.h"

namespace shoal::crypto {

static_assert(kAeadKeySize == crypto_aead_chacha20poly1305_ietf_KEYBYTES);
static_assert(kAeadKeySize == crypto_aead_aes256gcm_KEYBYTES);
static_assert(kAeadTagSize == crypto_aead_chacha20poly1305_ietf_ABYTES);
static_assert(kAeadTagSize == crypto_aead_aes256gcm_ABYTES);
static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12);
static_assert(crypto_aead_aes256gcm_NPUBBYTES == 12);

namespace {

using Nonce = std::array<uint8_t, 12>;

// WireGuard's nonce: 32 zero bits, then the 64-bit counter little endian.
Nonce nonce_for(uint64_t counter) {
  Nonce nonce{};
  put_le64(nonce.data() + 4, counter);
  return nonce;
}

using AesState = crypto_aead_aes256gcm_state;

}  // namespace

std::string_view to_string(Aead aead) {
  switch (aead) {
    case Aead::kChaCha20Poly1305:
      return "chacha20-poly1305";
    case Aead::kAes256Gcm:
      return "aes-256-gcm";
  }
  return "unknown";
}

bool aead_available(Aead aead) {
  switch (aead) {
    case Aead::kChaCha20Poly1305:
      return true;
    case Aead::kAes256Gcm:
      // The answer depends on CPU features that sodium_init() detects.
      return init() && crypto_aead_aes256gcm_is_available() == 1;
  }
  return false;
}

AeadKey AeadKey::make(Aead aead, ByteView key) {
  SHOAL_REQUIRE(key.size() == kAeadKeySize);
  SHOAL_REQUIRE(aead_available(aead));
  if (aead == Aead::kChaCha20Poly1305) {
    SecureBuffer memory(kAeadKeySize);
    std::memcpy(memory.data(), key.data(), kAeadKeySize);
    return AeadKey(aead, std::move(memory), 0);
  }
  // sodium_malloc places the buffer against its guard page, so its alignment depends on
  // the size; over-allocate and align by hand rather than rely on that.
  SecureBuffer memory(sizeof(AesState) + alignof(AesState));
  void* at = memory.data();
  size_t space = memory.size();
  std::align(alignof(AesState), sizeof(AesState), at, space);
  const size_t offset = static_cast<size_t>(static_cast<uint8_t*>(at) - memory.data());
  crypto_aead_aes256gcm_beforenm(static_cast<AesState*>(at), key.data());
  return AeadKey(aead, std::move(memory), offset);
}

void AeadKey::seal(uint64_t counter, ByteView aad, uint8_t* data, size_t len, uint8_t* tag) const {
  const Nonce nonce = nonce_for(counter);
  uint8_t nothing = 0;  // libsodium declares the text pointers non-null, even for 0 bytes
  if (len == 0) data = &nothing;
  if (aead_ == Aead::kAes256Gcm) {
    crypto_aead_aes256gcm_encrypt_detached_afternm(data, tag, nullptr, data, len, aad.data(),
                                                   aad.size(), nullptr, nonce.data(),
                                                   reinterpret_cast<const AesState*>(material()));
  } else {
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(
        data, tag, nullptr, data, len, aad.data(), aad.size(), nullptr, nonce.data(), material());
  }
}

bool AeadKey::open(uint64_t counter, ByteView aad, uint8_t* data, size_t len,
                   const uint8_t* tag) const {
  const Nonce nonce = nonce_for(counter);
  uint8_t nothing = 0;
  if (len == 0) data = &nothing;
  if (aead_ == Aead::kAes256Gcm) {
    return crypto_aead_aes256gcm_decrypt_detached_afternm(
               data, nullptr, data, len, tag, aad.data(), aad.size(), nonce.data(),
               reinterpret_cast<const AesState*>(material())) == 0;
  }
  return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
             data, nullptr, data, len, tag, aad.data(), aad.size(), nonce.data(), material()) == 0;
}

namespace {

// Seals a 1400-byte packet (a typical tunnel MTU) over and over and keeps the best of a
// few rounds, so one preemption does not decide. About a millisecond per cipher.
double seal_rate_mbps(const AeadKey& key) {
  constexpr size_t kPacket = 1400;
  constexpr int kPackets = 128;
  constexpr int kRounds = 5;
  std::array<uint8_t, kPacket> packet{};
  std::array<uint8_t, kAeadTagSize> tag{};
  uint64_t counter = 0;
  for (int i = 0; i < 16; ++i) key.seal(counter++, {}, packet.data(), packet.size(), tag.data());
  double best = 0;
  for (int round = 0; round < kRounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kPackets; ++i)
      key.seal(counter++, {}, packet.data(), packet.size(), tag.data());
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    if (took.count() > 0)
      best = std::max(best, static_cast<double>(kPacket) * kPackets / took.count() / 1e6);
  }
  return best;
}

AeadMeasurement measure() {
  require_init();
  std::array<uint8_t, kAeadKeySize> key;
  randombytes_buf(key.data(), key.size());  // any key will do; it only seals zeros
  AeadMeasurement m{Aead::kChaCha20Poly1305, 0, 0};
  m.chacha_mbps = seal_rate_mbps(AeadKey::make(Aead::kChaCha20Poly1305, key));
  if (aead_available(Aead::kAes256Gcm)) {
    m.aes_mbps = seal_rate_mbps(AeadKey::make(Aead::kAes256Gcm, key));
    if (m.aes_mbps > m.chacha_mbps) m.preferred = Aead::kAes256Gcm;
  }
  sodium_memzero(key.data(), key.size());
  return m;
}

}  // namespace

const AeadMeasurement& measure_aead() {
  // A function-local static is initialised exactly once, even with several threads.
  static const AeadMeasurement measured = measure();
  return measured;
}

}  // namespace shoal::crypto
