#include <doctest/doctest.h>

#include <optional>

#include "common/rng.h"
#include "gossip/wire.h"

using namespace shoal;
using namespace shoal::gossip;

namespace {

const DecodeLimits kLimits{1400, 512, 128, 1000};

// Why decode refused, or nullopt if it decoded.
std::optional<DropReason> refusal(const Result<void, DropReason>& r) {
  if (r) return std::nullopt;
  return r.error();
}

DecodeLimits reading(VersionRange versions) {
  DecodeLimits limits = kLimits;
  limits.versions = versions;
  return limits;
}

proto::Envelope ping_envelope(Rng& rng) {
  proto::Envelope e;
  e.set_sender(to_proto_bytes(NodeId::random(rng)));
  e.mutable_ping()->set_seq(7);
  e.mutable_ping()->set_target(to_proto_bytes(NodeId::random(rng)));
  return e;
}

}  // namespace

TEST_CASE("an encoded envelope with appended updates decodes to the same content") {
  Rng rng(1);
  proto::Envelope e = ping_envelope(rng);
  Bytes packet = encode(e);
  proto::Update u;
  u.mutable_suspect()->set_node(to_proto_bytes(NodeId::random(rng)));
  u.mutable_suspect()->set_from(to_proto_bytes(NodeId::random(rng)));
  u.mutable_suspect()->set_incarnation(3);
  const Bytes encoded = encode_update(u);
  append_update(packet, encoded);
  append_update(packet, encoded);
  CHECK(packet.size() == encode(e).size() + 2 * (encoded.size() + update_overhead(encoded.size())));
  proto::Envelope out;
  REQUIRE(decode(packet, kLimits, out));
  CHECK(out.ping().seq() == 7);
  REQUIRE(out.updates_size() == 2);
  CHECK(out.updates(1).suspect().incarnation() == 3);
}

TEST_CASE("decode refuses and classifies bad input without throwing") {
  Rng rng(2);
  proto::Envelope out;
  CHECK(refusal(decode({}, kLimits, out)) == DropReason::kEmpty);
  Bytes big(1401, kWireVersionMax);
  CHECK(refusal(decode(big, kLimits, out)) == DropReason::kOversized);
  Bytes good = encode(ping_envelope(rng));
  Bytes wrong_version = good;
  wrong_version[0] = 99;
  CHECK(refusal(decode(wrong_version, kLimits, out)) == DropReason::kBadVersion);
  const Bytes garbage = {kWireVersionMax, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  CHECK(refusal(decode(garbage, kLimits, out)) == DropReason::kMalformed);
  // Every truncation of a valid packet is refused or decodes to a valid message.
  for (size_t n = 1; n < good.size(); ++n) {
    CHECK_FALSE(decode(ByteView(good.data(), n), kLimits, out));
  }
}

TEST_CASE("decode checks field rules") {
  Rng rng(3);
  proto::Envelope e = ping_envelope(rng);
  proto::Envelope out;
  e.mutable_ping()->set_target("short");
  CHECK(refusal(decode(encode(e), kLimits, out)) == DropReason::kInvalid);

  e = ping_envelope(rng);
  e.set_sender("");
  CHECK(refusal(decode(encode(e), kLimits, out)) == DropReason::kInvalid);

  e = ping_envelope(rng);
  auto* alive = e.add_updates()->mutable_alive();
  alive->set_node(to_proto_bytes(NodeId::random(rng)));
  alive->mutable_addr()->set_ip("\xc0\x00\x02");  // 3 bytes
  alive->mutable_addr()->set_port(7946);
  CHECK(refusal(decode(encode(e), kLimits, out)) == DropReason::kInvalid);
  alive->mutable_addr()->set_ip(std::string("\xc0\x00\x02\x01", 4));
  CHECK(decode(encode(e), kLimits, out));
  alive->set_meta(std::string(513, 'm'));
  CHECK(refusal(decode(encode(e), kLimits, out)) == DropReason::kInvalid);

  // Doubts: node ids of 16 bytes, at most kMaxDoubts.
  e = ping_envelope(rng);
  for (size_t i = 0; i < kMaxDoubts; ++i) {
    auto* doubt = e.mutable_ping()->add_doubts();
    doubt->set_node(to_proto_bytes(NodeId::random(rng)));
    doubt->set_incarnation(i);
  }
  CHECK(decode(encode(e), kLimits, out));
  CHECK(out.ping().doubts_size() == static_cast<int>(kMaxDoubts));
  e.mutable_ping()->add_doubts()->set_node(to_proto_bytes(NodeId::random(rng)));
  CHECK(refusal(decode(encode(e), kLimits, out)) == DropReason::kInvalid);
  e.mutable_ping()->mutable_doubts()->RemoveLast();
  e.mutable_ping()->mutable_doubts(0)->set_node("short");
  CHECK(refusal(decode(encode(e), kLimits, out)) == DropReason::kInvalid);

  proto::Envelope empty;
  empty.set_sender(to_proto_bytes(NodeId::random(rng)));
  CHECK(refusal(decode(encode(empty), kLimits, out)) == DropReason::kUnknown);

  proto::Envelope many;
  many.set_sender(to_proto_bytes(NodeId::random(rng)));
  for (int i = 0; i < 3; ++i) {
    auto* m = many.mutable_push_pull()->add_members();
    m->set_node(to_proto_bytes(NodeId::random(rng)));
    m->mutable_addr()->set_ip(std::string("\xc0\x00\x02\x01", 4));
    m->mutable_addr()->set_port(1);
    m->set_status(proto::MEMBER_STATUS_ALIVE);
  }
  CHECK(decode(encode(many), kLimits, out));
  CHECK(refusal(decode(encode(many), DecodeLimits{1400, 512, 128, 2}, out)) ==
        DropReason::kInvalid);
}

TEST_CASE("decode reads every version in the reader's range") {
  Rng rng(4);
  const proto::Envelope e = ping_envelope(rng);
  proto::Envelope out;
  for (uint8_t v = 1; v <= 3; ++v) {
    CAPTURE(int(v));
    CHECK(decode(encode(e, v), reading({1, 3}), out));
    CHECK(out.ping().seq() == 7);
  }
  CHECK(decode(encode(e, 2), reading({2, 2}), out));
}

TEST_CASE("decode refuses a version below the reader's min") {
  Rng rng(5);
  const proto::Envelope e = ping_envelope(rng);
  proto::Envelope out;
  CHECK(refusal(decode(encode(e, 1), reading({2, 3}), out)) == DropReason::kBadVersion);
  CHECK(refusal(decode(encode(e, 0), kLimits, out)) == DropReason::kBadVersion);
}

TEST_CASE("a newer peer's message is read best-effort if the peer still reads ours") {
  Rng rng(6);
  proto::Envelope e = ping_envelope(rng);
  e.set_sender_version_min(1);
  // What version 2 might append: a field unknown to us in the envelope and one in the ping
  // (field 1000, length-delimited: tag varint 0x1f42 -> bytes c2 3e).
  std::string ping_extra = e.ping().SerializeAsString() + std::string("\xc2\x3e\x02hi", 5);
  e.mutable_ping()->ParseFromString(ping_extra);
  Bytes packet = encode(e, 2);
  const Bytes unknown_field = {0xc2, 0x3e, 0x03, 'n', 'e', 'w'};
  packet.insert(packet.end(), unknown_field.begin(), unknown_field.end());

  proto::Envelope out;
  REQUIRE(decode(packet, reading({1, 1}), out));
  CHECK(out.ping().seq() == 7);
  CHECK(out.ping().target() == e.ping().target());
  CHECK(decode(packet, reading({1, 2}), out));  // and read fully by a peer of its version

  // A sender whose oldest version is newer than ours could never read our answers.
  e.set_sender_version_min(2);
  CHECK(refusal(decode(encode(e, 2), reading({1, 1}), out)) == DropReason::kBadVersion);
  // One that does not say (an old build) reads only what it wrote.
  e.clear_sender_version_min();
  CHECK(refusal(decode(encode(e, 2), reading({1, 1}), out)) == DropReason::kBadVersion);
  // Reading below what it writes, but claiming a minimum above it: nonsense.
  e.set_sender_version_min(3);
  CHECK(refusal(decode(encode(e, 2), reading({1, 3}), out)) == DropReason::kInvalid);
}

TEST_CASE("advertised version ranges are checked, and none means version 1") {
  Rng rng(7);
  proto::Envelope e = ping_envelope(rng);
  auto* alive = e.add_updates()->mutable_alive();
  alive->set_node(to_proto_bytes(NodeId::random(rng)));
  alive->mutable_addr()->set_ip(std::string("\xc0\x00\x02\x01", 4));
  alive->mutable_addr()->set_port(7946);
  proto::Envelope out;
  CHECK(decode(encode(e), kLimits, out));  // no range: a member from before ranges
  CHECK(versions_from(0, 0) == VersionRange{1, 1});
  alive->set_version_min(1);
  alive->set_version_max(2);
  CHECK(decode(encode(e), kLimits, out));
  CHECK(versions_from(1, 2) == VersionRange{1, 2});
  alive->set_version_min(3);  // min above max
  CHECK(refusal(decode(encode(e), kLimits, out)) == DropReason::kInvalid);
  alive->set_version_min(0);  // only one half of a range
  CHECK(refusal(decode(encode(e), kLimits, out)) == DropReason::kInvalid);
  alive->set_version_min(1);
  alive->set_version_max(256);  // not a version byte
  CHECK(refusal(decode(encode(e), kLimits, out)) == DropReason::kInvalid);
}
