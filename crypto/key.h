// The cluster key: 32 random bytes shared by every host of a cluster, written as standard
// padded base64 (what `shoal keygen` prints and a keyring file holds, one per line).
//
// A KeyId names a key without revealing it: the first 4 bytes (big endian) of a BLAKE2b
// hash of the key, personalised for this use. It travels in clear in every sealed packet
// so the receiver knows which installed key to try, and is printed as 8 hex digits. Ids
// are not secret. The derivation is part of the wire format: changing it breaks mixed
// clusters.
//
// decode_key never throws and its errors never contain the text it was given.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/bytes.h"
#include "common/status.h"

namespace shoal::crypto {

inline constexpr size_t kKeySize = 32;
using Key = std::array<uint8_t, kKeySize>;
using KeyId = uint32_t;

// A fresh random key from the system's CSPRNG.
Key generate_key();

// Standard base64 with padding (44 characters).
std::string encode_key(const Key& key);
// Surrounding whitespace is ignored. Error text says what is wrong (not base64, wrong
// length) and what to do, without echoing the input.
Result<Key> decode_key(std::string_view text);

KeyId key_id(const Key& key);
// 8 lowercase hex digits.
std::string key_id_hex(KeyId id);
// Exactly 8 hex digits (either case), else nullopt: for `shoal keys use|remove ID`.
std::optional<KeyId> parse_key_id_hex(std::string_view text);

// Standard padded base64 of any bytes (public keys for display).
std::string to_base64(ByteView bytes);

}  // namespace shoal::crypto
