// backends/udp/wire.h, the parts for crossing NATs: the relayed datagram (type 6: two node ids
// around a message the relay passes on unread) and the observed-endpoint control message a
// sealed keepalive carries. Both parsers refuse whatever is not exactly well formed.
#include <doctest/doctest.h>

#include <array>
#include <vector>

#include "backends/udp/wire.h"

using namespace shoal;
using namespace shoal::udp;

namespace {

NodeId node(uint8_t first, uint8_t last) {
  std::array<uint8_t, NodeId::kSize> bytes{};
  bytes[0] = first;
  bytes[NodeId::kSize - 1] = last;
  return NodeId(bytes);
}

// A relayed datagram from `source` to `destination` carrying `carried`.
std::vector<uint8_t> relayed(const NodeId& destination, const NodeId& source,
                             const std::vector<uint8_t>& carried) {
  std::vector<uint8_t> out(kRelayHeaderSize);
  write_relay_header(out.data(), destination, source);
  out.insert(out.end(), carried.begin(), carried.end());
  return out;
}

// A sealed data message's bytes: header, `body_size` bytes of ciphertext, the tag.
std::vector<uint8_t> sealed(uint32_t receiver_index, uint64_t counter, size_t body_size) {
  std::vector<uint8_t> out(kSealedHeaderSize + body_size + kTagSize, 0xab);
  write_sealed_header(out.data(), receiver_index, counter);
  return out;
}

Endpoint endpoint(const char* text) { return *Endpoint::parse(text); }

std::vector<uint8_t> observed(const Endpoint& e) {
  std::vector<uint8_t> out(kMaxObservedSize);
  out.resize(write_observed(out.data(), e));
  return out;
}

}  // namespace

TEST_CASE("relayed: the header is type 6, three zero bytes, destination, then source") {
  CHECK(kRelayHeaderSize == 36);
  const NodeId to = node(0x11, 0x1f), from = node(0x22, 0x2f);
  const std::vector<uint8_t> d = relayed(to, from, {0xde, 0xad});
  CHECK(d[0] == kMsgRelayed);
  CHECK(d[0] == 6);
  CHECK((d[1] | d[2] | d[3]) == 0);
  CHECK(d[4] == 0x11);
  CHECK(d[4 + NodeId::kSize - 1] == 0x1f);
  CHECK(d[4 + NodeId::kSize] == 0x22);
  CHECK(d[kRelayHeaderSize - 1] == 0x2f);
}

TEST_CASE("relayed: parsed, it names both ends and points at the message it carries") {
  const NodeId to = node(0x11, 0x1f), from = node(0x22, 0x2f);
  std::vector<uint8_t> d = relayed(to, from, sealed(0x01020304, 77, 20));
  const Datagram p = parse_datagram(d.data(), d.size(), true);
  REQUIRE(p.kind == DatagramKind::kRelayed);
  CHECK(p.destination == to);
  CHECK(p.source == from);
  CHECK(p.body == d.data() + kRelayHeaderSize);
  CHECK(p.body_size == d.size() - kRelayHeaderSize);

  // The destination parses the carried message as one of its own.
  const Datagram inner = parse_datagram(p.body, p.body_size, true);
  REQUIRE(inner.kind == DatagramKind::kSealed);
  CHECK(inner.receiver_index == 0x01020304);
  CHECK(inner.counter == 77);
  CHECK(inner.body_size == 20);
  CHECK(inner.tag == d.data() + d.size() - kTagSize);
}

TEST_CASE(
    "relayed: refused with nothing carried, truncated, on a plaintext tunnel, or reserved set") {
  const NodeId to = node(1, 2), from = node(3, 4);
  std::vector<uint8_t> bare = relayed(to, from, {});
  CHECK(parse_datagram(bare.data(), bare.size(), true).kind == DatagramKind::kInvalid);
  for (size_t size = 0; size < kRelayHeaderSize; ++size) {
    CAPTURE(size);
    CHECK(parse_datagram(bare.data(), size, true).kind == DatagramKind::kInvalid);
  }
  std::vector<uint8_t> one = relayed(to, from, {0x01});
  CHECK(parse_datagram(one.data(), one.size(), true).kind == DatagramKind::kRelayed);
  CHECK(parse_datagram(one.data(), one.size(), false).kind == DatagramKind::kInvalid);
  for (size_t i = 1; i < 4; ++i) {
    std::vector<uint8_t> reserved = one;
    reserved[i] = 1;
    CAPTURE(i);
    CHECK(parse_datagram(reserved.data(), reserved.size(), true).kind == DatagramKind::kInvalid);
  }
}

TEST_CASE("observed: IPv4 and IPv6 endpoints round-trip in 8 and 20 bytes") {
  const Endpoint v4 = endpoint("203.0.113.9:40000");
  const std::vector<uint8_t> four = observed(v4);
  CHECK(four == std::vector<uint8_t>{0x01, 4, 0x9c, 0x40, 203, 0, 113, 9});
  CHECK(parse_observed(four) == v4);

  const Endpoint v6 = endpoint("[2001:db8::1:2]:65535");
  const std::vector<uint8_t> six = observed(v6);
  REQUIRE(six.size() == kMaxObservedSize);
  CHECK(six[0] == 0x01);
  CHECK(six[1] == 6);
  CHECK(six[2] == 0xff);
  CHECK(six[3] == 0xff);
  CHECK(six[4] == 0x20);
  CHECK(six[5] == 0x01);
  CHECK(six[19] == 0x02);
  CHECK(parse_observed(six) == v6);

  CHECK(parse_observed(observed(endpoint("198.51.100.1:1"))) == endpoint("198.51.100.1:1"));
}

TEST_CASE("observed: truncated, oversized, bad family or another message are refused") {
  const std::vector<uint8_t> four = observed(endpoint("192.0.2.7:8285"));
  const std::vector<uint8_t> six = observed(endpoint("[2001:db8::7]:8285"));
  for (size_t size = 0; size < four.size(); ++size) {
    CAPTURE(size);
    CHECK_FALSE(parse_observed(ByteView(four).first(size)));
  }
  for (size_t size = 0; size < six.size(); ++size) {
    CAPTURE(size);
    CHECK_FALSE(parse_observed(ByteView(six).first(size)));
  }
  std::vector<uint8_t> longer = four;
  longer.push_back(0);
  CHECK_FALSE(parse_observed(longer));
  longer = six;
  longer.push_back(0);
  CHECK_FALSE(parse_observed(longer));

  // The family byte must match the length: 4 with 20 bytes, 6 with 8, or anything else.
  std::vector<uint8_t> bad = four;
  bad[1] = 6;
  CHECK_FALSE(parse_observed(bad));
  bad = six;
  bad[1] = 4;
  CHECK_FALSE(parse_observed(bad));
  for (const uint8_t family : std::array<uint8_t, 5>{0, 1, 5, 41, 255}) {
    bad = four;
    bad[1] = family;
    CAPTURE(family);
    CHECK_FALSE(parse_observed(bad));
  }
  // Another control message, or an inner packet: not observed.
  bad = four;
  bad[0] = 0x02;
  CHECK_FALSE(parse_observed(bad));
  bad[0] = 0x45;
  CHECK_FALSE(parse_observed(bad));
}
