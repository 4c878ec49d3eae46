#include <doctest/doctest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <variant>

#include "crypto/identity.h"
#include "crypto/key.h"

using namespace shoal;
using namespace shoal::crypto;

namespace {

template <size_t N>
std::array<uint8_t, N> from_hex(const char* hex) {
  std::array<uint8_t, N> bytes{};
  REQUIRE(sodium_hex2bin(bytes.data(), N, hex, 2 * N, nullptr, nullptr, nullptr) == 0);
  return bytes;
}

}  // namespace

TEST_CASE("from_secret computes the RFC 7748 public key") {
  // RFC 7748 section 6.1, Alice's key pair.
  const auto secret =
      from_hex<32>("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const auto expected =
      from_hex<32>("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  const auto identity = Identity::from_secret(secret);
  REQUIRE(identity);
  CHECK(identity->public_key() == expected);
  CHECK(std::equal(identity->secret().begin(), identity->secret().end(), secret.begin()));
}

TEST_CASE("a generated identity is restored from its secret") {
  const Identity identity = Identity::generate();
  const auto restored = Identity::from_secret(identity.secret());
  REQUIRE(restored);
  CHECK(restored->public_key() == identity.public_key());
  CHECK(Identity::generate().public_key() != identity.public_key());
  CHECK(identity.public_key() != PublicKey{});

  CHECK(!Identity::from_secret(ByteView(identity.secret().data(), 31)));
  CHECK(!Identity::from_secret({}));
  const std::array<uint8_t, 33> too_long{};
  CHECK(!Identity::from_secret(too_long));

  // The refusal says what is wrong with the stored secret, never the secret itself.
  const auto short_secret = Identity::from_secret(ByteView(identity.secret().data(), 31));
  REQUIRE(!short_secret);
  CHECK(short_secret.error().code() == Status::Code::kCorruption);
  CHECK(short_secret.error().message() == "identity secret must be 32 bytes, got 31");
  CHECK(Identity::from_secret(too_long).error().message().find("got 33") != std::string::npos);
  CHECK(Identity::from_secret({}).error().message().find("got 0") != std::string::npos);
}

TEST_CASE("two identities agree on a shared secret") {
  const Identity a = Identity::generate(), b = Identity::generate();
  std::array<uint8_t, 32> ab{}, ba{};
  REQUIRE(crypto_scalarmult(ab.data(), a.secret().data(), b.public_key().data()) == 0);
  REQUIRE(crypto_scalarmult(ba.data(), b.secret().data(), a.public_key().data()) == 0);
  CHECK(ab == ba);
  CHECK(ab != std::array<uint8_t, 32>{});
  // A third party's secret gives something else.
  const Identity c = Identity::generate();
  std::array<uint8_t, 32> cb{};
  REQUIRE(crypto_scalarmult(cb.data(), c.secret().data(), b.public_key().data()) == 0);
  CHECK(cb != ab);
}

TEST_CASE("the public key prints as base64 and a moved identity keeps its secret") {
  Identity identity = Identity::generate();
  const PublicKey public_key = identity.public_key();
  const std::string text = identity.public_key_base64();
  CHECK(text.size() == 44);
  auto decoded = decode_key(text);  // same length and alphabet as a cluster key
  REQUIRE(decoded.ok());
  CHECK(decoded.value() == public_key);

  const Identity moved = std::move(identity);
  CHECK(moved.public_key() == public_key);
  CHECK(Identity::from_secret(moved.secret())->public_key() == public_key);
}
