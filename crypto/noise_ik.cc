#include "crypto/noise_ik.h"

#include <sodium.h>

#include <cstring>
#include <optional>
#include <utility>

#include "common/byte_order.h"
#include "common/status.h"
#include "crypto/sodium_init.h"

namespace shoal::crypto {

namespace {

constexpr size_t kHashSize = crypto_hash_sha256_BYTES;
constexpr size_t kDhSize = crypto_scalarmult_BYTES;
constexpr size_t kMacSize = 16;
static_assert(kHashSize == 32 && kDhSize == 32 && kX25519Size == 32);
static_assert(crypto_auth_hmacsha256_BYTES == kHashSize);
static_assert(crypto_auth_hmacsha256_KEYBYTES == kHashSize);  // ck keys the HMAC as is
static_assert(crypto_aead_chacha20poly1305_ietf_ABYTES == kAeadTagSize);

constexpr char kProtocolName[] = "Noise_IK_25519_ChaChaPoly_SHA256";
// Exactly HASHLEN bytes, so h starts as the name itself, unhashed (Noise §5.2).
static_assert(sizeof(kProtocolName) - 1 == kHashSize);
constexpr char kPrologue[] = "shoal tunnel v1";  // followed by the proposal byte
constexpr size_t kPrologueSize = sizeof(kPrologue) - 1 + 1;
constexpr char kMac1Label[] = "shoal mac1";

// Offsets in the initiation.
constexpr size_t kInitSender = 4, kInitEphemeral = 8, kInitStatic = 40, kInitTimestamp = 88,
                 kInitMac1 = 112;
constexpr size_t kEncStaticSize = kX25519Size + kAeadTagSize;
constexpr size_t kEncTimestampSize = 8 + kAeadTagSize;
static_assert(kInitStatic + kEncStaticSize == kInitTimestamp);
static_assert(kInitTimestamp + kEncTimestampSize == kInitMac1);
static_assert(kInitMac1 + kMacSize == kInitiationSize);

// Offsets in the response.
constexpr size_t kRespSender = 4, kRespReceiver = 8, kRespHeader = 12, kRespEphemeral = 12,
                 kRespEmpty = 44, kRespMac1 = 60;
static_assert(kRespEphemeral + kX25519Size == kRespEmpty);
static_assert(kRespEmpty + kAeadTagSize == kRespMac1);
static_assert(kRespMac1 + kMacSize == kResponseSize);

// Zeroes a local of trivially copyable type when the scope ends, on every path out.
template <typename T>
class Wipe {
 public:
  explicit Wipe(T& target) : target_(target) {}
  ~Wipe() { sodium_memzero(&target_, sizeof target_); }
  Wipe(const Wipe&) = delete;
  Wipe& operator=(const Wipe&) = delete;

 private:
  T& target_;
};

// Noise's SymmetricState (§5.2) with its CipherState's k and n. k is set by the first
// MixKey (es) before anything is encrypted, so the "k empty" case never arises in IK.
struct Symmetric {
  uint8_t ck[kHashSize];
  uint8_t h[kHashSize];
  uint8_t k[kAeadKeySize];
  uint64_t n;
};

// What an Initiator keeps between start() and finish(), in its SecureBuffer.
struct InitiatorSecrets {
  uint8_t ck[kHashSize];
  uint8_t h[kHashSize];
  uint8_t e[kX25519Size];  // ephemeral secret
  uint8_t s[kX25519Size];  // own static secret, for `se`
};

using Mac1Key = std::array<uint8_t, kHashSize>;

std::optional<Aead> aead_from_byte(uint8_t b) {
  if (b == static_cast<uint8_t>(Aead::kChaCha20Poly1305)) return Aead::kChaCha20Poly1305;
  if (b == static_cast<uint8_t>(Aead::kAes256Gcm)) return Aead::kAes256Gcm;
  return std::nullopt;
}

void mix_hash(Symmetric& s, const uint8_t* data, size_t len) {
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state, s.h, sizeof s.h);
  crypto_hash_sha256_update(&state, data, len);
  crypto_hash_sha256_final(&state, s.h);
  sodium_memzero(&state, sizeof state);
}

void mix_key(Symmetric& s, const uint8_t* dh32) {
  detail::hkdf2(s.ck, {dh32, kDhSize}, s.ck, s.k);
  s.n = 0;
}

// Noise's ChaChaPoly nonce: 32 zero bits, then n little endian.
std::array<uint8_t, 12> handshake_nonce(uint64_t n) {
  std::array<uint8_t, 12> nonce{};
  put_le64(nonce.data() + 4, n);
  return nonce;
}

// out[0..len+16) = ChaChaPoly(k, n, ad = h, plain), then MixHash(out). `plain` may be
// empty; libsodium is not given a null pointer even then.
void encrypt_and_hash(Symmetric& s, const uint8_t* plain, size_t len, uint8_t* out) {
  static const uint8_t kNothing = 0;
  const auto nonce = handshake_nonce(s.n++);
  crypto_aead_chacha20poly1305_ietf_encrypt(out, nullptr, len ? plain : &kNothing, len, s.h,
                                            sizeof s.h, nullptr, nonce.data(), s.k);
  mix_hash(s, out, len + kAeadTagSize);
}

// The reverse: `cipher` holds len + 16 bytes, `plain` receives len. False if it does not
// authenticate.
bool decrypt_and_hash(Symmetric& s, const uint8_t* cipher, size_t len, uint8_t* plain) {
  uint8_t nothing = 0;
  const auto nonce = handshake_nonce(s.n++);
  if (crypto_aead_chacha20poly1305_ietf_decrypt(len ? plain : &nothing, nullptr, nullptr, cipher,
                                                len + kAeadTagSize, s.h, sizeof s.h, nonce.data(),
                                                s.k) != 0)
    return false;
  mix_hash(s, cipher, len + kAeadTagSize);
  return true;
}

// Noise's InitializeSymmetric, the prologue (carrying the proposal) and the IK
// pre-message `<- s`.
void initialize(Symmetric& s, Aead proposal, const PublicKey& responder_static) {
  std::memcpy(s.h, kProtocolName, kHashSize);
  std::memcpy(s.ck, s.h, kHashSize);
  sodium_memzero(s.k, sizeof s.k);
  s.n = 0;
  uint8_t prologue[kPrologueSize];
  std::memcpy(prologue, kPrologue, kPrologueSize - 1);
  prologue[kPrologueSize - 1] = static_cast<uint8_t>(proposal);
  mix_hash(s, prologue, sizeof prologue);
  mix_hash(s, responder_static.data(), responder_static.size());
}

// X25519; false for a zero result (the peer's point has small order), which libsodium
// reports as an error. Such a result would make the key derivation public.
bool dh(uint8_t* out, const uint8_t* secret, const uint8_t* peer_public) {
  return crypto_scalarmult(out, secret, peer_public) == 0;
}

Mac1Key mac1_key(const PublicKey& receiver_static) {
  Mac1Key key;
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state, reinterpret_cast<const uint8_t*>(kMac1Label),
                            sizeof(kMac1Label) - 1);
  crypto_hash_sha256_update(&state, receiver_static.data(), receiver_static.size());
  crypto_hash_sha256_final(&state, key.data());
  return key;
}

void put_mac1(const Mac1Key& key, const uint8_t* message, size_t len, uint8_t* mac) {
  crypto_generichash(mac, kMacSize, message, len, key.data(), key.size());
}

bool mac1_ok(const Mac1Key& key, const uint8_t* message, size_t len, const uint8_t* mac) {
  uint8_t expected[kMacSize];
  put_mac1(key, message, len, expected);
  return crypto_verify_16(expected, mac) == 0;  // constant time
}

// Noise's Split(): the first key is initiator -> responder.
SessionKeys split(const Symmetric& s, Aead aead, bool initiator) {
  uint8_t k[2][kAeadKeySize];
  Wipe wipe_k(k);
  detail::hkdf2(s.ck, {}, k[0], k[1]);
  AeadKey i_to_r = AeadKey::make(aead, {k[0], kAeadKeySize});
  AeadKey r_to_i = AeadKey::make(aead, {k[1], kAeadKeySize});
  if (initiator) return SessionKeys{std::move(i_to_r), std::move(r_to_i), aead};
  return SessionKeys{std::move(r_to_i), std::move(i_to_r), aead};
}

}  // namespace

void detail::hkdf2(const uint8_t* ck32, ByteView ikm, uint8_t* out1_32, uint8_t* out2_32) {
  uint8_t temp_key[kHashSize];
  uint8_t t[kHashSize + 1];  // T(1) || 0x02
  Wipe wipe_temp(temp_key);
  Wipe wipe_t(t);
  crypto_auth_hmacsha256(temp_key, ikm.data(), ikm.size(), ck32);
  const uint8_t one = 0x01;
  crypto_auth_hmacsha256(t, &one, 1, temp_key);
  t[kHashSize] = 0x02;
  crypto_auth_hmacsha256(out2_32, t, sizeof t, temp_key);
  std::memcpy(out1_32, t, kHashSize);  // last, since out1 may alias ck
}

uint8_t message_type(ByteView message) { return message.empty() ? 0 : message[0]; }

Result<Initiator, DropReason> Initiator::start(const Identity& self, const PublicKey& peer_static,
                                               uint32_t sender_index, uint64_t timestamp_ns,
                                               Aead proposal,
                                               std::span<uint8_t, kInitiationSize> out) {
  uint8_t* m = out.data();
  sodium_memzero(m, kInitiationSize);
  const auto fail = [m](DropReason reason) {
    sodium_memzero(m, kInitiationSize);
    return reason;
  };
  SHOAL_REQUIRE(self.secret().size() == kX25519Size);  // not a moved-from Identity
  if (!aead_available(proposal)) proposal = Aead::kChaCha20Poly1305;

  Initiator initiator;
  initiator.state_ = SecureBuffer(sizeof(InitiatorSecrets));  // also initialises libsodium
  InitiatorSecrets secrets;
  Symmetric s;
  uint8_t shared[kDhSize];
  Wipe wipe_secrets(secrets);
  Wipe wipe_s(s);
  Wipe wipe_shared(shared);
  std::memcpy(secrets.s, self.secret().data(), kX25519Size);
  randombytes_buf(secrets.e, sizeof secrets.e);

  initialize(s, proposal, peer_static);
  m[0] = kMsgInitiation;
  m[1] = static_cast<uint8_t>(proposal);
  put_be32(m + kInitSender, sender_index);
  // -> e (libsodium refuses only a zero result, which a fresh random secret never gives)
  if (crypto_scalarmult_base(m + kInitEphemeral, secrets.e) != 0) return fail(DropReason::kWeakKey);
  mix_hash(s, m + kInitEphemeral, kX25519Size);
  // es
  if (!dh(shared, secrets.e, peer_static.data())) return fail(DropReason::kWeakKey);
  mix_key(s, shared);
  // s
  encrypt_and_hash(s, self.public_key().data(), kX25519Size, m + kInitStatic);
  // ss
  if (!dh(shared, secrets.s, peer_static.data())) return fail(DropReason::kWeakKey);
  mix_key(s, shared);
  // payload: the timestamp
  uint8_t timestamp[8];
  put_be64(timestamp, timestamp_ns);
  encrypt_and_hash(s, timestamp, sizeof timestamp, m + kInitTimestamp);
  put_mac1(mac1_key(peer_static), m, kInitMac1, m + kInitMac1);

  std::memcpy(secrets.ck, s.ck, kHashSize);
  std::memcpy(secrets.h, s.h, kHashSize);
  std::memcpy(initiator.state_.data(), &secrets, sizeof secrets);
  initiator.mac1_key_ = mac1_key(self.public_key());
  initiator.sender_index_ = sender_index;
  initiator.proposal_ = proposal;
  return initiator;
}

Result<Initiator::Done, DropReason> Initiator::finish(ByteView response) {
  // The secrets are freed when a response is accepted.
  if (state_.size() != sizeof(InitiatorSecrets)) return DropReason::kAlreadyDone;
  if (response.size() != kResponseSize) return DropReason::kBadSize;
  const uint8_t* m = response.data();
  if (m[0] != kMsgResponse) return DropReason::kBadType;
  if (m[2] != 0 || m[3] != 0) return DropReason::kBadReserved;
  if (get_be32(m + kRespReceiver) != sender_index_) return DropReason::kBadIndex;
  const std::optional<Aead> chosen = aead_from_byte(m[1]);
  if (!chosen) return DropReason::kBadCipher;
  // The responder may lower AES to ChaCha, never raise ChaCha to AES.
  if (*chosen == Aead::kAes256Gcm && proposal_ != Aead::kAes256Gcm)
    return DropReason::kCipherNotProposed;
  if (!mac1_ok(mac1_key_, m, kRespMac1, m + kRespMac1)) return DropReason::kBadMac1;

  // Work on copies, so that a response that fails leaves the stored state untouched.
  InitiatorSecrets secrets;
  Symmetric s;
  uint8_t shared[kDhSize];
  Wipe wipe_secrets(secrets);
  Wipe wipe_s(s);
  Wipe wipe_shared(shared);
  std::memcpy(&secrets, state_.data(), sizeof secrets);
  std::memcpy(s.ck, secrets.ck, kHashSize);
  std::memcpy(s.h, secrets.h, kHashSize);
  s.n = 0;

  mix_hash(s, m, kRespHeader);  // shoal's addition: the chosen cipher and the indices
  // <- e
  const uint8_t* re = m + kRespEphemeral;
  mix_hash(s, re, kX25519Size);
  // ee
  if (!dh(shared, secrets.e, re)) return DropReason::kWeakKey;
  mix_key(s, shared);
  // se
  if (!dh(shared, secrets.s, re)) return DropReason::kWeakKey;
  mix_key(s, shared);
  // the empty payload: its tag authenticates the whole transcript
  if (!decrypt_and_hash(s, m + kRespEmpty, 0, nullptr)) return DropReason::kBadAuth;

  Done done{split(s, *chosen, /*initiator=*/true), get_be32(m + kRespSender)};
  state_ = SecureBuffer();  // frees and zeroes: the ephemeral secret is gone
  return done;
}

bool initiation_addressed_to(const PublicKey& receiver, ByteView initiation) {
  if (!init() || initiation.size() != kInitiationSize || initiation[0] != kMsgInitiation)
    return false;
  return mac1_ok(mac1_key(receiver), initiation.data(), kInitMac1, initiation.data() + kInitMac1);
}

Result<Accepted, DropReason> respond(const Identity& self, ByteView initiation,
                                     uint32_t responder_index,
                                     const std::function<bool(const PublicKey&)>& is_known,
                                     std::span<uint8_t, kResponseSize> out, Aead preferred) {
  uint8_t* o = out.data();
  sodium_memzero(o, kResponseSize);
  const auto fail = [o](DropReason reason) {
    sodium_memzero(o, kResponseSize);
    return reason;
  };
  require_init();
  SHOAL_REQUIRE(self.secret().size() == kX25519Size);  // not a moved-from Identity
  if (initiation.size() != kInitiationSize) return fail(DropReason::kBadSize);
  const uint8_t* m = initiation.data();
  if (m[0] != kMsgInitiation) return fail(DropReason::kBadType);
  if (m[2] != 0 || m[3] != 0) return fail(DropReason::kBadReserved);
  const std::optional<Aead> proposal = aead_from_byte(m[1]);
  if (!proposal) return fail(DropReason::kBadCipher);
  if (!mac1_ok(mac1_key(self.public_key()), m, kInitMac1, m + kInitMac1))
    return fail(DropReason::kBadMac1);

  Symmetric s;
  uint8_t e[kX25519Size];
  uint8_t shared[kDhSize];
  Wipe wipe_s(s);
  Wipe wipe_e(e);
  Wipe wipe_shared(shared);
  const uint8_t* own_secret = self.secret().data();

  initialize(s, *proposal, self.public_key());
  // -> e
  const uint8_t* re = m + kInitEphemeral;
  mix_hash(s, re, kX25519Size);
  // es
  if (!dh(shared, own_secret, re)) return fail(DropReason::kWeakKey);
  mix_key(s, shared);
  // s
  PublicKey initiator_static;
  if (!decrypt_and_hash(s, m + kInitStatic, kX25519Size, initiator_static.data()))
    return fail(DropReason::kBadAuth);
  // Before ss and before any answer: an unknown caller gets nothing, not even a DH.
  if (!is_known || !is_known(initiator_static)) return fail(DropReason::kUnknownPeer);
  // ss
  if (!dh(shared, own_secret, initiator_static.data())) return fail(DropReason::kWeakKey);
  mix_key(s, shared);
  // payload: the timestamp
  uint8_t timestamp[8];
  if (!decrypt_and_hash(s, m + kInitTimestamp, sizeof timestamp, timestamp))
    return fail(DropReason::kBadAuth);

  const Aead chosen = *proposal == Aead::kAes256Gcm && preferred == Aead::kAes256Gcm &&
                              aead_available(Aead::kAes256Gcm)
                          ? Aead::kAes256Gcm
                          : Aead::kChaCha20Poly1305;
  const uint32_t peer_index = get_be32(m + kInitSender);
  o[0] = kMsgResponse;
  o[1] = static_cast<uint8_t>(chosen);
  put_be32(o + kRespSender, responder_index);
  put_be32(o + kRespReceiver, peer_index);
  mix_hash(s, o, kRespHeader);  // shoal's addition, see the header
  // <- e
  randombytes_buf(e, sizeof e);
  if (crypto_scalarmult_base(o + kRespEphemeral, e) != 0) return fail(DropReason::kWeakKey);
  mix_hash(s, o + kRespEphemeral, kX25519Size);
  // ee
  if (!dh(shared, e, re)) return fail(DropReason::kWeakKey);
  mix_key(s, shared);
  // se
  if (!dh(shared, e, initiator_static.data())) return fail(DropReason::kWeakKey);
  mix_key(s, shared);
  // the empty payload
  encrypt_and_hash(s, nullptr, 0, o + kRespEmpty);
  put_mac1(mac1_key(initiator_static), o, kRespMac1, o + kRespMac1);

  return Accepted{initiator_static, get_be64(timestamp), peer_index,
                  split(s, chosen, /*initiator=*/false)};
}

}  // namespace shoal::crypto
