#include "crypto/keyring.h"

#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "common/byte_order.h"
#include "common/file_io.h"
#include "crypto/sodium_init.h"

namespace shoal::crypto {
namespace {

constexpr std::string_view kFileHeader =
    "# shoal cluster keyring: one base64 key per line, the first is the primary.\n"
    "# Keep this file secret (mode 0600). Make keys with `shoal keygen`.\n";

Status parse_error(std::string message) { return Status::invalid_argument(std::move(message)); }

// Wipes a string that held key material before its memory goes back to the heap.
struct WipeOnExit {
  std::string& text;
  ~WipeOnExit() { sodium_memzero(text.data(), text.size()); }
};

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

}  // namespace

Keyring::Keyring(Keyring&& other) noexcept
    : ids_(std::exchange(other.ids_, {})), keys_(std::move(other.keys_)) {}

Keyring& Keyring::operator=(Keyring&& other) noexcept {
  ids_ = std::exchange(other.ids_, {});
  keys_ = std::move(other.keys_);
  return *this;
}

std::optional<size_t> Keyring::index_of(KeyId id) const {
  const auto it = std::find(ids_.begin(), ids_.end(), id);
  if (it == ids_.end()) return std::nullopt;
  return static_cast<size_t>(it - ids_.begin());
}

std::optional<KeyId> Keyring::primary() const {
  if (ids_.empty()) return std::nullopt;
  return ids_.front();
}

std::vector<KeyInfo> Keyring::list() const {
  std::vector<KeyInfo> infos;
  for (size_t i = 0; i < ids_.size(); ++i) infos.push_back({ids_[i], i == 0});
  return infos;
}

Status Keyring::install(const Key& key) {
  const KeyId id = key_id(key);
  if (const auto index = index_of(id)) {
    if (sodium_memcmp(key_at(*index), key.data(), kKeySize) == 0) return {};
    // Two different keys with one id: 1 in 2^32 per pair, but it would make open()
    // try the wrong key, so refuse it.
    return Status::invalid_argument("a different key with the same id " + key_id_hex(id) +
                                    " is already installed; generate another key");
  }
  if (ids_.size() == kMaxKeys)
    return Status::invalid_argument("the keyring is full (" + std::to_string(kMaxKeys) +
                                    " keys); remove a key first");
  if (keys_.size() == 0) keys_ = SecureBuffer(kMaxKeys * kKeySize);
  std::memcpy(key_at(ids_.size()), key.data(), kKeySize);
  ids_.push_back(id);
  return {};
}

Status Keyring::use(KeyId id) {
  const auto index = index_of(id);
  if (!index)
    return Status::not_found("no key with id " + key_id_hex(id) +
                             " is installed; `shoal keys list` shows the installed ones");
  // Move entry `index` to the front, keeping the order of the others; in place, so no
  // copy of a key is left anywhere else.
  std::rotate(ids_.begin(), ids_.begin() + *index, ids_.begin() + *index + 1);
  std::rotate(key_at(0), key_at(*index), key_at(*index + 1));
  return {};
}

Status Keyring::remove(KeyId id) {
  const auto index = index_of(id);
  if (!index) return Status::not_found("no key with id " + key_id_hex(id) + " is installed");
  if (*index == 0)
    return Status::invalid_argument(
        "key " + key_id_hex(id) +
        " is the primary key; make another key primary (`use`) before removing it");
  const size_t last = ids_.size() - 1;
  std::memmove(key_at(*index), key_at(*index + 1), (last - *index) * kKeySize);
  sodium_memzero(key_at(last), kKeySize);
  ids_.erase(ids_.begin() + static_cast<std::ptrdiff_t>(*index));
  return {};
}

Bytes Keyring::seal(ByteView plaintext) const {
  return seal(plaintext, ids_.empty() ? 0 : ids_[0]);
}

std::optional<KeyId> Keyring::sealed_with(ByteView sealed) {
  if (sealed.size() < kSealHeaderSize) return std::nullopt;
  return get_be32(sealed.data() + 1);
}

Bytes Keyring::seal(ByteView plaintext, KeyId id) const {
  SHOAL_REQUIRE(!empty());
  SHOAL_REQUIRE(plaintext.size() <= kMaxPlaintextSize);
  const size_t index = index_of(id).value_or(0);
  Bytes sealed(kSealOverhead + plaintext.size());
  uint8_t* const nonce = sealed.data() + kSealHeaderSize;
  uint8_t* const ciphertext = nonce + kSealNonceSize;
  sealed[0] = kSealFormatVersion;
  put_be32(sealed.data() + 1, ids_[index]);
  randombytes_buf(nonce, kSealNonceSize);
  crypto_aead_xchacha20poly1305_ietf_encrypt(ciphertext, nullptr, plaintext.data(),
                                             plaintext.size(), sealed.data(), kSealHeaderSize,
                                             nullptr, nonce, key_at(index));
  return sealed;
}

Result<Bytes, DropReason> Keyring::open(ByteView sealed) const {
  if (sealed.size() > kMaxSealedSize) return DropReason::kTooLarge;
  if (sealed.size() < kSealOverhead) return DropReason::kTooShort;
  if (sealed[0] != kSealFormatVersion) return DropReason::kBadVersion;
  const auto index = index_of(get_be32(sealed.data() + 1));
  if (!index) return DropReason::kUnknownKey;
  const uint8_t* const nonce = sealed.data() + kSealHeaderSize;
  const uint8_t* const ciphertext = nonce + kSealNonceSize;
  const size_t ciphertext_size = sealed.size() - kSealHeaderSize - kSealNonceSize;
  Bytes plaintext(ciphertext_size - kSealTagSize);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plaintext.data(), nullptr, nullptr, ciphertext,
                                                 ciphertext_size, sealed.data(), kSealHeaderSize,
                                                 nonce, key_at(*index)) != 0)
    return DropReason::kBadAuth;
  return plaintext;
}

Result<Keyring> Keyring::parse(std::string_view text) {
  if (text.size() > kMaxFileSize)
    return parse_error("too large (" + std::to_string(text.size()) + " bytes, at most " +
                       std::to_string(kMaxFileSize) + ")");
  Keyring keyring;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);

    const size_t first = line.find_first_not_of(" \t\r\v\f");
    if (first == std::string_view::npos || line[first] == '#') continue;
    auto key = decode_key(line);
    const std::string where = "line " + std::to_string(line_number);
    if (!key) return key.error().prefixed(where);
    const Status installed = keyring.install(*key);
    sodium_memzero(key->data(), kKeySize);
    if (!installed.ok()) return installed.prefixed(where);
  }
  if (keyring.empty())
    return parse_error("no keys (a keyring needs at least one; make one with `shoal keygen`)");
  return keyring;
}

Result<Keyring> Keyring::load(const std::string& path) {
  const std::string where = "keyring " + path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Status::not_found("cannot open keyring " + path + ": " + std::strerror(errno));
  // Like ssh with private keys: a key others can read is a key others may have.
  if ((st.st_mode & 077) != 0)
    return parse_error(where + ": mode " + octal_mode(st.st_mode) +
                       " lets group or others access it; run `chmod 600 " + path + "`");
  auto content = read_file_limited(path, kMaxFileSize);
  if (!content) return content.error();
  WipeOnExit wipe{*content};
  auto keyring = parse(*content);
  if (!keyring) return keyring.error().prefixed(where);
  return keyring;
}

std::string Keyring::file_text() const {
  std::string text;
  // Reserved up front so no reallocation leaves a copy of a key in freed memory.
  text.reserve(kFileHeader.size() +
               ids_.size() *
                   (sodium_base64_ENCODED_LEN(kKeySize, sodium_base64_VARIANT_ORIGINAL) + 1));
  text += kFileHeader;
  for (size_t i = 0; i < ids_.size(); ++i) {
    std::string line = to_base64({key_at(i), kKeySize});
    text += line;
    text += '\n';
    sodium_memzero(line.data(), line.size());
  }
  return text;
}

Status Keyring::save(const std::string& path) const {
  if (empty()) return Status::invalid_argument("refusing to save an empty keyring to " + path);
  std::string text = file_text();
  WipeOnExit wipe{text};
  return write_file_atomically(path, text, 0600);
}

}  // namespace shoal::crypto
