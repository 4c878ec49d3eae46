// Why crypto/ refused bytes from the network: a sealed gossip frame (Keyring::open) or a
// tunnel handshake message (noise_ik.h). One enum for the module, as common/status.h's rule
// asks: decoders return Result<T, DropReason>, and the layer above counts each reason as its
// own metrics label.
#pragma once

#include <cstdint>
#include <string_view>

namespace shoal::crypto {

enum class DropReason : uint8_t {
  // Keyring::open
  kTooShort,    // shorter than kSealOverhead
  kTooLarge,    // longer than kMaxSealedSize
  kBadVersion,  // unknown format version byte
  kUnknownKey,  // no installed key has the frame's key id
  kBadAuth,     // the tag does not verify: tampered, corrupted, or not sealed by a key holder
                // (also a handshake message's AEAD tag, noise_ik.h)
  // noise_ik.h
  kBadSize,            // not exactly kInitiationSize / kResponseSize bytes
  kBadType,            // the type byte is not the message expected
  kBadReserved,        // the two reserved bytes are not zero
  kBadCipher,          // the cipher byte names no Aead
  kCipherNotProposed,  // a response chose AES for an initiation that proposed ChaCha
  kBadMac1,            // mac1 does not verify under this end's static key: junk, changed
                       // bytes, or meant for another host
  kBadIndex,           // a response's receiver index is not this initiation's sender index
  kWeakKey,            // an X25519 result was zero: a static or ephemeral key of small order
  kUnknownPeer,        // the initiator's static key is not one the caller knows
  kAlreadyDone,        // a response for an Initiator that already accepted one
  kCount
};

// snake_case, usable as a metrics label: "too_short", "bad_auth", "weak_key", ...
std::string_view to_string(DropReason reason);

}  // namespace shoal::crypto
