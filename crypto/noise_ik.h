// The udp tunnel's handshake: Noise_IK_25519_ChaChaPoly_SHA256 (Noise rev 34, pattern IK:
// `<- s ... -> e, es, s, ss  <- e, ee, se`), used the way WireGuard uses it. Both ends
// already know each other's static X25519 key (crypto/identity.h; it is in the lease
// table). The initiator still sends its static, encrypted, so the responder learns who is
// calling; the initiation's payload is a timestamp the responder's caller checks is newer
// than the last one from that initiator, which stops a replayed initiation. One round
// trip gives both ends a pair of AeadKeys (crypto/aead.h) with forward secrecy: the keys
// depend on fresh ephemeral keys, wiped when the handshake ends.
//
// Sans-IO: no sockets, no clocks, no state beyond the Initiator object; the caller sends,
// receives, times out, retries, and keeps the replay windows and timestamps. Untrusted
// bytes never make these functions throw: any defect gives the DropReason
// (crypto/drop_reason.h) of the first check that refused them.
//
// Wire format (multi-byte integers big endian):
//
//   Initiation, kInitiationSize = 128 bytes
//     0   type = kMsgInitiation (1)
//     1   aead proposal (Aead value)
//     2   reserved (2) = 0
//     4   sender_index (4)           the initiator's name for the session
//     8   ephemeral (32)             initiator's ephemeral public key, in clear
//     40  encrypted static (32+16)   initiator's static public key
//     88  encrypted timestamp (8+16) nanoseconds, big endian, from the caller
//     112 mac1 (16)
//   Response, kResponseSize = 76 bytes
//     0   type = kMsgResponse (2)
//     1   aead chosen (Aead value)
//     2   reserved (2) = 0
//     4   sender_index (4)           the responder's name for the session
//     8   receiver_index (4)         the initiation's sender_index
//     12  ephemeral (32)             responder's ephemeral public key, in clear
//     44  encrypted empty payload (16)
//     60  mac1 (16)
//   Data (framed by the tunnel, not here): type = kMsgData (4), reserved (3),
//     receiver_index (4), counter (8), ciphertext, tag (16).
//
// mac1 = BLAKE2b-128 over all the message's preceding bytes, keyed with
// SHA-256("shoal mac1" || the receiver's static public key). Anyone who knows that public
// key can compute it; it only lets the receiver drop junk before doing any X25519.
//
// What is authenticated beyond mac1. The Noise prologue is "shoal tunnel v1" followed by
// the initiation's aead byte, so a changed proposal fails message 1's AEAD (no downgrade).
// The response's whole 12-byte header (type, chosen aead, reserved, both indices) is mixed
// into the handshake hash right before its ephemeral key (the one step beyond plain
// Noise), so the response's AEAD tag covers the chosen cipher and the indices. The
// initiation's sender_index is covered by mac1 only, as in WireGuard: changing it only
// makes the response go to an index the initiator does not expect, and it drops it.
//
// Cipher choice: the initiator proposes one (its measure_aead().preferred); the responder
// picks kAes256Gcm only if that was proposed, it prefers AES itself and has it, else
// ChaCha20-Poly1305. The initiator refuses a response choosing AES when it proposed ChaCha.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "common/bytes.h"
#include "common/status.h"
#include "crypto/aead.h"
#include "crypto/drop_reason.h"
#include "crypto/identity.h"
#include "crypto/secure_buffer.h"

namespace shoal::crypto {

inline constexpr uint8_t kMsgInitiation = 1, kMsgResponse = 2, kMsgData = 4, kMsgPlain = 5;
inline constexpr size_t kInitiationSize = 128, kResponseSize = 76, kDataHeaderSize = 16;

// For dispatch: the message's type byte, or 0 if it is empty.
uint8_t message_type(ByteView message);

// A session's two keys. `send` seals what this end sends, `recv` opens what it receives.
struct SessionKeys {
  AeadKey send;
  AeadKey recv;
  Aead aead;
};

// One handshake this end started. Holds the ephemeral secret, the handshake hash and
// chaining key, and a copy of its own static secret (for the `se` exchange when the
// response comes), all in one SecureBuffer, freed (and so zeroed) as soon as finish()
// succeeds, or with the Initiator. Move-only.
class Initiator {
 public:
  // Writes the initiation to `out`. A proposal this process cannot run is lowered to
  // ChaCha. kWeakKey if `peer_static` is a weak key (an X25519 result of zero); `out` is
  // zeroed then. Precondition (SHOAL_REQUIRE): `self` holds its secret (not moved from).
  static Result<Initiator, DropReason> start(const Identity& self, const PublicKey& peer_static,
                                             uint32_t sender_index, uint64_t timestamp_ns,
                                             Aead proposal,
                                             std::span<uint8_t, kInitiationSize> out);

  uint32_t sender_index() const { return sender_index_; }
  Aead proposal() const { return proposal_; }

  struct Done {
    SessionKeys keys;     // send = initiator -> responder
    uint32_t peer_index;  // the responder's sender_index: put it in the data we send
  };
  // The responder's answer. Refused if the bytes are not a valid response to this
  // initiation (kBadSize, kBadType, kBadReserved, kBadIndex, kBadCipher,
  // kCipherNotProposed, kBadMac1, kWeakKey, kBadAuth, checked in that order), or if a
  // response was already accepted (kAlreadyDone); a refused response leaves the Initiator
  // as it was, so junk does not spoil a handshake in flight.
  Result<Done, DropReason> finish(ByteView response);

 private:
  Initiator() = default;

  SecureBuffer state_;                  // see noise_ik.cc: ck, h, ephemeral secret, static secret
  std::array<uint8_t, 32> mac1_key_{};  // keys the response's mac1 (from our public key)
  uint32_t sender_index_ = 0;
  Aead proposal_ = Aead::kChaCha20Poly1305;
};

// What respond() learned.
struct Accepted {
  PublicKey initiator_static;
  uint64_t timestamp_ns;  // the caller checks it is newer than the last from this initiator
  uint32_t peer_index;    // the initiator's sender_index
  SessionKeys keys;       // send = responder -> initiator
};

// Whether an initiation's mac1 was made for `receiver`'s static key: cheap (no X25519), so a
// handshake sent to the wrong host (an address reused at another site) is told apart from a
// forged or corrupt one. False for anything that is not an initiation.
bool initiation_addressed_to(const PublicKey& receiver, ByteView initiation);

// The responder's side, in one call. Checks size, type, reserved, cipher and mac1 first
// (cheap, no X25519), then runs message 1, asks `is_known(initiator static)` so an unknown
// caller is refused before any answer (kUnknownPeer, also when `is_known` is empty), and on
// success writes the response to `out` and returns the keys. The caller sends `out` only
// after its timestamp check passes. `preferred` is this end's own cipher preference (a
// parameter so tests can pick it). `self` must hold its secret, as for start(). On any
// failure the reason (kBadSize,
// kBadType, kBadReserved, kBadCipher, kBadMac1, kWeakKey, kBadAuth, kUnknownPeer), and
// then `out` is zeroed; never throws on bad input.
Result<Accepted, DropReason> respond(const Identity& self, ByteView initiation,
                                     uint32_t responder_index,
                                     const std::function<bool(const PublicKey&)>& is_known,
                                     std::span<uint8_t, kResponseSize> out,
                                     Aead preferred = measure_aead().preferred);

namespace detail {
// Noise's HKDF with two outputs (HMAC-SHA256, chaining key as salt), exposed for its test
// vector. `out1` may alias `ck`.
void hkdf2(const uint8_t* ck32, ByteView ikm, uint8_t* out1_32, uint8_t* out2_32);
}  // namespace detail

}  // namespace shoal::crypto
