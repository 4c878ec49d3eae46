// Identity is a host's long-term X25519 key pair. The public key travels in the host's
// lease record; the udp backend derives per-peer tunnel keys from it by key exchange.
// The secret is made here or restored from the store, lives in a SecureBuffer (guarded,
// locked, zeroed when freed) and is never printed. Move-only, so the secret is never
// copied by accident.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/status.h"
#include "crypto/secure_buffer.h"

namespace shoal::crypto {

inline constexpr size_t kX25519Size = 32;
using PublicKey = std::array<uint8_t, kX25519Size>;

class Identity {
 public:
  // A fresh key pair from the system's CSPRNG.
  static Identity generate();
  // Restores a stored secret and recomputes its public key. A secret that is not 32 bytes,
  // or whose public key cannot be computed, is a corruption error saying which.
  static Result<Identity> from_secret(ByteView secret);

  const PublicKey& public_key() const { return public_key_; }
  std::string public_key_base64() const;
  // The 32 secret bytes, for the store and for key exchange. Valid while *this lives.
  ByteView secret() const { return {secret_.data(), secret_.size()}; }

 private:
  Identity() = default;

  SecureBuffer secret_;
  PublicKey public_key_{};
};

}  // namespace shoal::crypto
