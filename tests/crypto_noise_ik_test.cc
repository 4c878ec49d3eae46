// The Noise IK handshake: both ends get matching keys in both directions and with either
// cipher; the cipher choice and its downgrade protection; every changed bit of either
// message is refused (with mac1 intact, and with mac1 recomputed so the deeper checks are
// what refuses it); wrong responder, unknown initiator, wrong sizes, weak keys, a response
// to another initiation, each with the DropReason it is refused for; fresh keys per
// handshake; the KDF against RFC 5869.
#include <doctest/doctest.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/aead.h"
#include "crypto/drop_reason.h"
#include "crypto/identity.h"
#include "crypto/noise_ik.h"
#include "dies.h"

using namespace shoal;
using namespace shoal::crypto;

namespace {

using InitiationBytes = std::array<uint8_t, kInitiationSize>;
using ResponseBytes = std::array<uint8_t, kResponseSize>;

const auto kAnyone = [](const PublicKey&) { return true; };

// Why a handshake step refused; nullopt when it succeeded.
template <typename T>
std::optional<DropReason> refusal(const Result<T, DropReason>& result) {
  if (result) return std::nullopt;
  return result.error();
}

// The test's own mac1, from the header's definition, so a test can change a message and
// still get past mac1 to the checks behind it.
template <size_t N>
void recompute_mac1(std::array<uint8_t, N>& message, const PublicKey& receiver) {
  uint8_t key[32];
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state, reinterpret_cast<const uint8_t*>("shoal mac1"), 10);
  crypto_hash_sha256_update(&state, receiver.data(), receiver.size());
  crypto_hash_sha256_final(&state, key);
  crypto_generichash(message.data() + N - 16, 16, message.data(), N - 16, key, sizeof key);
}

// True when `a` seals what `b` opens (one direction of a session).
bool pairs(const AeadKey& a, const AeadKey& b, uint64_t counter = 3) {
  std::vector<uint8_t> data(100, 0x5a);
  std::array<uint8_t, kAeadTagSize> tag{};
  const std::array<uint8_t, 2> aad{4, 0};
  a.seal(counter, aad, data.data(), data.size(), tag.data());
  return b.open(counter, aad, data.data(), data.size(), tag.data()) &&
         data == std::vector<uint8_t>(100, 0x5a);
}

struct Handshake {
  InitiationBytes initiation{};
  ResponseBytes response{};
  std::optional<Initiator> initiator;
  std::optional<Accepted> accepted;
  std::optional<Initiator::Done> done;
};

Handshake handshake(const Identity& a, const Identity& b, Aead proposal = Aead::kChaCha20Poly1305,
                    Aead preferred = Aead::kChaCha20Poly1305, uint64_t timestamp = 1000) {
  Handshake h;
  auto initiator = Initiator::start(a, b.public_key(), 11, timestamp, proposal, h.initiation);
  REQUIRE(initiator);
  h.initiator.emplace(std::move(initiator).value());
  auto accepted = respond(b, h.initiation, 22, kAnyone, h.response, preferred);
  REQUIRE(accepted);
  h.accepted.emplace(std::move(accepted).value());
  auto done = h.initiator->finish(h.response);
  REQUIRE(done);
  h.done.emplace(std::move(done).value());
  return h;
}

}  // namespace

TEST_CASE("crypto.noise_ik: a handshake gives both ends matching keys in both directions") {
  const Identity a = Identity::generate(), b = Identity::generate();
  const uint64_t timestamp = 0x0123456789abcdef;
  InitiationBytes initiation{};
  auto initiator = Initiator::start(a, b.public_key(), 0xdeadbeef, timestamp,
                                    Aead::kChaCha20Poly1305, initiation);
  REQUIRE(initiator);
  CHECK(initiator->sender_index() == 0xdeadbeef);
  CHECK(message_type(initiation) == kMsgInitiation);

  int asked = 0;
  ResponseBytes response{};
  auto accepted = respond(
      b, initiation, 0x01020304,
      [&](const PublicKey& key) {
        ++asked;
        return key == a.public_key();
      },
      response);
  REQUIRE(accepted);
  CHECK(asked == 1);
  CHECK(message_type(response) == kMsgResponse);
  CHECK(accepted->initiator_static == a.public_key());
  CHECK(accepted->timestamp_ns == timestamp);
  CHECK(accepted->peer_index == 0xdeadbeef);

  auto done = initiator->finish(response);
  REQUIRE(done);
  CHECK(done->peer_index == 0x01020304);
  CHECK(done->keys.aead == accepted->keys.aead);
  CHECK(pairs(done->keys.send, accepted->keys.recv));
  CHECK(pairs(accepted->keys.send, done->keys.recv));
  // The two directions have different keys.
  CHECK_FALSE(pairs(done->keys.send, done->keys.recv));
  CHECK_FALSE(pairs(accepted->keys.send, accepted->keys.recv));
  // One response per handshake: the secrets are gone after the first.
  CHECK(refusal(initiator->finish(response)) == DropReason::kAlreadyDone);
}

TEST_CASE("crypto.noise_ik: the cipher is AES only if proposed and preferred by both") {
  const Identity a = Identity::generate(), b = Identity::generate();
  const bool aes = aead_available(Aead::kAes256Gcm);
  struct Case {
    Aead proposal, preferred, expected;
  };
  const Case cases[] = {
      {Aead::kChaCha20Poly1305, Aead::kChaCha20Poly1305, Aead::kChaCha20Poly1305},
      {Aead::kChaCha20Poly1305, Aead::kAes256Gcm, Aead::kChaCha20Poly1305},
      {Aead::kAes256Gcm, Aead::kChaCha20Poly1305, Aead::kChaCha20Poly1305},
      {Aead::kAes256Gcm, Aead::kAes256Gcm, aes ? Aead::kAes256Gcm : Aead::kChaCha20Poly1305},
  };
  for (const Case& c : cases) {
    INFO(to_string(c.proposal) << " proposed, " << to_string(c.preferred) << " preferred");
    Handshake h = handshake(a, b, c.proposal, c.preferred);
    CHECK(h.initiator->proposal() == (aes ? c.proposal : Aead::kChaCha20Poly1305));
    CHECK(h.initiation[1] == static_cast<uint8_t>(h.initiator->proposal()));
    CHECK(h.response[1] == static_cast<uint8_t>(c.expected));
    CHECK(h.done->keys.aead == c.expected);
    CHECK(h.accepted->keys.aead == c.expected);
    CHECK(h.done->keys.send.aead() == c.expected);
    CHECK(h.accepted->keys.recv.aead() == c.expected);
    CHECK(pairs(h.done->keys.send, h.accepted->keys.recv));
    CHECK(pairs(h.accepted->keys.send, h.done->keys.recv));
  }
  // The default preference is this CPU's measurement.
  InitiationBytes initiation{};
  ResponseBytes response{};
  auto initiator = Initiator::start(a, b.public_key(), 1, 1, Aead::kAes256Gcm, initiation);
  REQUIRE(initiator);
  auto accepted = respond(b, initiation, 2, kAnyone, response);
  REQUIRE(accepted);
  CHECK(accepted->keys.aead == (aes && measure_aead().preferred == Aead::kAes256Gcm
                                    ? Aead::kAes256Gcm
                                    : Aead::kChaCha20Poly1305));
}

TEST_CASE("crypto.noise_ik: a flipped bit anywhere in the initiation is refused") {
  const Identity a = Identity::generate(), b = Identity::generate();
  InitiationBytes initiation{};
  REQUIRE(Initiator::start(a, b.public_key(), 5, 77, Aead::kChaCha20Poly1305, initiation));
  ResponseBytes response{};
  REQUIRE(respond(b, initiation, 6, kAnyone, response));
  for (size_t bit = 0; bit < kInitiationSize * 8; ++bit) {
    INFO("bit " << bit);
    InitiationBytes changed = initiation;
    changed[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    response.fill(0xee);
    const auto refused = refusal(respond(b, changed, 6, kAnyone, response));
    CHECK(refused);
    CHECK(response == ResponseBytes{});  // a refusal writes nothing to send
    // The cheap checks run in order, before any key exchange.
    const size_t byte = bit / 8;
    if (byte == 0) CHECK(refused == DropReason::kBadType);
    if (byte == 1) CHECK(refused == DropReason::kBadCipher);  // no one flip makes 1 into 2
    if (byte == 2 || byte == 3) CHECK(refused == DropReason::kBadReserved);
    if (byte >= 4) CHECK(refused == DropReason::kBadMac1);
    // With mac1 made right again, what is behind it refuses the change, except in the
    // sender index, which only mac1 covers (see the next test).
    if (byte >= kInitiationSize - 16 || (byte >= 4 && byte < 8)) continue;
    recompute_mac1(changed, b.public_key());
    const auto deeper = refusal(respond(b, changed, 6, kAnyone, response));
    CHECK(deeper);
    // The encrypted static and timestamp fail their AEAD tags.
    if (byte >= 40) CHECK(deeper == DropReason::kBadAuth);
  }
}

TEST_CASE("crypto.noise_ik: a changed sender index only misroutes the response") {
  const Identity a = Identity::generate(), b = Identity::generate();
  InitiationBytes initiation{};
  auto initiator = Initiator::start(a, b.public_key(), 5, 77, Aead::kChaCha20Poly1305, initiation);
  REQUIRE(initiator);
  initiation[7] ^= 1;
  recompute_mac1(initiation, b.public_key());
  ResponseBytes response{};
  auto accepted = respond(b, initiation, 6, kAnyone, response);
  REQUIRE(accepted);
  CHECK(accepted->peer_index == 4);
  CHECK(refusal(initiator->finish(response)) == DropReason::kBadIndex);
}

TEST_CASE("crypto.noise_ik: a flipped bit anywhere in the response is refused") {
  const Identity a = Identity::generate(), b = Identity::generate();
  const Aead aead = aead_available(Aead::kAes256Gcm) ? Aead::kAes256Gcm : Aead::kChaCha20Poly1305;
  InitiationBytes initiation{};
  auto initiator = Initiator::start(a, b.public_key(), 5, 77, aead, initiation);
  REQUIRE(initiator);
  ResponseBytes response{};
  auto accepted = respond(b, initiation, 6, kAnyone, response, aead);
  REQUIRE(accepted);
  for (size_t bit = 0; bit < kResponseSize * 8; ++bit) {
    INFO("bit " << bit);
    ResponseBytes changed = response;
    changed[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    CHECK_FALSE(initiator->finish(changed));
    // The sender index and all past the header: only mac1 tells before the key exchange.
    const size_t byte = bit / 8;
    if ((byte >= 4 && byte < 8) || byte >= 12)
      CHECK(refusal(initiator->finish(changed)) == DropReason::kBadMac1);
    if (byte >= 8 && byte < 12) CHECK(refusal(initiator->finish(changed)) == DropReason::kBadIndex);
    // The whole header is in the handshake hash, so with mac1 made right again every
    // bit is still covered.
    if (byte >= kResponseSize - 16) continue;
    recompute_mac1(changed, a.public_key());
    CHECK_FALSE(initiator->finish(changed));
    // The responder's sender index is covered by the payload's tag.
    if (byte >= 4 && byte < 8) CHECK(refusal(initiator->finish(changed)) == DropReason::kBadAuth);
  }
  // None of that spoiled the handshake: the real response still completes it.
  auto done = initiator->finish(response);
  REQUIRE(done);
  CHECK(pairs(done->keys.send, accepted->keys.recv));
  CHECK(pairs(accepted->keys.send, done->keys.recv));
}

TEST_CASE("crypto.noise_ik: downgrade: a changed cipher byte is refused") {
  const Identity a = Identity::generate(), b = Identity::generate();
  for (Aead proposal : {Aead::kChaCha20Poly1305, Aead::kAes256Gcm}) {
    if (!aead_available(proposal)) continue;
    INFO(to_string(proposal));
    InitiationBytes initiation{};
    auto initiator = Initiator::start(a, b.public_key(), 5, 77, proposal, initiation);
    REQUIRE(initiator);
    // In the initiation: the prologue carries the proposal.
    InitiationBytes changed = initiation;
    changed[1] = proposal == Aead::kAes256Gcm ? 1 : 2;
    recompute_mac1(changed, b.public_key());
    ResponseBytes response{};
    CHECK(refusal(respond(b, changed, 6, kAnyone, response, Aead::kAes256Gcm)) ==
          DropReason::kBadAuth);
    // In the response: the header is mixed into the hash before its tag.
    REQUIRE(respond(b, initiation, 6, kAnyone, response, proposal));
    CHECK(response[1] == static_cast<uint8_t>(proposal));
    ResponseBytes changed_response = response;
    changed_response[1] = proposal == Aead::kAes256Gcm ? 1 : 2;
    recompute_mac1(changed_response, a.public_key());
    // ChaCha raised to AES is refused outright; AES lowered to ChaCha only by the tag.
    CHECK(refusal(initiator->finish(changed_response)) == (proposal == Aead::kChaCha20Poly1305
                                                               ? DropReason::kCipherNotProposed
                                                               : DropReason::kBadAuth));
    changed_response[1] = 3;  // not a cipher at all
    recompute_mac1(changed_response, a.public_key());
    CHECK(refusal(initiator->finish(changed_response)) == DropReason::kBadCipher);
    CHECK(initiator->finish(response));
  }
  // An initiation proposing no known cipher is refused.
  InitiationBytes initiation{};
  REQUIRE(Initiator::start(a, b.public_key(), 5, 77, Aead::kChaCha20Poly1305, initiation));
  initiation[1] = 0;
  recompute_mac1(initiation, b.public_key());
  ResponseBytes response{};
  CHECK(refusal(respond(b, initiation, 6, kAnyone, response)) == DropReason::kBadCipher);
}

TEST_CASE("crypto.noise_ik: an initiation made for another responder fails at mac1") {
  const Identity a = Identity::generate(), b = Identity::generate(), c = Identity::generate();
  InitiationBytes initiation{};
  REQUIRE(Initiator::start(a, c.public_key(), 5, 77, Aead::kChaCha20Poly1305, initiation));
  int asked = 0;
  const auto count = [&](const PublicKey&) { return ++asked, true; };
  ResponseBytes response{};
  CHECK(refusal(respond(b, initiation, 6, count, response)) == DropReason::kBadMac1);
  CHECK(asked == 0);  // refused before any key exchange
  // Past mac1 (recomputed for b), the key exchange refuses it: es used c's key, so the
  // encrypted static does not open.
  recompute_mac1(initiation, b.public_key());
  CHECK(refusal(respond(b, initiation, 6, count, response)) == DropReason::kBadAuth);
  CHECK(asked == 0);
  // c itself accepts it.
  REQUIRE(Initiator::start(a, c.public_key(), 5, 77, Aead::kChaCha20Poly1305, initiation));
  CHECK(respond(c, initiation, 6, count, response));
  CHECK(asked == 1);
}

TEST_CASE("crypto.noise_ik: an unknown initiator is refused before any answer") {
  const Identity a = Identity::generate(), b = Identity::generate(), c = Identity::generate();
  InitiationBytes initiation{};
  REQUIRE(Initiator::start(a, b.public_key(), 5, 77, Aead::kChaCha20Poly1305, initiation));
  std::optional<PublicKey> asked_about;
  ResponseBytes response{};
  CHECK(refusal(respond(
            b, initiation, 6,
            [&](const PublicKey& key) {
              asked_about = key;
              return key == c.public_key();
            },
            response)) == DropReason::kUnknownPeer);
  REQUIRE(asked_about);
  CHECK(*asked_about == a.public_key());
  CHECK(response == ResponseBytes{});
  // No predicate at all refuses everyone.
  CHECK(refusal(respond(b, initiation, 6, {}, response)) == DropReason::kUnknownPeer);
}

TEST_CASE("crypto.noise_ik: truncated and oversized messages are refused") {
  const Identity a = Identity::generate(), b = Identity::generate();
  InitiationBytes initiation{};
  auto initiator = Initiator::start(a, b.public_key(), 5, 77, Aead::kChaCha20Poly1305, initiation);
  REQUIRE(initiator);
  ResponseBytes response{};
  std::vector<uint8_t> longer(initiation.begin(), initiation.end());
  longer.push_back(0);
  CHECK(refusal(respond(b, longer, 6, kAnyone, response)) == DropReason::kBadSize);
  for (size_t len : {size_t{0}, size_t{1}, size_t{8}, kInitiationSize - 1})
    CHECK(refusal(respond(b, ByteView(initiation.data(), len), 6, kAnyone, response)) ==
          DropReason::kBadSize);
  REQUIRE(respond(b, initiation, 6, kAnyone, response));

  std::vector<uint8_t> longer_response(response.begin(), response.end());
  longer_response.push_back(0);
  CHECK(refusal(initiator->finish(longer_response)) == DropReason::kBadSize);
  for (size_t len : {size_t{0}, size_t{1}, size_t{12}, kResponseSize - 1})
    CHECK(refusal(initiator->finish(ByteView(response.data(), len))) == DropReason::kBadSize);
  // An initiation is not a response, nor the other way round.
  CHECK(refusal(initiator->finish(ByteView(initiation.data(), kResponseSize))) ==
        DropReason::kBadType);
  std::vector<uint8_t> response_as_initiation(response.begin(), response.end());
  response_as_initiation.resize(kInitiationSize);
  CHECK(refusal(respond(b, response_as_initiation, 6, kAnyone, response)) == DropReason::kBadType);
  REQUIRE(respond(b, initiation, 6, kAnyone, response));
  CHECK(initiator->finish(response));

  CHECK(message_type({}) == 0);
  const std::array<uint8_t, 1> data{kMsgData};
  CHECK(message_type(data) == kMsgData);
}

TEST_CASE("crypto.noise_ik: a response to another initiation is refused") {
  const Identity a = Identity::generate(), b = Identity::generate();
  InitiationBytes first{}, second{}, third{};
  auto one = Initiator::start(a, b.public_key(), 1, 10, Aead::kChaCha20Poly1305, first);
  auto two = Initiator::start(a, b.public_key(), 2, 20, Aead::kChaCha20Poly1305, second);
  auto three = Initiator::start(a, b.public_key(), 1, 30, Aead::kChaCha20Poly1305, third);
  REQUIRE((one && two && three));
  ResponseBytes to_two{}, to_three{};
  REQUIRE(respond(b, second, 9, kAnyone, to_two));
  REQUIRE(respond(b, third, 9, kAnyone, to_three));
  CHECK(refusal(one->finish(to_two)) == DropReason::kBadIndex);
  // Same index, other handshake: its tag fails.
  CHECK(refusal(one->finish(to_three)) == DropReason::kBadAuth);
  CHECK(two->finish(to_two));
  CHECK(three->finish(to_three));
}

TEST_CASE("crypto.noise_ik: every handshake gives fresh keys for the same two statics") {
  const Identity a = Identity::generate(), b = Identity::generate();
  Handshake first = handshake(a, b);
  Handshake second = handshake(a, b);
  CHECK(first.initiation != second.initiation);
  CHECK(std::memcmp(first.initiation.data() + 8, second.initiation.data() + 8, 32) != 0);
  CHECK(std::memcmp(first.response.data() + 12, second.response.data() + 12, 32) != 0);
  CHECK(pairs(first.done->keys.send, first.accepted->keys.recv));
  CHECK(pairs(second.done->keys.send, second.accepted->keys.recv));
  CHECK_FALSE(pairs(first.done->keys.send, second.accepted->keys.recv));
  CHECK_FALSE(pairs(second.done->keys.send, first.accepted->keys.recv));
  CHECK_FALSE(pairs(first.accepted->keys.send, second.done->keys.recv));
  // The same plaintext and counter seal differently under the two sessions.
  std::vector<uint8_t> x(32, 1), y(32, 1);
  std::array<uint8_t, kAeadTagSize> tx{}, ty{};
  first.done->keys.send.seal(0, {}, x.data(), x.size(), tx.data());
  second.done->keys.send.seal(0, {}, y.data(), y.size(), ty.data());
  CHECK(x != y);
  CHECK(tx != ty);
}

TEST_CASE("crypto.noise_ik: the timestamp is carried as given") {
  const Identity a = Identity::generate(), b = Identity::generate();
  for (uint64_t timestamp :
       {uint64_t{0}, uint64_t{1}, uint64_t{1'700'000'000'000'000'000}, UINT64_MAX}) {
    Handshake h = handshake(a, b, Aead::kChaCha20Poly1305, Aead::kChaCha20Poly1305, timestamp);
    CHECK(h.accepted->timestamp_ns == timestamp);
  }
}

TEST_CASE("crypto.noise_ik: weak keys are refused") {
  const Identity a = Identity::generate(), b = Identity::generate();
  // Points of small order: zero and one give an all-zero X25519 result.
  PublicKey zero{}, one{};
  one[0] = 1;
  for (const PublicKey& weak : {zero, one}) {
    InitiationBytes initiation;
    initiation.fill(0xee);
    CHECK(refusal(Initiator::start(a, weak, 5, 77, Aead::kChaCha20Poly1305, initiation)) ==
          DropReason::kWeakKey);
    CHECK(initiation == InitiationBytes{});

    // A weak ephemeral in an initiation that passes mac1.
    REQUIRE(Initiator::start(a, b.public_key(), 5, 77, Aead::kChaCha20Poly1305, initiation));
    std::memcpy(initiation.data() + 8, weak.data(), 32);
    recompute_mac1(initiation, b.public_key());
    ResponseBytes response{};
    CHECK(refusal(respond(b, initiation, 6, kAnyone, response)) == DropReason::kWeakKey);

    // A weak ephemeral in a response that passes mac1.
    auto initiator =
        Initiator::start(a, b.public_key(), 5, 77, Aead::kChaCha20Poly1305, initiation);
    REQUIRE(initiator);
    REQUIRE(respond(b, initiation, 6, kAnyone, response));
    ResponseBytes changed = response;
    std::memcpy(changed.data() + 12, weak.data(), 32);
    recompute_mac1(changed, a.public_key());
    CHECK(refusal(initiator->finish(changed)) == DropReason::kWeakKey);
    CHECK(initiator->finish(response));
  }
}

TEST_CASE("crypto.noise_ik: an Identity without its secret is a caller's bug: it aborts") {
  Identity a = Identity::generate();
  const Identity b = Identity::generate();
  InitiationBytes initiation{};
  REQUIRE(Initiator::start(a, b.public_key(), 5, 77, Aead::kChaCha20Poly1305, initiation));
  const Identity moved = std::move(a);  // leaves `a` holding no secret
  InitiationBytes none;
  // NOLINTNEXTLINE(bugprone-use-after-move): the moved-from state is what is tested
  CHECK(shoal::test::dies(
      [&] { (void)Initiator::start(a, b.public_key(), 5, 77, Aead::kChaCha20Poly1305, none); }));
  const Identity c = Identity::generate();
  REQUIRE(Initiator::start(c, moved.public_key(), 5, 77, Aead::kChaCha20Poly1305, initiation));
  ResponseBytes response{};
  REQUIRE(respond(moved, initiation, 6, kAnyone, response));
  CHECK(shoal::test::dies([&] { (void)respond(a, initiation, 6, kAnyone, response); }));
}

TEST_CASE("crypto.noise_ik: every refusal has its own metrics label") {
  std::set<std::string_view> labels;
  for (int r = 0; r < static_cast<int>(DropReason::kCount); ++r)
    labels.insert(to_string(static_cast<DropReason>(r)));
  CHECK(labels.size() == static_cast<size_t>(DropReason::kCount));
  CHECK(labels.count("unknown") == 0);
  CHECK(to_string(DropReason::kBadMac1) == "bad_mac1");
  CHECK(to_string(DropReason::kWeakKey) == "weak_key");
  CHECK(to_string(DropReason::kCipherNotProposed) == "cipher_not_proposed");
}

TEST_CASE("crypto.noise_ik: the wire sizes and layout") {
  static_assert(kInitiationSize == 128 && kResponseSize == 76 && kDataHeaderSize == 16);
  const Identity a = Identity::generate(), b = Identity::generate();
  Handshake h = handshake(a, b);
  CHECK(h.initiation[0] == kMsgInitiation);
  CHECK(h.initiation[1] == static_cast<uint8_t>(Aead::kChaCha20Poly1305));
  CHECK(h.initiation[2] == 0);
  CHECK(h.initiation[3] == 0);
  CHECK(h.initiation[4] == 0);
  CHECK(h.initiation[7] == 11);  // sender index, big endian
  CHECK(h.response[0] == kMsgResponse);
  CHECK(h.response[2] == 0);
  CHECK(h.response[3] == 0);
  CHECK(h.response[7] == 22);   // responder's index
  CHECK(h.response[11] == 11);  // echoes the initiator's
  // The static key travels encrypted: a's public key is nowhere in clear.
  const auto& pub = a.public_key();
  for (size_t i = 0; i + pub.size() <= kInitiationSize; ++i)
    CHECK(std::memcmp(h.initiation.data() + i, pub.data(), pub.size()) != 0);
}

TEST_CASE("crypto.noise_ik: the KDF is HKDF-SHA256 (RFC 5869 test case 3)") {
  // Salt: 32 zero bytes (the default when none is given), IKM 22 x 0x0b, no info, L = 42.
  const std::array<uint8_t, 32> salt{};
  const std::vector<uint8_t> ikm(22, 0x0b);
  const uint8_t expected[42] = {0x8d, 0xa4, 0xe7, 0x75, 0xa5, 0x63, 0xc1, 0x8f, 0x71, 0x5f, 0x80,
                                0x2a, 0x06, 0x3c, 0x5a, 0x31, 0xb8, 0xa1, 0x1f, 0x5c, 0x5e, 0xe1,
                                0x87, 0x9e, 0xc3, 0x45, 0x4e, 0x5f, 0x3c, 0x73, 0x8d, 0x2d, 0x9d,
                                0x20, 0x13, 0x95, 0xfa, 0xa4, 0xb6, 0x1a, 0x96, 0xc8};
  uint8_t out[64];
  detail::hkdf2(salt.data(), ikm, out, out + 32);
  CHECK(std::memcmp(out, expected, sizeof expected) == 0);
  // out1 may be the chaining key itself, as MixKey uses it.
  std::array<uint8_t, 32> ck{};
  uint8_t out2[32];
  detail::hkdf2(ck.data(), ikm, ck.data(), out2);
  CHECK(std::memcmp(ck.data(), expected, 32) == 0);
  CHECK(std::memcmp(out2, expected + 32, 10) == 0);
}

TEST_CASE("crypto.noise_ik: an initiation tells whom it was made for, cheaply") {
  const Identity a = Identity::generate(), b = Identity::generate(), c = Identity::generate();
  InitiationBytes initiation{};
  REQUIRE(Initiator::start(a, b.public_key(), 5, 77, Aead::kChaCha20Poly1305, initiation));
  CHECK(initiation_addressed_to(b.public_key(), initiation));
  CHECK_FALSE(initiation_addressed_to(c.public_key(), initiation));  // a host reusing b's address
  CHECK_FALSE(initiation_addressed_to(a.public_key(), initiation));
  InitiationBytes flipped = initiation;
  flipped[40] ^= 1;
  CHECK_FALSE(initiation_addressed_to(b.public_key(), flipped));
  CHECK_FALSE(initiation_addressed_to(b.public_key(), ByteView(initiation.data(), 127)));
  CHECK_FALSE(initiation_addressed_to(b.public_key(), ByteView()));
  InitiationBytes response_type = initiation;
  response_type[0] = 2;
  CHECK_FALSE(initiation_addressed_to(b.public_key(), response_type));
}
