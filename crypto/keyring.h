// Keyring holds the cluster keys a host accepts (up to kMaxKeys), one of them primary, and
// seals and opens every gossip packet and stream frame with them. Rotation without
// downtime works as in serf/memberlist: install the new key everywhere, `use` it
// everywhere, then remove the old one; in between, every host still opens what the others
// seal.
//
// Sealed frame (kSealOverhead = 45 bytes more than the plaintext):
//   [1 byte format version = 1][4 bytes key id, big endian][24 bytes random nonce]
//   [ciphertext][16 bytes tag]
// XChaCha20-Poly1305-IETF with the 5 header bytes as associated data. Random 192-bit
// nonces are safe for any number of packets per key. There is no replay protection here:
// a captured packet can be delivered again (as with memberlist); the protocol above must
// tolerate duplicates.
//
// open() never reads outside its input whatever it is given, refuses inputs over
// kMaxSealedSize, and reports why it refused as a distinct DropReason (crypto/drop_reason.h). Key
// material lives in a SecureBuffer (guarded, locked, zeroed when freed). Move-only, so keys are
// never copied by accident. Not synchronised: concurrent const calls are fine, a mutation needs the
// caller to exclude everything else.
//
// File form: text, one base64 key per line, the first line is the primary; blank lines and
// lines starting with '#' are ignored. load() refuses files readable or writable by group or
// others (like ssh with private keys), empty keyrings, bad lines (by number, never printing
// the line) and files over kMaxFileSize; save() writes atomically with mode 0600.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "crypto/drop_reason.h"
#include "crypto/key.h"
#include "crypto/secure_buffer.h"

namespace shoal::crypto {

inline constexpr uint8_t kSealFormatVersion = 1;
inline constexpr size_t kSealHeaderSize = 1 + 4;  // version, key id: the associated data
inline constexpr size_t kSealNonceSize = 24;
inline constexpr size_t kSealTagSize = 16;
inline constexpr size_t kSealOverhead = kSealHeaderSize + kSealNonceSize + kSealTagSize;
// Largest plaintext seal() accepts: a UDP packet or one stream frame.
inline constexpr size_t kMaxPlaintextSize = 64 * 1024;
inline constexpr size_t kMaxSealedSize = kMaxPlaintextSize + kSealOverhead;

struct KeyInfo {
  KeyId id;
  bool primary;
  bool operator==(const KeyInfo&) const = default;
};

class Keyring {
 public:
  static constexpr size_t kMaxKeys = 16;
  static constexpr size_t kMaxFileSize = 16 * 1024;

  Keyring() = default;  // empty: seals nothing, opens nothing
  Keyring(Keyring&& other) noexcept;
  Keyring& operator=(Keyring&& other) noexcept;
  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;

  // Parses the file form (see above). Errors name the line ("line 3: ...").
  static Result<Keyring> parse(std::string_view text);
  // Reads and parses `path`. Errors name the path and say what to do.
  static Result<Keyring> load(const std::string& path);
  // Errors name the path. Refuses an empty keyring.
  Status save(const std::string& path) const;
  // The file form, primary first (what save() writes and parse() reads). The caller owns a
  // copy of the keys: wipe it when done (sodium_memzero) unless it must live on.
  std::string file_text() const;

  // Adds `key`; the first key installed becomes primary. Installing a key already present
  // changes nothing. Errors say why not (keyring full, id collision).
  Status install(const Key& key);
  // Makes the installed key `id` primary. Errors say why not (not installed: not_found).
  Status use(KeyId id);
  // Removes key `id`. Errors say why not (unknown, or primary: `use` another key first).
  Status remove(KeyId id);

  bool empty() const { return ids_.empty(); }
  size_t size() const { return ids_.size(); }
  bool contains(KeyId id) const { return index_of(id).has_value(); }
  std::optional<KeyId> primary() const;
  // Primary first, then the others, in the order save() writes them.
  std::vector<KeyInfo> list() const;

  // Seals with the primary key. Preconditions (SHOAL_REQUIRE): !empty() and
  // plaintext.size() <= kMaxPlaintextSize.
  Bytes seal(ByteView plaintext) const;
  // The same, with installed key `id` (a peer that spoke to us with it can read the answer
  // though it lacks our primary); with the primary when `id` is not installed.
  Bytes seal(ByteView plaintext, KeyId id) const;
  // The key id a sealed frame names (its header), if it is long enough to have one.
  static std::optional<KeyId> sealed_with(ByteView sealed);
  // The plaintext of a frame sealed by any installed key, or why not.
  Result<Bytes, DropReason> open(ByteView sealed) const;

 private:
  std::optional<size_t> index_of(KeyId id) const;
  const uint8_t* key_at(size_t index) const { return keys_.data() + index * kKeySize; }
  uint8_t* key_at(size_t index) { return keys_.data() + index * kKeySize; }

  // ids_[i] names the key at key_at(i); index 0 is the primary.
  std::vector<KeyId> ids_;
  SecureBuffer keys_;  // kMaxKeys * kKeySize bytes, allocated on the first install
};

}  // namespace shoal::crypto
