#include "crypto/key.h"

#include <sodium.h>

#include <algorithm>

#include "common/byte_order.h"
#include "crypto/sodium_init.h"

namespace shoal::crypto {
namespace {

// BLAKE2b personalisation (exactly 16 bytes): ties ids to this use, so a key id never
// equals some other hash of the same key.
constexpr unsigned char kKeyIdPersonal[crypto_generichash_blake2b_PERSONALBYTES] = {
    's', 'h', 'o', 'a', 'l', '-', 'k', 'e', 'y', '-', 'i', 'd', '-', 'v', '1', 0};

// Longer text cannot be a key; refusing it early keeps the decode buffer small.
constexpr size_t kMaxKeyText = 256;

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  const size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Status decode_error(std::string message) {
  return Status::invalid_argument(std::move(message) +
                                  "; a key is 32 bytes in standard base64 with padding (44 "
                                  "characters), as `shoal keygen` prints");
}

}  // namespace

Key generate_key() {
  require_init();
  Key key;
  randombytes_buf(key.data(), key.size());
  return key;
}

std::string to_base64(ByteView bytes) {
  std::string text(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(text.data(), text.size(), bytes.data(), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  text.pop_back();  // the encoded length counts the terminating NUL
  return text;
}

std::string encode_key(const Key& key) { return to_base64(key); }

Result<Key> decode_key(std::string_view text) {
  text = trim(text);
  if (text.empty()) return decode_error("empty key");
  if (text.size() > kMaxKeyText)
    return decode_error("too long to be a key (" + std::to_string(text.size()) + " characters)");
  // Enough room for any text up to kMaxKeyText, so a wrong length is reported as such.
  uint8_t decoded[kMaxKeyText];
  size_t decoded_size = 0;
  // A null end pointer makes libsodium refuse trailing garbage; it also refuses
  // non-canonical padding bits, so one key has exactly one text form.
  if (sodium_base642bin(decoded, sizeof decoded, text.data(), text.size(), nullptr, &decoded_size,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    sodium_memzero(decoded, sizeof decoded);
    return decode_error("not valid base64");
  }
  if (decoded_size != kKeySize) {
    sodium_memzero(decoded, sizeof decoded);
    return decode_error("decodes to " + std::to_string(decoded_size) + " bytes, not 32");
  }
  Key key;
  std::copy(decoded, decoded + kKeySize, key.begin());
  sodium_memzero(decoded, sizeof decoded);
  return key;
}

KeyId key_id(const Key& key) {
  require_init();
  uint8_t hash[crypto_generichash_blake2b_BYTES_MIN];
  crypto_generichash_blake2b_salt_personal(hash, sizeof hash, key.data(), key.size(), nullptr, 0,
                                           nullptr, kKeyIdPersonal);
  return get_be32(hash);
}

std::string key_id_hex(KeyId id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(8, '0');
  for (int i = 7; i >= 0; --i, id >>= 4) hex[static_cast<size_t>(i)] = kDigits[id & 0xf];
  return hex;
}

std::optional<KeyId> parse_key_id_hex(std::string_view text) {
  if (text.size() != 8) return std::nullopt;
  KeyId id = 0;
  for (char c : text) {
    const int digit = hex_digit(c);
    if (digit < 0) return std::nullopt;
    id = (id << 4) | static_cast<KeyId>(digit);
  }
  return id;
}

}  // namespace shoal::crypto
