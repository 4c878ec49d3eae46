#include <doctest/doctest.h>
#include <sodium.h>
#include <sys/stat.h>

#include <optional>
#include <set>
#include <string>
#include <variant>

#include "common/file_io.h"
#include "crypto/keyring.h"
#include "dies.h"
#include "temp_dir.h"

using namespace shoal;
using namespace shoal::crypto;
using shoal::test::TempDir;

namespace {

Keyring keyring_of(std::initializer_list<Key> keys) {
  Keyring keyring;
  for (const Key& key : keys) REQUIRE(keyring.install(key).ok());
  return keyring;
}

// Why open() refused `sealed`; nullopt when it opened.
std::optional<DropReason> open_status(const Keyring& keyring, ByteView sealed) {
  const auto opened = keyring.open(sealed);
  if (opened) return std::nullopt;
  return opened.error();
}

std::string opened(const Keyring& keyring, ByteView sealed) {
  const auto plaintext = keyring.open(sealed);
  REQUIRE(plaintext.ok());
  return std::string(as_chars(*plaintext));
}

Keyring parsed(std::string_view text) {
  auto result = Keyring::parse(text);
  if (!result.ok()) FAIL("parse failed: " << result.error().to_string());
  return std::move(result.value());
}

std::string parse_error(std::string_view text) {
  auto result = Keyring::parse(text);
  REQUIRE(!result.ok());
  return result.error().to_string();
}

mode_t file_mode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

}  // namespace

TEST_CASE("seal and open round trip, with the documented frame layout") {
  const Key key = generate_key();
  const Keyring keyring = keyring_of({key});
  const Bytes sealed = keyring.seal(as_bytes("hello gossip"));
  REQUIRE(sealed.size() == 12 + kSealOverhead);
  CHECK(kSealOverhead == 45);
  CHECK(sealed[0] == 1);
  const KeyId id = key_id(key);
  CHECK(sealed[1] == uint8_t(id >> 24));
  CHECK(sealed[2] == uint8_t(id >> 16));
  CHECK(sealed[3] == uint8_t(id >> 8));
  CHECK(sealed[4] == uint8_t(id));
  CHECK(opened(keyring, sealed) == "hello gossip");
  // Random nonces: the same plaintext never seals to the same bytes.
  CHECK(keyring.seal(as_bytes("hello gossip")) != sealed);

  CHECK(opened(keyring, keyring.seal({})).empty());
  const Bytes largest(kMaxPlaintextSize, 0x5a);
  const Bytes sealed_largest = keyring.seal(largest);
  CHECK(sealed_largest.size() == kMaxSealedSize);
  const auto plaintext = keyring.open(sealed_largest);
  REQUIRE(plaintext.ok());
  CHECK(*plaintext == largest);
  CHECK(shoal::test::dies([&] { (void)keyring.seal(Bytes(kMaxPlaintextSize + 1)); }));
}

TEST_CASE("a frame built by hand from the specification opens") {
  // Guards the wire format independently of seal(): header as associated data, big-endian
  // key id, nonce right after the header.
  const Key key = generate_key();
  const KeyId id = key_id(key);
  const std::string message = "built by hand";
  Bytes frame = {1, uint8_t(id >> 24), uint8_t(id >> 16), uint8_t(id >> 8), uint8_t(id)};
  for (uint8_t i = 0; i < 24; ++i) frame.push_back(i);
  frame.resize(frame.size() + message.size() + 16);
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      frame.data() + 29, nullptr, reinterpret_cast<const uint8_t*>(message.data()), message.size(),
      frame.data(), 5, nullptr, frame.data() + 5, key.data());
  CHECK(opened(keyring_of({key}), frame) == message);
}

TEST_CASE("an empty keyring seals nothing and opens nothing") {
  const Keyring empty;
  CHECK(empty.empty());
  CHECK(!empty.primary());
  CHECK(empty.list().empty());
  CHECK(shoal::test::dies([&] { (void)empty.seal(as_bytes("x")); }));
  const Bytes sealed = keyring_of({generate_key()}).seal(as_bytes("x"));
  CHECK(open_status(empty, sealed) == DropReason::kUnknownKey);
}

TEST_CASE("every truncation is refused as too short or as failing authentication") {
  const Keyring keyring = keyring_of({generate_key()});
  const Bytes sealed = keyring.seal(as_bytes("a packet of some length"));
  for (size_t length = 0; length < sealed.size(); ++length) {
    CAPTURE(length);
    const ByteView prefix(sealed.data(), length);
    CHECK(open_status(keyring, prefix) ==
          (length < kSealOverhead ? DropReason::kTooShort : DropReason::kBadAuth));
  }
}

TEST_CASE("every flipped bit is refused with the status for the field it hit") {
  const Keyring keyring = keyring_of({generate_key()});
  const Bytes sealed = keyring.seal(as_bytes("flip me"));
  for (size_t byte = 0; byte < sealed.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      CAPTURE(byte);
      CAPTURE(bit);
      Bytes damaged = sealed;
      damaged[byte] ^= uint8_t(1u << bit);
      const DropReason expected = byte == 0  ? DropReason::kBadVersion
                                  : byte < 5 ? DropReason::kUnknownKey
                                             : DropReason::kBadAuth;
      CHECK(open_status(keyring, damaged) == expected);
    }
  }
  // A flipped key id that names another installed key still fails authentication.
  Keyring two = keyring_of({generate_key(), generate_key()});
  Bytes other_id = two.seal(as_bytes("x"));
  const KeyId second = two.list()[1].id;
  for (int i = 0; i < 4; ++i) other_id[1 + i] = uint8_t(second >> (24 - 8 * i));
  CHECK(open_status(two, other_id) == DropReason::kBadAuth);
}

TEST_CASE("unknown key, bad version and oversized input have their own statuses") {
  const Keyring ours = keyring_of({generate_key()});
  const Keyring theirs = keyring_of({generate_key()});
  CHECK(open_status(ours, theirs.seal(as_bytes("x"))) == DropReason::kUnknownKey);

  Bytes future = ours.seal(as_bytes("x"));
  future[0] = 2;
  CHECK(open_status(ours, future) == DropReason::kBadVersion);

  // Size is checked before anything else is read; the largest size is still accepted.
  Bytes huge(kMaxSealedSize + 1, 0);
  CHECK(open_status(ours, huge) == DropReason::kTooLarge);
  Bytes largest = ours.seal(Bytes(kMaxPlaintextSize));
  largest.back() ^= 1;
  CHECK(open_status(ours, largest) == DropReason::kBadAuth);

  std::set<std::string_view> labels;
  for (int r = 0; r < static_cast<int>(DropReason::kCount); ++r)
    labels.insert(to_string(static_cast<DropReason>(r)));
  CHECK(labels.size() == static_cast<size_t>(DropReason::kCount));
  CHECK(to_string(DropReason::kTooShort) == "too_short");
  CHECK(to_string(DropReason::kTooLarge) == "too_large");
  CHECK(to_string(DropReason::kBadVersion) == "bad_version");
  CHECK(to_string(DropReason::kUnknownKey) == "unknown_key");
  CHECK(to_string(DropReason::kBadAuth) == "bad_auth");
}

TEST_CASE("rotating the cluster key never interrupts traffic") {
  const Key k1 = generate_key(), k2 = generate_key();
  Keyring a = keyring_of({k1});
  Keyring b = keyring_of({k1, k2});
  REQUIRE(b.primary() == key_id(k1));

  const Bytes old_packet = a.seal(as_bytes("sealed with k1"));
  CHECK(opened(b, old_packet) == "sealed with k1");

  // Install k2 everywhere (idempotent on b), then switch a to it: b still opens.
  CHECK(a.install(k2).ok());
  CHECK(b.install(k2).ok());
  CHECK(b.size() == 2);
  CHECK(a.primary() == key_id(k1));
  REQUIRE(a.use(key_id(k2)).ok());
  CHECK(a.primary() == key_id(k2));
  const Bytes new_packet = a.seal(as_bytes("sealed with k2"));
  CHECK(new_packet[1] == uint8_t(key_id(k2) >> 24));
  CHECK(opened(b, new_packet) == "sealed with k2");
  // a still opens what b seals with k1 while b has not switched.
  CHECK(opened(a, b.seal(as_bytes("from b"))) == "from b");

  // b switches and drops k1: new packets open, old ones no longer.
  CHECK(b.remove(key_id(k1)).to_string().find("primary") != std::string::npos);
  REQUIRE(b.use(key_id(k2)).ok());
  CHECK(b.remove(key_id(k1)).ok());
  CHECK(opened(b, a.seal(as_bytes("still fine"))) == "still fine");
  CHECK(open_status(b, old_packet) == DropReason::kUnknownKey);
  CHECK(b.list() == std::vector<KeyInfo>{{key_id(k2), true}});
}

TEST_CASE("keyring management: primary, list order, refusals, capacity") {
  const Key k1 = generate_key(), k2 = generate_key(), k3 = generate_key();
  Keyring keyring = keyring_of({k1, k2, k3});
  CHECK(keyring.install(k1).ok());  // again: no change
  CHECK(keyring.list() ==
        std::vector<KeyInfo>{{key_id(k1), true}, {key_id(k2), false}, {key_id(k3), false}});
  CHECK(!keyring.use(0x12345678));
  const Status unknown = keyring.use(0x12345678);
  CHECK(unknown.code() == Status::Code::kNotFound);
  CHECK(unknown.to_string().find("12345678") != std::string::npos);
  CHECK(unknown.to_string().find("shoal keys list") != std::string::npos);
  CHECK(keyring.list() ==
        std::vector<KeyInfo>{{key_id(k1), true}, {key_id(k2), false}, {key_id(k3), false}});
  CHECK(keyring.use(key_id(k3)));
  CHECK(keyring.use(key_id(k3)).ok());  // already primary: nothing to do, not an error
  CHECK(keyring.list() ==
        std::vector<KeyInfo>{{key_id(k3), true}, {key_id(k1), false}, {key_id(k2), false}});

  const std::string primary_error = keyring.remove(key_id(k3)).to_string();
  CHECK(primary_error.find(key_id_hex(key_id(k3))) != std::string::npos);
  CHECK(primary_error.find("use") != std::string::npos);
  CHECK(keyring.remove(0x12345678).to_string().find("12345678") != std::string::npos);

  // Removing from the middle keeps the right key under each id.
  CHECK(keyring.remove(key_id(k1)).ok());
  CHECK(!keyring.contains(key_id(k1)));
  CHECK(keyring.contains(key_id(k2)));
  REQUIRE(keyring.use(key_id(k2)).ok());
  CHECK(opened(keyring_of({k2}), keyring.seal(as_bytes("k2"))) == "k2");

  Keyring full;
  for (size_t i = 0; i < Keyring::kMaxKeys; ++i) REQUIRE(full.install(generate_key()).ok());
  CHECK(full.install(generate_key()).to_string().find("full") != std::string::npos);
  CHECK(full.size() == Keyring::kMaxKeys);
}

TEST_CASE("a moved keyring keeps its keys and leaves an empty one behind") {
  Keyring first = keyring_of({generate_key()});
  const Bytes sealed = first.seal(as_bytes("moved"));
  Keyring second = std::move(first);
  CHECK(opened(second, sealed) == "moved");
  CHECK(first.empty());  // NOLINT(bugprone-use-after-move): documented state
  first = std::move(second);
  CHECK(opened(first, sealed) == "moved");
}

TEST_CASE("parse reads keys, comments and blank lines; the first key is primary") {
  const Key k1 = generate_key(), k2 = generate_key();
  const Keyring keyring =
      parsed("# cluster keys\r\n\n  " + encode_key(k1) + "  \r\n\t# old\n" + encode_key(k2));
  CHECK(keyring.list() == std::vector<KeyInfo>{{key_id(k1), true}, {key_id(k2), false}});
  CHECK(opened(keyring_of({k1}), keyring.seal(as_bytes("p"))) == "p");
  CHECK(parsed(encode_key(k1) + "\n" + encode_key(k1) + "\n").size() == 1);
}

TEST_CASE("parse refusals name the line and never print a key") {
  const std::string k1 = encode_key(generate_key());
  const std::string bad = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==";  // 31 bytes
  std::string error = parse_error("# keys\n" + k1 + "\n\n" + bad + "\n");
  CHECK(error.find("line 4:") != std::string::npos);
  CHECK(error.find("31 bytes") != std::string::npos);
  CHECK(error.find(bad) == std::string::npos);
  CHECK(error.find(k1) == std::string::npos);

  error = parse_error(k1 + " # a trailing comment is not allowed\n");
  CHECK(error.find("line 1:") != std::string::npos);
  CHECK(error.find(k1) == std::string::npos);

  CHECK(parse_error("").find("no keys") != std::string::npos);
  CHECK(parse_error("# only a comment\n\n").find("no keys") != std::string::npos);
  CHECK(parse_error(std::string(Keyring::kMaxFileSize + 1, '#')).find("too large") !=
        std::string::npos);

  std::string seventeen;
  for (size_t i = 0; i <= Keyring::kMaxKeys; ++i) seventeen += encode_key(generate_key()) + "\n";
  CHECK(parse_error(seventeen).find("line 17: the keyring is full") != std::string::npos);
}

TEST_CASE("save and load round trip through a 0600 file") {
  TempDir dir("shoal-keyring");
  const std::string path = dir.file("etc/keyring");
  const Key k1 = generate_key(), k2 = generate_key();
  Keyring keyring = keyring_of({k1, k2});
  REQUIRE(keyring.use(key_id(k2)).ok());
  REQUIRE(keyring.save(path).ok());
  CHECK(file_mode(path) == 0600);

  auto loaded = Keyring::load(path);
  REQUIRE(loaded.ok());
  const Keyring& again = loaded.value();
  CHECK(again.list() == keyring.list());
  CHECK(opened(again, keyring.seal(as_bytes("through a file"))) == "through a file");
  CHECK(opened(keyring, again.seal(as_bytes("and back"))) == "and back");

  CHECK(Keyring().save(dir.file("empty")).to_string().find("empty") != std::string::npos);
}

TEST_CASE("load refuses files others can read, bad content and missing files, naming the path") {
  TempDir dir("shoal-keyring");
  const std::string key_text = encode_key(generate_key());

  const std::string open_file = dir.file("keyring-0644");
  REQUIRE(write_file_atomically(open_file, key_text + "\n", 0644).ok());
  auto result = Keyring::load(open_file);
  REQUIRE(!result.ok());
  std::string error = result.error().to_string();
  CHECK(error.find(open_file) != std::string::npos);
  CHECK(error.find("0644") != std::string::npos);
  CHECK(error.find("chmod 600") != std::string::npos);
  CHECK(error.find(key_text) == std::string::npos);

  const std::string group_writable = dir.file("keyring-0620");
  REQUIRE(write_file_atomically(group_writable, key_text + "\n", 0620).ok());
  CHECK(!Keyring::load(group_writable).ok());

  const std::string bad = dir.file("keyring-bad");
  REQUIRE(write_file_atomically(bad, key_text + "\nnot a key\n", 0600).ok());
  result = Keyring::load(bad);
  REQUIRE(!result.ok());
  error = result.error().to_string();
  CHECK(error.find(bad) != std::string::npos);
  CHECK(error.find("line 2:") != std::string::npos);
  CHECK(error.find(key_text) == std::string::npos);

  const std::string big = dir.file("keyring-big");
  REQUIRE(write_file_atomically(big, std::string(Keyring::kMaxFileSize + 1, '#'), 0600).ok());
  result = Keyring::load(big);
  REQUIRE(!result.ok());
  CHECK(result.error().to_string().find("too large") != std::string::npos);

  const std::string missing = dir.file("missing");
  result = Keyring::load(missing);
  REQUIRE(!result.ok());
  CHECK(result.error().to_string().find(missing) != std::string::npos);
}
