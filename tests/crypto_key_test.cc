#include <doctest/doctest.h>

#include <string>
#include <variant>

#include "crypto/key.h"
#include "crypto/sodium_init.h"

using namespace shoal;
using namespace shoal::crypto;

namespace {

Key counting_key() {
  Key key;
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
  return key;
}

std::string decode_error(std::string_view text) {
  auto result = decode_key(text);
  REQUIRE(!result.ok());
  return result.error().to_string();
}

}  // namespace

TEST_CASE("init succeeds and can be called again") {
  CHECK(init());
  CHECK(init());
}

TEST_CASE("a key survives its text form, surrounded by whitespace") {
  const Key key = generate_key();
  const std::string text = encode_key(key);
  CHECK(text.size() == 44);
  CHECK(text.back() == '=');
  auto decoded = decode_key("  " + text + "\r\n");
  REQUIRE(decoded.ok());
  CHECK(decoded.value() == key);
  CHECK(generate_key() != key);
}

TEST_CASE("a known key has a known text form and id (the id is part of the wire format)") {
  // Cross-checked with Python: hashlib.blake2b(key, digest_size=16,
  // person=b"shoal-key-id-v1\0").digest()[:4] == 53ba1fe3.
  CHECK(encode_key(counting_key()) == "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
  CHECK(key_id(counting_key()) == 0x53ba1fe3);
  CHECK(key_id_hex(0x53ba1fe3) == "53ba1fe3");
  CHECK(key_id_hex(0x0000000a) == "0000000a");
}

TEST_CASE("decode_key says what is wrong without echoing the text") {
  CHECK(decode_error("").find("empty") != std::string::npos);
  CHECK(decode_error(" \t\n").find("empty") != std::string::npos);

  const std::string not_base64 = "this is not base64 at all, is it?!!!!!!!!!!";
  std::string error = decode_error(not_base64);
  CHECK(error.find("not valid base64") != std::string::npos);
  CHECK(error.find(not_base64) == std::string::npos);
  CHECK(error.find("shoal keygen") != std::string::npos);

  // Valid base64 of 31 and 33 bytes.
  const std::string short_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==";
  error = decode_error(short_key);
  CHECK(error.find("decodes to 31 bytes") != std::string::npos);
  CHECK(error.find(short_key) == std::string::npos);
  CHECK(decode_error("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").find("33 bytes") !=
        std::string::npos);

  const std::string good = encode_key(counting_key());
  // Missing padding, URL-safe alphabet, trailing garbage, a space inside.
  CHECK(decode_error(good.substr(0, 43)).find("not valid base64") != std::string::npos);
  CHECK(decode_error("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd-h8=").find("base64") !=
        std::string::npos);
  CHECK(decode_error(good + "AA").find("base64") != std::string::npos);
  CHECK(decode_error(good.substr(0, 20) + " " + good.substr(20)).find("base64") !=
        std::string::npos);
  // Non-canonical last character (same bytes, different padding bits) is refused too.
  CHECK_FALSE(decode_key(good.substr(0, 42) + "9=").ok());

  error = decode_error(std::string(1000, 'A'));
  CHECK(error.find("too long") != std::string::npos);
  CHECK(error.find("AAAAAAAA") == std::string::npos);
}

TEST_CASE("key ids parse back from hex") {
  CHECK(parse_key_id_hex("53ba1fe3") == KeyId{0x53ba1fe3});
  CHECK(parse_key_id_hex("53BA1FE3") == KeyId{0x53ba1fe3});
  CHECK(parse_key_id_hex(key_id_hex(0xffffffff)) == KeyId{0xffffffff});
  CHECK(!parse_key_id_hex("53ba1fe"));
  CHECK(!parse_key_id_hex("53ba1fe30"));
  CHECK(!parse_key_id_hex("53ba1fg3"));
  CHECK(!parse_key_id_hex(""));
}

TEST_CASE("to_base64 pads like standard base64") {
  CHECK(to_base64({}) == "");
  CHECK(to_base64(as_bytes("f")) == "Zg==");
  CHECK(to_base64(as_bytes("foobar")) == "Zm9vYmFy");
}
