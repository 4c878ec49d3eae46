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
  kCount
};

// snake_case, usable as a metrics label: "too_short", "bad_auth", ...
std::string_view to_string(DropReason reason);

}  // namespace shoal::crypto
