// SealedFrames, the agent's framing of gossip on the wire: datagrams and multi-chunk stream
// messages round-trip sealed and in plaintext; a flipped bit, a datagram replayed as a
// stream chunk, a stranger's key, an oversized length and a message over the cap are each
// refused with their own reason; bytes arriving one at a time reassemble the same.
#include <doctest/doctest.h>

#include "crypto/key.h"
#include "crypto/keyring.h"
#include "crypto/sodium_init.h"
#include "protocol/sealed_frames.h"

using namespace shoal;
using namespace shoal::protocol;

namespace {

crypto::Keyring keyring_with_new_key() {
  REQUIRE(crypto::init());
  crypto::Keyring keyring;
  REQUIRE(keyring.install(crypto::generate_key()).ok());
  return keyring;
}

Bytes pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7 + 3);
  return b;
}

// Feeds `wire` to a fresh reader `step` bytes at a time; returns the messages.
std::vector<Bytes> read_all(const SealedFrames& frames, const Bytes& wire, size_t step,
                            std::optional<DropReason>& failed, size_t max_message = 1 << 20) {
  SealedFrames::Reader reader(frames, max_message);
  std::vector<Bytes> out;
  for (size_t at = 0; at < wire.size(); at += step) {
    reader.feed(ByteView(wire).subspan(at, std::min(step, wire.size() - at)));
    while (auto m = reader.next()) out.push_back(*m);
  }
  failed = reader.failed();
  return out;
}

}  // namespace

TEST_CASE("sealed: datagrams and stream messages round-trip; chunks reassemble") {
  const crypto::Keyring keyring = keyring_with_new_key();
  const SealedFrames frames(&keyring);
  CHECK(frames.encrypted());
  const Bytes packet = pattern(1200);
  auto opened = frames.unwrap_datagram(frames.wrap_datagram(packet));
  REQUIRE(opened);
  CHECK(*opened == packet);
  CHECK(frames.wrap_datagram(packet).size() == packet.size() + frames.datagram_overhead());

  // A message of several chunks (over the 64 KiB sealed unit), then a small one, fed in
  // odd-sized pieces.
  const Bytes big = pattern(200000), small = pattern(10);
  Bytes wire = frames.wrap_message(big);
  const Bytes second = frames.wrap_message(small);
  wire.insert(wire.end(), second.begin(), second.end());
  for (size_t step : {size_t{1}, size_t{777}, wire.size()}) {
    std::optional<DropReason> failed;
    const auto messages = read_all(frames, wire, step, failed);
    CHECK(!failed);
    REQUIRE(messages.size() == 2);
    CHECK(messages[0] == big);
    CHECK(messages[1] == small);
  }
}

TEST_CASE("sealed: tampering, replay across channels, strangers and sizes are refused") {
  const crypto::Keyring keyring = keyring_with_new_key();
  const SealedFrames frames(&keyring);

  Bytes datagram = frames.wrap_datagram(pattern(100));
  datagram[datagram.size() / 2] ^= 0x01;
  CHECK(!frames.unwrap_datagram(datagram));
  CHECK(frames.unwrap_datagram(datagram).error() == DropReason::kBadAuth);

  // A stream chunk replayed as a datagram: authentic, but the wrong kind.
  const Bytes chunk = frames.wrap_message(pattern(50));
  CHECK(!frames.unwrap_datagram(ByteView(chunk).subspan(4)));
  CHECK(frames.unwrap_datagram(ByteView(chunk).subspan(4)).error() == DropReason::kBadKind);

  // Sealed with a key we do not hold.
  const crypto::Keyring other = keyring_with_new_key();
  const SealedFrames stranger(&other);
  CHECK(!frames.unwrap_datagram(stranger.wrap_datagram(pattern(10))));
  CHECK(frames.unwrap_datagram(stranger.wrap_datagram(pattern(10))).error() ==
        DropReason::kUnknownKey);

  CHECK(!frames.unwrap_datagram(Bytes{1, 2, 3}));
  CHECK(frames.unwrap_datagram(Bytes{1, 2, 3}).error() == DropReason::kTooShort);

  // A length prefix over the sealed-unit cap is refused before anything is buffered.
  std::optional<DropReason> failed;
  read_all(frames, Bytes{0x7f, 0xff, 0xff, 0xff, 0, 0}, 6, failed);
  CHECK(failed == DropReason::kTooLarge);
  // A message over the reader's cap.
  read_all(frames, frames.wrap_message(pattern(5000)), 5000, failed, 1000);
  CHECK(failed == DropReason::kTooLarge);
  // A tampered chunk ends the stream.
  Bytes bad = frames.wrap_message(pattern(50));
  bad[bad.size() - 1] ^= 0x80;
  read_all(frames, bad, bad.size(), failed);
  CHECK(failed == DropReason::kBadAuth);
}

TEST_CASE("sealed: authenticated() only after a chunk opened; buffered() counts what waits") {
  const crypto::Keyring keyring = keyring_with_new_key();
  const SealedFrames frames(&keyring);
  SealedFrames::Reader reader(frames, 1 << 20);
  const Bytes wire = frames.wrap_message(pattern(100));
  reader.feed(ByteView(wire).subspan(0, 50));
  CHECK(!reader.next());
  CHECK(!reader.authenticated());
  CHECK(reader.buffered() == 50);
  reader.feed(ByteView(wire).subspan(50));
  CHECK(reader.next());
  CHECK(reader.authenticated());
}

TEST_CASE("plaintext: the same layout without sealing; sealed input is not plaintext") {
  const SealedFrames plain(nullptr);
  CHECK(!plain.encrypted());
  auto opened = plain.unwrap_datagram(plain.wrap_datagram(pattern(30)));
  REQUIRE(opened);
  CHECK(*opened == pattern(30));
  std::optional<DropReason> failed;
  const auto messages = read_all(plain, plain.wrap_message(pattern(90000)), 1000, failed);
  REQUIRE(messages.size() == 1);
  CHECK(messages[0] == pattern(90000));
}

TEST_CASE("sealed: a stream is answered in the key its opener spoke, if we hold it") {
  // The member back from down holds only the old key; the cluster holds old and new and
  // seals with the new one. Its opening is readable; so must our answer be.
  REQUIRE(crypto::init());
  const crypto::Key old_key = crypto::generate_key(), new_key = crypto::generate_key();
  crypto::Keyring returning, cluster;
  REQUIRE(returning.install(old_key).ok());
  REQUIRE(cluster.install(old_key).ok());
  REQUIRE(cluster.install(new_key).ok());
  REQUIRE(cluster.use(crypto::key_id(new_key)).ok());
  const SealedFrames returning_frames(&returning), cluster_frames(&cluster);

  SealedFrames::Reader at_cluster(cluster_frames, 1 << 20);
  CHECK_FALSE(at_cluster.key());
  at_cluster.feed(returning_frames.wrap_message(pattern(100)));
  REQUIRE(at_cluster.next());
  REQUIRE(at_cluster.key());
  CHECK(*at_cluster.key() == crypto::key_id(old_key));

  std::optional<DropReason> failed;
  // Sealed with the cluster's primary, the answer is lost on it...
  CHECK(read_all(returning_frames, cluster_frames.wrap_message(pattern(50)), 1 << 20, failed)
            .empty());
  CHECK(failed == DropReason::kUnknownKey);
  // ...in the opener's key, it is read.
  const auto answer =
      read_all(returning_frames, cluster_frames.wrap_message(pattern(50), at_cluster.key()),
               1 << 20, failed);
  REQUIRE(answer.size() == 1);
  CHECK(answer[0] == pattern(50));
  // A key we do not hold (any more) is never used: the primary seals instead.
  const auto unknown = cluster_frames.wrap_message(pattern(10), crypto::KeyId{0x01020304});
  SealedFrames::Reader reader(cluster_frames, 1 << 20);
  reader.feed(unknown);
  REQUIRE(reader.next());
  CHECK(*reader.key() == crypto::key_id(new_key));
}
