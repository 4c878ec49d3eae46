#include "crypto/identity.h"

#include <sodium.h>

#include <algorithm>

#include "crypto/key.h"

namespace shoal::crypto {

static_assert(kX25519Size == crypto_scalarmult_BYTES);
static_assert(kX25519Size == crypto_scalarmult_SCALARBYTES);

Identity Identity::generate() {
  Identity identity;
  identity.secret_ = SecureBuffer(kX25519Size);  // also initialises libsodium
  randombytes_buf(identity.secret_.data(), kX25519Size);
  // Fails only for a scalar whose public key would be the all-zero point, which clamping
  // makes impossible; checked anyway rather than hand out a broken identity.
  const int derived = crypto_scalarmult_base(identity.public_key_.data(), identity.secret_.data());
  SHOAL_REQUIRE(derived == 0);
  return identity;
}

Result<Identity> Identity::from_secret(ByteView secret) {
  if (secret.size() != kX25519Size)
    return Status::corruption("identity secret must be " + std::to_string(kX25519Size) +
                              " bytes, got " + std::to_string(secret.size()));
  Identity identity;
  identity.secret_ = SecureBuffer(kX25519Size);
  std::copy(secret.begin(), secret.end(), identity.secret_.data());
  if (crypto_scalarmult_base(identity.public_key_.data(), identity.secret_.data()) != 0)
    return Status::corruption("identity secret gives no X25519 public key");
  return identity;
}

std::string Identity::public_key_base64() const { return to_base64(public_key_); }

}  // namespace shoal::crypto
