#include <doctest/doctest.h>

#include "common/rng.h"
#include "gossip/wire.h"

using namespace shoal;
using namespace shoal::gossip;

namespace {

const DecodeLimits kLimits{1400, 512, 128, 1000};

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
  REQUIRE_FALSE(decode(packet, kLimits, out));
  CHECK(out.ping().seq() == 7);
  REQUIRE(out.updates_size() == 2);
  CHECK(out.updates(1).suspect().incarnation() == 3);
}

TEST_CASE("decode refuses and classifies bad input without throwing") {
  Rng rng(2);
  proto::Envelope out;
  CHECK(decode({}, kLimits, out) == DecodeError::kEmpty);
  Bytes big(1401, kWireVersion);
  CHECK(decode(big, kLimits, out) == DecodeError::kOversized);
  Bytes good = encode(ping_envelope(rng));
  Bytes wrong_version = good;
  wrong_version[0] = 99;
  CHECK(decode(wrong_version, kLimits, out) == DecodeError::kBadVersion);
  const Bytes garbage = {kWireVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  CHECK(decode(garbage, kLimits, out) == DecodeError::kMalformed);
  // Every truncation of a valid packet is refused or decodes to a valid message.
  for (size_t n = 1; n < good.size(); ++n) {
    auto err = decode(ByteView(good.data(), n), kLimits, out);
    CHECK(err.has_value());
  }
}

TEST_CASE("decode checks field rules") {
  Rng rng(3);
  proto::Envelope e = ping_envelope(rng);
  proto::Envelope out;
  e.mutable_ping()->set_target("short");
  CHECK(decode(encode(e), kLimits, out) == DecodeError::kInvalid);

  e = ping_envelope(rng);
  e.set_sender("");
  CHECK(decode(encode(e), kLimits, out) == DecodeError::kInvalid);

  e = ping_envelope(rng);
  auto* alive = e.add_updates()->mutable_alive();
  alive->set_node(to_proto_bytes(NodeId::random(rng)));
  alive->mutable_addr()->set_ip("\xc0\x00\x02");  // 3 bytes
  alive->mutable_addr()->set_port(7946);
  CHECK(decode(encode(e), kLimits, out) == DecodeError::kInvalid);
  alive->mutable_addr()->set_ip(std::string("\xc0\x00\x02\x01", 4));
  CHECK_FALSE(decode(encode(e), kLimits, out));
  alive->set_meta(std::string(513, 'm'));
  CHECK(decode(encode(e), kLimits, out) == DecodeError::kInvalid);

  proto::Envelope empty;
  empty.set_sender(to_proto_bytes(NodeId::random(rng)));
  CHECK(decode(encode(empty), kLimits, out) == DecodeError::kUnknown);

  proto::Envelope many;
  many.set_sender(to_proto_bytes(NodeId::random(rng)));
  for (int i = 0; i < 3; ++i) {
    auto* m = many.mutable_push_pull()->add_members();
    m->set_node(to_proto_bytes(NodeId::random(rng)));
    m->mutable_addr()->set_ip(std::string("\xc0\x00\x02\x01", 4));
    m->mutable_addr()->set_port(1);
    m->set_status(proto::MEMBER_STATUS_ALIVE);
  }
  CHECK_FALSE(decode(encode(many), kLimits, out));
  CHECK(decode(encode(many), DecodeLimits{1400, 512, 128, 2}, out) == DecodeError::kInvalid);
}
