// AeadKey: sealing and opening in place with both ciphers (AES only where this CPU has
// it), the nonce layout against libsodium called directly, and refusal of a wrong counter,
// a changed tag, ciphertext or aad, and another key. measure_aead's answer is consistent.
#include <doctest/doctest.h>
#include <sodium.h>

#include <array>
#include <vector>

#include "common/byte_order.h"
#include "crypto/aead.h"
#include "crypto/sodium_init.h"
#include "dies.h"

using namespace shoal;
using namespace shoal::crypto;

namespace {

std::array<uint8_t, kAeadKeySize> test_key(uint8_t seed) {
  std::array<uint8_t, kAeadKeySize> key;
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(seed + 7 * i);
  return key;
}

std::vector<uint8_t> test_data(size_t len) {
  std::vector<uint8_t> data(len);
  for (size_t i = 0; i < len; ++i) data[i] = static_cast<uint8_t>(i * 31 + 5);
  return data;
}

std::vector<Aead> available_ciphers() {
  std::vector<Aead> ciphers{Aead::kChaCha20Poly1305};
  if (aead_available(Aead::kAes256Gcm)) ciphers.push_back(Aead::kAes256Gcm);
  return ciphers;
}

}  // namespace

TEST_CASE("crypto.aead: names and availability") {
  CHECK(to_string(Aead::kChaCha20Poly1305) == "chacha20-poly1305");
  CHECK(to_string(Aead::kAes256Gcm) == "aes-256-gcm");
  CHECK(to_string(static_cast<Aead>(9)) == "unknown");
  CHECK(aead_available(Aead::kChaCha20Poly1305));
  CHECK_FALSE(aead_available(static_cast<Aead>(0)));
  REQUIRE(init());  // libsodium detects the CPU's AES support in sodium_init()
  CHECK(aead_available(Aead::kAes256Gcm) == (crypto_aead_aes256gcm_is_available() == 1));
}

TEST_CASE("crypto.aead: seal and open round trip in place, every size, both ciphers") {
  const auto key_bytes = test_key(1);
  const std::array<uint8_t, 5> aad{9, 8, 7, 6, 5};
  for (Aead aead : available_ciphers()) {
    INFO(to_string(aead));
    const AeadKey key = AeadKey::make(aead, key_bytes);
    CHECK(key.aead() == aead);
    for (size_t len : {0, 1, 15, 16, 17, 64, 1400, 9000}) {
      INFO("len " << len);
      const std::vector<uint8_t> plain = test_data(len);
      std::vector<uint8_t> data = plain;
      std::array<uint8_t, kAeadTagSize> tag{};
      key.seal(77, aad, data.data(), data.size(), tag.data());
      if (len >= 16) CHECK(data != plain);
      REQUIRE(key.open(77, aad, data.data(), data.size(), tag.data()));
      CHECK(data == plain);
      // Empty aad works as well.
      key.seal(78, {}, data.data(), data.size(), tag.data());
      REQUIRE(key.open(78, {}, data.data(), data.size(), tag.data()));
      CHECK(data == plain);
    }
  }
}

TEST_CASE("crypto.aead: the nonce is 4 zero bytes then the counter little endian") {
  const auto key_bytes = test_key(2);
  const uint64_t counter = 0x0102030405060708;
  std::array<uint8_t, 12> nonce{};
  put_le64(nonce.data() + 4, counter);
  const std::vector<uint8_t> plain = test_data(100);
  const std::array<uint8_t, 3> aad{1, 2, 3};
  for (Aead aead : available_ciphers()) {
    INFO(to_string(aead));
    std::vector<uint8_t> expected(plain.size() + kAeadTagSize);
    if (aead == Aead::kAes256Gcm) {
      crypto_aead_aes256gcm_encrypt(expected.data(), nullptr, plain.data(), plain.size(),
                                    aad.data(), aad.size(), nullptr, nonce.data(),
                                    key_bytes.data());
    } else {
      crypto_aead_chacha20poly1305_ietf_encrypt(expected.data(), nullptr, plain.data(),
                                                plain.size(), aad.data(), aad.size(), nullptr,
                                                nonce.data(), key_bytes.data());
    }
    std::vector<uint8_t> data = plain;
    data.resize(plain.size() + kAeadTagSize);
    AeadKey::make(aead, key_bytes)
        .seal(counter, aad, data.data(), plain.size(), data.data() + plain.size());
    CHECK(data == expected);
  }
}

TEST_CASE("crypto.aead: wrong counter, changed tag, ciphertext or aad, other key fail") {
  const auto key_bytes = test_key(3);
  const std::array<uint8_t, 4> aad{1, 2, 3, 4};
  for (Aead aead : available_ciphers()) {
    INFO(to_string(aead));
    const AeadKey key = AeadKey::make(aead, key_bytes);
    const AeadKey other = AeadKey::make(aead, test_key(4));
    const std::vector<uint8_t> plain = test_data(200);
    std::vector<uint8_t> sealed = plain;
    std::array<uint8_t, kAeadTagSize> tag{};
    key.seal(5, aad, sealed.data(), sealed.size(), tag.data());

    auto opens = [&](const AeadKey& k, uint64_t counter, ByteView a, std::vector<uint8_t> data,
                     std::array<uint8_t, kAeadTagSize> t) {
      return k.open(counter, a, data.data(), data.size(), t.data());
    };
    CHECK(opens(key, 5, aad, sealed, tag));
    CHECK_FALSE(opens(key, 4, aad, sealed, tag));
    CHECK_FALSE(opens(key, 5 + (uint64_t{1} << 32), aad, sealed, tag));
    CHECK_FALSE(opens(other, 5, aad, sealed, tag));
    CHECK_FALSE(opens(key, 5, {}, sealed, tag));
    std::array<uint8_t, 4> other_aad = aad;
    other_aad[3] ^= 1;
    CHECK_FALSE(opens(key, 5, other_aad, sealed, tag));
    for (size_t i = 0; i < tag.size(); ++i) {
      auto t = tag;
      t[i] ^= 0x80;
      CHECK_FALSE(opens(key, 5, aad, sealed, t));
    }
    for (size_t i = 0; i < sealed.size(); i += 13) {
      auto d = sealed;
      d[i] ^= 0x01;
      CHECK_FALSE(opens(key, 5, aad, d, tag));
    }
    // Truncated ciphertext does not authenticate either.
    CHECK_FALSE(
        key.open(5, aad, std::vector<uint8_t>(sealed).data(), sealed.size() - 1, tag.data()));
  }
}

// Without AES-NI there is no AES key to try: doctest reports the case as skipped.
TEST_CASE("crypto.aead: the two ciphers do not open each other's packets" *
          doctest::skip(!aead_available(Aead::kAes256Gcm))) {
  const auto key_bytes = test_key(5);
  const AeadKey chacha = AeadKey::make(Aead::kChaCha20Poly1305, key_bytes);
  const AeadKey aes = AeadKey::make(Aead::kAes256Gcm, key_bytes);
  std::vector<uint8_t> data = test_data(64);
  std::array<uint8_t, kAeadTagSize> tag{};
  chacha.seal(1, {}, data.data(), data.size(), tag.data());
  CHECK_FALSE(aes.open(1, {}, data.data(), data.size(), tag.data()));
}

TEST_CASE("crypto.aead: a moved key still works; make checks its preconditions") {
  AeadKey a = AeadKey::make(Aead::kChaCha20Poly1305, test_key(6));
  AeadKey b = std::move(a);
  std::vector<uint8_t> data = test_data(10);
  std::array<uint8_t, kAeadTagSize> tag{};
  b.seal(0, {}, data.data(), data.size(), tag.data());
  CHECK(b.open(0, {}, data.data(), data.size(), tag.data()));
  CHECK(data == test_data(10));
  if (aead_available(Aead::kAes256Gcm)) {
    AeadKey c = AeadKey::make(Aead::kAes256Gcm, test_key(6));
    c.seal(0, {}, data.data(), data.size(), tag.data());
    AeadKey d = std::move(c);
    CHECK(d.open(0, {}, data.data(), data.size(), tag.data()));
  }
  const std::array<uint8_t, 31> short_key{};
  CHECK(shoal::test::dies([&] { (void)AeadKey::make(Aead::kChaCha20Poly1305, short_key); }));
  CHECK(shoal::test::dies([] { (void)AeadKey::make(static_cast<Aead>(3), test_key(6)); }));
}

TEST_CASE("crypto.aead: measure_aead is cached and prefers only an available cipher") {
  const AeadMeasurement& m = measure_aead();
  CHECK(&m == &measure_aead());
  CHECK(m.chacha_mbps > 0);
  if (aead_available(Aead::kAes256Gcm)) {
    CHECK(m.aes_mbps > 0);
    CHECK((m.preferred == Aead::kAes256Gcm) == (m.aes_mbps > m.chacha_mbps));
  } else {
    CHECK(m.aes_mbps == 0);
    CHECK(m.preferred == Aead::kChaCha20Poly1305);
  }
  MESSAGE("chacha20-poly1305 " << m.chacha_mbps << " MB/s, aes-256-gcm " << m.aes_mbps
                               << " MB/s, preferred " << to_string(m.preferred));
}
