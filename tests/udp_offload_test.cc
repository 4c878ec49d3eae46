// backends/udp/offload.h: TSO/USO super-packets split as the kernel hands them over, checked
// against checksums computed here independently; GRO coalescing back to the original and the
// cases it must refuse; malformed virtio headers and IP headers; ICMP router replies.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <vector>

#include "backends/udp/offload.h"
#include "common/byte_order.h"

using namespace shoal;
using namespace shoal::udp;

namespace {

// The reference checksum: 16-bit words, a 32-bit accumulator, folded (RFC 1071 4.1).
uint32_t ref_add(ByteView b, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < b.size(); i += 2) sum += get_be16(b.data() + i);
  if (b.size() % 2 == 1) sum += uint32_t{b.back()} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}
uint32_t ref_pseudo4(ByteView ip, uint8_t proto, size_t l4_len) {
  return ref_add(ip.subspan(12, 8), proto + static_cast<uint32_t>(l4_len));
}
uint32_t ref_pseudo6(ByteView ip, uint8_t proto, size_t l4_len) {
  return ref_add(ip.subspan(8, 32), proto + static_cast<uint32_t>(l4_len));
}
bool ipv4_header_ok(ByteView p) { return ref_add(p.first(size_t{p[0] & 15u} * 4)) == 0xffff; }
// The L4 checksum of an IPv4 or IPv6 packet without options or extension headers verifies.
bool l4_ok(ByteView p) {
  const bool v6 = p[0] >> 4 == 6;
  const size_t iphl = v6 ? 40 : size_t{p[0] & 15u} * 4;
  const uint8_t proto = v6 ? p[6] : p[9];
  const ByteView l4 = p.subspan(iphl);
  const uint32_t ph = v6 ? ref_pseudo6(p, proto, l4.size()) : ref_pseudo4(p, proto, l4.size());
  return ref_add(l4, ph) == 0xffff;
}

struct Spec {
  bool v6 = false;
  uint32_t src = 0x0a000001, dst = 0x0a000002;
  uint16_t sport = 40000, dport = 443;
  uint32_t seq = 0xfffff000, ack = 77;  // seq near the wrap on purpose
  uint8_t flags = 0x10;                 // ACK
  uint8_t ttl = 64, tos = 0;
  uint16_t id = 0xfff0;  // the id wraps too
  bool df = true;
  uint16_t window = 5000;
  Bytes options;  // TCP options, a multiple of 4
  Bytes payload;
  bool udp = false;
};

Bytes payload_of(size_t n, uint8_t salt = 0) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7 + i / 251 + salt);
  return b;
}

// A real IPv4/IPv6 TCP or UDP packet with both checksums right.
Bytes build(const Spec& s) {
  const size_t iphl = s.v6 ? 40 : 20;
  const size_t l4hl = s.udp ? 8 : 20 + s.options.size();
  Bytes p(iphl + l4hl + s.payload.size(), 0);
  uint8_t* ip = p.data();
  const uint8_t proto = s.udp ? 17 : 6;
  if (s.v6) {
    ip[0] = 0x60 | (s.tos >> 4);
    ip[1] = static_cast<uint8_t>(s.tos << 4);
    put_be16(ip + 4, static_cast<uint16_t>(p.size() - 40));
    ip[6] = proto;
    ip[7] = s.ttl;
    put_be32(ip + 8, 0x20010db8);
    put_be32(ip + 20, s.src);
    put_be32(ip + 24, 0x20010db8);
    put_be32(ip + 36, s.dst);
  } else {
    ip[0] = 0x45;
    ip[1] = s.tos;
    put_be16(ip + 2, static_cast<uint16_t>(p.size()));
    put_be16(ip + 4, s.id);
    put_be16(ip + 6, s.df ? 0x4000 : 0);
    ip[8] = s.ttl;
    ip[9] = proto;
    put_be32(ip + 12, s.src);
    put_be32(ip + 16, s.dst);
    put_be16(ip + 10, static_cast<uint16_t>(~ref_add(ByteView(ip, 20))));
  }
  uint8_t* l4 = ip + iphl;
  put_be16(l4, s.sport);
  put_be16(l4 + 2, s.dport);
  std::copy(s.payload.begin(), s.payload.end(), l4 + l4hl);
  const size_t l4_len = p.size() - iphl;
  const uint32_t ph = s.v6 ? ref_pseudo6(p, proto, l4_len) : ref_pseudo4(p, proto, l4_len);
  if (s.udp) {
    put_be16(l4 + 4, static_cast<uint16_t>(l4_len));
    uint16_t c = static_cast<uint16_t>(~ref_add(ByteView(l4, l4_len), ph));
    put_be16(l4 + 6, c == 0 ? 0xffff : c);
  } else {
    put_be32(l4 + 4, s.seq);
    put_be32(l4 + 8, s.ack);
    l4[12] = static_cast<uint8_t>(l4hl / 4 << 4);
    l4[13] = s.flags;
    put_be16(l4 + 14, s.window);
    std::copy(s.options.begin(), s.options.end(), l4 + 20);
    put_be16(l4 + 16, static_cast<uint16_t>(~ref_add(ByteView(l4, l4_len), ph)));
  }
  return p;
}

size_t iphl_of(ByteView p) { return p[0] >> 4 == 6 ? 40 : size_t{p[0] & 15u} * 4; }

// As the kernel hands it over: the L4 checksum field holds the folded pseudo-header sum.
Bytes make_partial(Bytes p, bool udp = false) {
  const size_t iphl = iphl_of(p);
  const bool v6 = p[0] >> 4 == 6;
  const uint8_t proto = udp ? 17 : 6;
  const size_t l4_len = p.size() - iphl;
  const uint32_t ph = v6 ? ref_pseudo6(p, proto, l4_len) : ref_pseudo4(p, proto, l4_len);
  put_be16(p.data() + iphl + (udp ? 6 : 16), static_cast<uint16_t>(ph));
  return p;
}

VirtioNetHdr tso_hdr(ByteView p, uint16_t gso_size, bool udp = false) {
  const size_t iphl = iphl_of(p);
  VirtioNetHdr h;
  h.flags = kVirtioNetHdrFNeedsCsum;
  h.gso_type = udp ? kVirtioNetHdrGsoUdpL4
                   : (p[0] >> 4 == 6 ? kVirtioNetHdrGsoTcpV6 : kVirtioNetHdrGsoTcpV4);
  h.hdr_len = static_cast<uint16_t>(iphl + (udp ? 8 : (p[iphl + 12] >> 4) * 4));
  h.gso_size = gso_size;
  h.csum_start = static_cast<uint16_t>(iphl);
  h.csum_offset = udp ? 6 : 16;
  return h;
}

// split_packet into a plain output buffer, no head- or tailroom.
struct Split {
  SplitResult r;
  std::vector<Bytes> segs;
};
Split split(const VirtioNetHdr& h, ByteView p, size_t headroom = 0, size_t tailroom = 0) {
  static std::vector<uint8_t> out(200 * 1024);
  static std::array<uint16_t, 256> lens;
  Split s;
  s.r = split_packet(h, p, out.data(), out.size(), headroom, tailroom, lens);
  for (size_t k = 0; k < s.r.segments; ++k) {
    const uint8_t* at = out.data() + k * s.r.stride + headroom;
    s.segs.emplace_back(at, at + lens[k]);
  }
  return s;
}

ByteView body(const ByteView w) { return w.subspan(kVirtioNetHdrSize); }
VirtioNetHdr hdr_of(ByteView w) { return *parse_virtio_net_hdr(w); }

Spec bulk_spec(size_t payload, uint8_t flags = 0x18) {
  Spec s;
  s.options = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};  // NOP NOP timestamps
  s.flags = flags;
  s.payload = payload_of(payload);
  return s;
}

}  // namespace

TEST_CASE("udp.offload: checksum helpers match RFC 1071 and the reference") {
  const Bytes rfc{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  CHECK(ones_complement_sum(rfc) == 0xddf2);
  CHECK(internet_checksum(rfc) == 0x220d);
  for (size_t n : {0, 1, 2, 3, 5, 7, 64, 1001, 65535}) {
    const Bytes b = payload_of(n, 3);
    CHECK(ones_complement_sum(b, 0x1234) == ref_add(b, 0x1234));
  }
  // Chained pieces of even length give the sum of the whole.
  const Bytes b = payload_of(1000);
  CHECK(ones_complement_sum(ByteView(b).subspan(6), ones_complement_sum(ByteView(b).first(6))) ==
        ones_complement_sum(b));
  const Bytes p = build(Spec{});
  CHECK(pseudo_header_sum_v4(p.data() + 12, p.data() + 16, 6, 20) == ref_pseudo4(p, 6, 20));
}

TEST_CASE("udp.offload: virtio_net_hdr round trip, little-endian, short input refused") {
  const VirtioNetHdr h{1, 0x81, 0x1234, 1400, 20, 16};
  uint8_t b[kVirtioNetHdrSize];
  write_virtio_net_hdr(h, b);
  CHECK((b[0] == 1 && b[1] == 0x81 && b[2] == 0x34 && b[3] == 0x12));
  CHECK((b[4] == (1400 & 0xff) && b[6] == 20 && b[8] == 16));
  CHECK(parse_virtio_net_hdr(ByteView(b, sizeof b)) == h);
  CHECK_FALSE(parse_virtio_net_hdr(ByteView(b, 9)).has_value());
}

TEST_CASE("udp.offload: a 64 KiB TSO super-packet splits into verified TCP segments") {
  const size_t payload = 1400 * 46 + 1000;                   // 65452 bytes of IP packet
  const Spec spec = bulk_spec(payload, 0x18 | 0x80 | 0x01);  // ACK PSH, CWR and FIN to place
  const Bytes super = make_partial(build(spec));
  REQUIRE(super.size() <= 65535);
  VirtioNetHdr h = tso_hdr(super, 1400);
  h.gso_type |= kVirtioNetHdrGsoEcn;
  const Split s = split(h, super);
  REQUIRE(s.r.error == SplitError::kOk);
  REQUIRE(s.r.segments == 47);
  CHECK(s.r.stride == 52 + 1400);
  Bytes joined;
  for (size_t k = 0; k < s.segs.size(); ++k) {
    const Bytes& g = s.segs[k];
    const bool last = k + 1 == s.segs.size();
    CHECK(g.size() == 52 + (last ? 1000 : 1400));
    CHECK(get_be16(g.data() + 2) == g.size());
    CHECK(get_be16(g.data() + 4) == static_cast<uint16_t>(spec.id + k));
    CHECK(ipv4_header_ok(g));
    CHECK(l4_ok(g));
    CHECK(get_be32(g.data() + 24) == static_cast<uint32_t>(spec.seq + k * 1400));
    CHECK(get_be32(g.data() + 28) == spec.ack);
    const uint8_t flags = g[33];
    CHECK((flags & 0x10) != 0);
    CHECK(((flags & 0x01) != 0) == last);                                     // FIN
    CHECK(((flags & 0x08) != 0) == last);                                     // PSH
    CHECK(((flags & 0x80) != 0) == (k == 0));                                 // CWR
    CHECK(std::equal(g.begin() + 40, g.begin() + 52, spec.options.begin()));  // options kept
    joined.insert(joined.end(), g.begin() + 52, g.end());
  }
  CHECK(joined == spec.payload);
}

TEST_CASE("udp.offload: the layout leaves head- and tailroom for in-place sealing") {
  const Bytes super = make_partial(build(bulk_spec(1000 * 3 + 10)));
  const VirtioNetHdr h = tso_hdr(super, 1000);
  std::vector<uint8_t> out(4 * (16 + 1052 + 16), 0xaa);
  std::array<uint16_t, 4> lens{};
  const size_t exact = 3 * (16 + 1052 + 16) + 16 + 62 + 16;
  SplitResult r = split_packet(h, super, out.data(), exact, 16, 16, lens);
  REQUIRE(r.error == SplitError::kOk);
  CHECK(r.segments == 4);
  CHECK(r.stride == 16 + 1052 + 16);
  CHECK((lens[0] == 1052 && lens[1] == 1052 && lens[2] == 1052 && lens[3] == 62));
  for (size_t k = 0; k < 4; ++k) {
    const uint8_t* rec = out.data() + k * r.stride;
    CHECK(std::all_of(rec, rec + 16, [](uint8_t b) { return b == 0xaa; }));
    CHECK(rec[16] == 0x45);
    CHECK(l4_ok(ByteView(rec + 16, lens[k])));
    CHECK(std::all_of(rec + 16 + lens[k], rec + 32 + lens[k], [](uint8_t b) { return b == 0xaa; }));
  }
  CHECK(split_packet(h, super, out.data(), exact - 1, 16, 16, lens).error == SplitError::kNoRoom);
  CHECK(split_packet(h, super, out.data(), out.size(), 16, 16, std::span(lens).first(3)).error ==
        SplitError::kNoRoom);
  CHECK(split_packet(h, super, out.data(), out.size(), SIZE_MAX, 16, lens).error ==
        SplitError::kNoRoom);
  CHECK(split_packet(h, super, out.data(), out.size(), 16, SIZE_MAX - 20, lens).error ==
        SplitError::kNoRoom);
}

TEST_CASE("udp.offload: GSO none with NEEDS_CSUM completes TCP and UDP checksums") {
  for (bool v6 : {false, true}) {
    for (bool udp : {false, true}) {
      Spec spec;
      spec.v6 = v6;
      spec.udp = udp;
      spec.payload = payload_of(333);
      const Bytes full = build(spec);
      const Bytes partial = make_partial(full, udp);
      VirtioNetHdr h = tso_hdr(partial, 0, udp);
      h.gso_type = kVirtioNetHdrGsoNone;
      const Split s = split(h, partial);
      REQUIRE(s.r.error == SplitError::kOk);
      REQUIRE(s.r.segments == 1);
      CHECK(s.segs[0] == full);
      // Without NEEDS_CSUM the packet is copied as it is.
      h.flags = 0;
      const Split plain = split(h, partial);
      REQUIRE(plain.r.segments == 1);
      CHECK(plain.segs[0] == partial);
    }
  }
}

TEST_CASE("udp.offload: a TSO packet no larger than gso_size is one segment") {
  const Bytes p = make_partial(build(bulk_spec(500)));
  const Split s = split(tso_hdr(p, 1400), p);
  REQUIRE(s.r.segments == 1);
  CHECK(l4_ok(s.segs[0]));
  CHECK(s.segs[0].size() == p.size());
  CHECK((s.segs[0][33] & 0x08) != 0);  // its PSH kept: it is the last
}

TEST_CASE("udp.offload: UDP_L4 splits into datagrams with their own length and checksum") {
  for (bool v6 : {false, true}) {
    Spec spec;
    spec.v6 = v6;
    spec.udp = true;
    spec.payload = payload_of(1200 * 3 + 500);
    const Bytes super = make_partial(build(spec), true);
    const Split s = split(tso_hdr(super, 1200, true), super);
    REQUIRE(s.r.error == SplitError::kOk);
    REQUIRE(s.r.segments == 4);
    const size_t iphl = v6 ? 40 : 20;
    Bytes joined;
    for (size_t k = 0; k < 4; ++k) {
      const Bytes& g = s.segs[k];
      CHECK(g.size() == iphl + 8 + (k == 3 ? 500 : 1200));
      CHECK(get_be16(g.data() + iphl + 4) == g.size() - iphl);
      CHECK(l4_ok(g));
      if (v6) {
        CHECK(get_be16(g.data() + 4) == g.size() - 40);
      } else {
        CHECK(ipv4_header_ok(g));
        CHECK(get_be16(g.data() + 4) == static_cast<uint16_t>(spec.id + k));
      }
      joined.insert(joined.end(), g.begin() + static_cast<long>(iphl + 8), g.end());
    }
    CHECK(joined == spec.payload);
  }
}

TEST_CASE("udp.offload: IPv6 TSO splits with payload lengths and checksums") {
  Spec spec = bulk_spec(1300 * 5 + 7);
  spec.v6 = true;
  const Bytes super = make_partial(build(spec));
  const Split s = split(tso_hdr(super, 1300), super);
  REQUIRE(s.r.segments == 6);
  for (size_t k = 0; k < 6; ++k) {
    CHECK(get_be16(s.segs[k].data() + 4) == s.segs[k].size() - 40);
    CHECK(l4_ok(s.segs[k]));
    CHECK(get_be32(s.segs[k].data() + 44) == static_cast<uint32_t>(spec.seq + k * 1300));
  }
}

TEST_CASE("udp.offload: malformed headers and packets are errors, not crashes") {
  const Bytes good = make_partial(build(bulk_spec(3000)));
  const VirtioNetHdr h = tso_hdr(good, 1400);
  REQUIRE(split(h, good).r.error == SplitError::kOk);
  auto err = [](const VirtioNetHdr& hh, const Bytes& p) { return split(hh, p).r.error; };

  for (size_t n : {0, 1, 19, 20, 39, 52, 100}) {  // truncated anywhere
    const Bytes cut(good.begin(), good.begin() + static_cast<long>(n));
    CHECK(err(h, cut) != SplitError::kOk);
    VirtioNetHdr none;
    CHECK(err(none, cut) != SplitError::kOk);
  }
  VirtioNetHdr x = h;
  x.hdr_len = static_cast<uint16_t>(good.size() + 1);
  CHECK(err(x, good) == SplitError::kBadHeader);
  x = h;
  x.csum_start = static_cast<uint16_t>(good.size() - 1);
  CHECK(err(x, good) == SplitError::kBadHeader);
  x = h;
  x.csum_offset = 0xffff;
  CHECK(err(x, good) == SplitError::kBadHeader);
  x = h;
  x.csum_start = 10;  // inside the IP header
  CHECK(err(x, good) == SplitError::kBadHeader);
  x = h;
  x.csum_offset = 6;  // not the TCP checksum
  CHECK(err(x, good) == SplitError::kBadGso);
  x = h;
  x.flags |= 0x40;
  CHECK(err(x, good) == SplitError::kBadHeader);
  x = h;
  x.gso_size = 0;
  CHECK(err(x, good) == SplitError::kBadGso);
  x = h;
  x.gso_type = kVirtioNetHdrGsoUdp;  // UFO
  CHECK(err(x, good) == SplitError::kBadGso);
  x.gso_type = kVirtioNetHdrGsoTcpV6;  // not an IPv6 packet
  CHECK(err(x, good) == SplitError::kBadGso);
  x.gso_type = kVirtioNetHdrGsoUdpL4;  // not UDP
  CHECK(err(x, good) == SplitError::kBadGso);
  x.gso_type = 9;
  CHECK(err(x, good) == SplitError::kBadGso);
  x.gso_type = kVirtioNetHdrGsoNone | kVirtioNetHdrGsoEcn;
  CHECK(err(x, good) == SplitError::kBadGso);

  Bytes p = good;
  p[0] = 0x44;  // IHL 4
  CHECK(err(h, p) == SplitError::kBadIp);
  p = good;
  p[0] = 0x4f;  // IHL 15: 60 bytes, beyond the TCP header
  CHECK(err(h, p) != SplitError::kOk);
  p = good;
  put_be16(p.data() + 2, static_cast<uint16_t>(good.size() - 1));  // total length mismatch
  CHECK(err(h, p) == SplitError::kBadIp);
  p.push_back(0);  // a trailing byte
  put_be16(p.data() + 2, static_cast<uint16_t>(good.size()));
  CHECK(err(h, p) == SplitError::kBadIp);
  p = good;
  p[0] = 0x55;
  CHECK(err(h, p) == SplitError::kNotIp);
  p = good;
  p[32] = 0x40;  // TCP data offset 4
  CHECK(err(h, p) == SplitError::kBadL4);
  p = good;
  p[32] = 0xf0;  // 60 bytes of TCP header: fits, so a valid (odd) packet
  CHECK(err(h, p) == SplitError::kOk);
  p = good;
  put_be16(p.data() + 6, 0x2000);  // MF: a fragment cannot be segmented
  CHECK(err(h, p) == SplitError::kBadGso);
  const Bytes huge(70000, 0x45);
  CHECK(err(h, huge) == SplitError::kTooBig);

  Spec us;
  us.udp = true;
  us.payload = payload_of(3000);
  Bytes u = make_partial(build(us), true);
  put_be16(u.data() + 24, 100);  // UDP length wrong
  CHECK(err(tso_hdr(u, 1200, true), u) == SplitError::kBadL4);
}

TEST_CASE("udp.offload: GRO coalesces split segments back into the original super-packet") {
  for (bool v6 : {false, true}) {
    Spec spec = bulk_spec(1400 * 46 + 1000);  // ACK|PSH
    spec.v6 = v6;
    if (v6) spec.payload.resize(1400 * 45 + 1000);
    const Bytes super = make_partial(build(spec));
    const VirtioNetHdr h = tso_hdr(super, 1400);
    const Split s = split(h, super);
    REQUIRE(s.r.error == SplitError::kOk);
    GroBatch gro;
    for (const Bytes& g : s.segs) REQUIRE(gro.add(g));
    const auto w = gro.writes();
    REQUIRE(w.size() == 1);
    CHECK(hdr_of(w[0]) == h);
    const ByteView got = body(w[0]);
    CHECK(std::equal(got.begin(), got.end(), super.begin(), super.end()));
    // And it splits again into the same segments, checksums completed.
    const Split again = split(hdr_of(w[0]), got);
    CHECK(again.segs == s.segs);
  }
}

TEST_CASE("udp.offload: GRO keeps flows apart and their order; refuses what must not merge") {
  const Bytes super = make_partial(build(bulk_spec(1400 * 4)));
  const Split s = split(tso_hdr(super, 1400), super);
  REQUIRE(s.segs.size() == 4);
  const std::vector<Bytes>& a = s.segs;
  auto passthrough = [](ByteView w, const Bytes& pkt) {
    return hdr_of(w) == VirtioNetHdr{} &&
           std::equal(body(w).begin(), body(w).end(), pkt.begin(), pkt.end());
  };

  SUBCASE("out of order") {
    GroBatch gro;
    for (int i : {0, 2, 1, 3}) gro.add(a[static_cast<size_t>(i)]);
    const auto w = gro.writes();
    REQUIRE(w.size() == 4);
    CHECK(passthrough(w[0], a[0]));
    CHECK(passthrough(w[1], a[2]));
    CHECK(passthrough(w[2], a[1]));
    CHECK(passthrough(w[3], a[3]));
  }
  SUBCASE("two flows interleaved") {
    Spec bs = bulk_spec(1400 * 3);
    bs.sport = 40001;
    const Split b = split(tso_hdr(make_partial(build(bs)), 1400), make_partial(build(bs)));
    GroBatch gro;
    for (size_t i = 0; i < 3; ++i) {
      gro.add(a[i]);
      gro.add(b.segs[i]);
    }
    const auto w = gro.writes();
    REQUIRE(w.size() == 2);
    CHECK(get_be16(body(w[0]).data() + 20) == 40000);
    CHECK(get_be16(body(w[1]).data() + 20) == 40001);
    for (const ByteView x : w) {
      CHECK(hdr_of(x).gso_type == kVirtioNetHdrGsoTcpV4);
      CHECK(body(x).size() == 52 + 3 * 1400);
      CHECK(split(hdr_of(x), body(x)).r.segments == 3);
    }
  }
  SUBCASE("FIN and RST are not merged, and nothing of the flow passes them") {
    Bytes fin = a[2];
    fin[33] |= 0x01;
    Bytes rst = a[1];
    rst[33] = 0x14;
    for (Bytes* p : {&fin, &rst}) {  // recompute the checksum with the new flags
      put_be16(p->data() + 36, 0);
      put_be16(p->data() + 36, static_cast<uint16_t>(~ref_add(ByteView(*p).subspan(20),
                                                              ref_pseudo4(*p, 6, p->size() - 20))));
    }
    GroBatch gro;
    gro.add(a[0]);
    gro.add(a[1]);
    gro.add(fin);
    gro.add(a[3]);
    auto w = gro.writes();
    REQUIRE(w.size() == 3);
    CHECK(hdr_of(w[0]).gso_type == kVirtioNetHdrGsoTcpV4);
    CHECK(body(w[0]).size() == 52 + 2800);
    CHECK(passthrough(w[1], fin));
    CHECK(passthrough(w[2], a[3]));
    gro.reset();
    gro.add(a[0]);
    gro.add(rst);
    gro.add(a[2]);
    w = gro.writes();
    REQUIRE(w.size() == 3);
    CHECK(passthrough(w[0], a[0]));
    CHECK(passthrough(w[1], rst));
    CHECK(passthrough(w[2], a[2]));
  }
  SUBCASE("a different TTL, ACK number or bad checksum does not merge") {
    Bytes ttl = a[1];
    ttl[8] = 63;
    put_be16(ttl.data() + 10, 0);
    put_be16(ttl.data() + 10, static_cast<uint16_t>(~ref_add(ByteView(ttl).first(20))));
    Bytes bad = a[1];
    bad[60] ^= 1;
    for (const Bytes& second : {ttl, bad}) {
      GroBatch gro;
      gro.add(a[0]);
      gro.add(second);
      const auto w = gro.writes();
      REQUIRE(w.size() == 2);
      CHECK(passthrough(w[0], a[0]));
      CHECK(passthrough(w[1], second));
    }
    Spec other = bulk_spec(1400 * 2);
    other.ack = 78;
    const Bytes op = make_partial(build(other));
    const Split o = split(tso_hdr(op, 1400), op);
    GroBatch gro;
    gro.add(a[0]);
    gro.add(o.segs[1]);
    CHECK(gro.writes().size() == 2);
  }
  SUBCASE("a shorter middle segment ends the super-packet") {
    Spec ss = bulk_spec(1400 + 1000 + 1400, 0x10);
    const Bytes sp = make_partial(build(ss));
    // Cut by hand: 1400, 1000, 1400.
    const Split first = split(tso_hdr(sp, 1400), sp);
    REQUIRE(first.segs.size() == 3);  // 1400, 1400, 1000
    GroBatch gro;
    gro.add(first.segs[0]);
    gro.add(first.segs[2]);  // seq of segment 2: out of order, not joined
    CHECK(gro.writes().size() == 2);
    // 1000 bytes right after 1400: joins and closes; the next full one starts anew.
    Spec t = bulk_spec(1000, 0x10);
    t.seq = ss.seq + 1400;
    Spec u = bulk_spec(1400, 0x10);
    u.seq = ss.seq + 2400;
    gro.reset();
    gro.add(first.segs[0]);
    gro.add(build(t));
    gro.add(build(u));
    const auto w = gro.writes();
    REQUIRE(w.size() == 2);
    CHECK(hdr_of(w[0]).gso_size == 1400);
    CHECK(body(w[0]).size() == 52 + 2400);
    CHECK(passthrough(w[1], build(u)));
    // A longer second segment does not join a shorter first.
    gro.reset();
    gro.add(build(t));
    Spec v = bulk_spec(1400, 0x10);
    v.seq = t.seq + 1000;
    gro.add(build(v));
    CHECK(gro.writes().size() == 2);
  }
  SUBCASE("the 65535-byte limit starts a second super-packet") {
    Spec big = bulk_spec(1400 * 50, 0x10);
    big.payload.resize(1400 * 46);  // the most one super-packet holds: 52 + 46*1400
    const Bytes p1 = make_partial(build(big));
    const Split s1 = split(tso_hdr(p1, 1400), p1);
    Spec more = bulk_spec(1400 * 3, 0x10);
    more.seq = big.seq + 1400 * 46;
    const Bytes p2 = make_partial(build(more));
    const Split s2 = split(tso_hdr(p2, 1400), p2);
    GroBatch gro;
    for (const Bytes& g : s1.segs) REQUIRE(gro.add(g));
    for (const Bytes& g : s2.segs) REQUIRE(gro.add(g));
    const auto w = gro.writes();
    REQUIRE(w.size() == 2);
    CHECK(body(w[0]).size() == 52 + 46 * 1400);
    CHECK(body(w[1]).size() == 52 + 3 * 1400);
  }
}

TEST_CASE("udp.offload: GRO passes non-TCP and oddities through; a full batch says so") {
  Spec us;
  us.udp = true;
  us.payload = payload_of(100);
  const Bytes udp = build(us);
  Spec ack;  // a pure ACK
  const Bytes pure_ack = build(ack);
  const Bytes garbage{0x45, 1, 2};
  const Bytes empty;
  GroBatch gro(4);
  CHECK(gro.add(udp));
  CHECK(gro.add(pure_ack));
  CHECK(gro.add(garbage));
  CHECK(gro.add(empty));
  CHECK_FALSE(gro.add(udp));  // full
  const auto w = gro.writes();
  REQUIRE(w.size() == 4);
  const Bytes* in[] = {&udp, &pure_ack, &garbage, &empty};
  for (size_t i = 0; i < 4; ++i) {
    CHECK(hdr_of(w[i]) == VirtioNetHdr{});
    CHECK(std::equal(body(w[i]).begin(), body(w[i]).end(), in[i]->begin(), in[i]->end()));
  }
  const Bytes huge(70000, 0);
  gro.reset();
  CHECK(gro.add(huge));
  CHECK(gro.dropped() == 1);
  CHECK(gro.writes().empty());
  // The byte arena: a batch with room for few bytes refuses once they are used.
  GroBatch small(100, 0);  // raised to 65535 bytes
  const Bytes p = build(bulk_spec(1400));
  size_t added = 0;
  while (small.add(p)) ++added;
  CHECK(added == 65535 / p.size());
}

TEST_CASE("udp.offload: ICMP unreachable and time exceeded quote right and verify") {
  Spec spec = bulk_spec(200);
  const Bytes off = build(spec);
  const uint32_t router = 0x0a0000fe;
  for (uint8_t type : {kIcmpDestUnreachable, kIcmpTimeExceeded}) {
    uint8_t out[kIcmpErrorMaxSize];
    const size_t n = make_icmp_error(off, router, type, 0, out, sizeof out);
    REQUIRE(n == 20 + 8 + 20 + 8);
    const ByteView r(out, n);
    CHECK(ipv4_header_ok(r));
    CHECK(get_be16(out + 2) == n);
    CHECK(out[8] == 64);
    CHECK(out[9] == 1);
    CHECK(get_be32(out + 12) == router);
    CHECK(get_be32(out + 16) == spec.src);
    CHECK(out[20] == type);
    CHECK(out[21] == 0);
    CHECK(ref_add(r.subspan(20)) == 0xffff);
    CHECK(std::equal(out + 28, out + n, off.begin()));  // header + 8 bytes of data
  }
  uint8_t out[kIcmpErrorMaxSize];
  // Fragmentation needed carries the next-hop MTU.
  REQUIRE(make_icmp_error(off, router, 3, kIcmpFragNeeded, out, sizeof out, 1380) > 0);
  CHECK(get_be16(out + 26) == 1380);
  CHECK(ref_add(ByteView(out + 20, 36)) == 0xffff);
  // Too small a buffer, another type.
  CHECK(make_icmp_error(off, router, 3, 0, out, 55) == 0);
  CHECK(make_icmp_error(off, router, 8, 0, out, sizeof out) == 0);
  // A short packet quotes what it has.
  Spec tiny;
  tiny.udp = true;
  const Bytes t = build(tiny);  // 28 bytes: 20 + 8
  CHECK(make_icmp_error(ByteView(t).first(24), router, 11, 0, out, sizeof out) == 0);  // bad len
  Bytes t2 = t;
  t2.resize(24);
  put_be16(t2.data() + 2, 24);
  put_be16(t2.data() + 10, 0);
  put_be16(t2.data() + 10, static_cast<uint16_t>(~ref_add(ByteView(t2).first(20))));
  CHECK(make_icmp_error(t2, router, 11, 0, out, sizeof out) == 20 + 8 + 24);
}

TEST_CASE("udp.offload: no ICMP error about an ICMP error, a fragment or a non-host source") {
  uint8_t out[kIcmpErrorMaxSize];
  const uint32_t router = 0x0a0000fe;
  // An ICMP error about something: no reply. An echo request: a reply is fine.
  const Bytes off = build(Spec{});
  const size_t n = make_icmp_error(off, router, 3, 1, out, sizeof out);
  REQUIRE(n > 0);
  const Bytes err(out, out + n);
  uint8_t out2[kIcmpErrorMaxSize];
  CHECK(make_icmp_error(err, router, 11, 0, out2, sizeof out2) == 0);
  Bytes echo = err;
  echo[20] = 8;  // type only matters; the ICMP checksum is not ours to check
  CHECK(make_icmp_error(echo, router, 11, 0, out2, sizeof out2) > 0);

  auto with = [](Bytes p, size_t at, uint32_t v, bool be16 = false) {
    if (be16)
      put_be16(p.data() + at, static_cast<uint16_t>(v));
    else
      put_be32(p.data() + at, v);
    put_be16(p.data() + 10, 0);
    put_be16(p.data() + 10, static_cast<uint16_t>(~ref_add(ByteView(p).first(20))));
    return p;
  };
  CHECK(make_icmp_error(with(off, 6, 0x0010, true), router, 11, 0, out, sizeof out) == 0);
  CHECK(make_icmp_error(with(off, 6, 0x2000, true), router, 11, 0, out, sizeof out) > 0);
  for (uint32_t src : {0u, 0x7f000001u, 0xe0000001u, 0xf0000001u, 0xffffffffu})
    CHECK(make_icmp_error(with(off, 12, src), router, 3, 0, out, sizeof out) == 0);
  for (uint32_t dst : {0xe0000001u, 0xffffffffu})
    CHECK(make_icmp_error(with(off, 16, dst), router, 3, 0, out, sizeof out) == 0);
  // A broken header checksum, IHL < 5, not IPv4: none.
  Bytes bad = off;
  bad[10] ^= 1;
  CHECK(make_icmp_error(bad, router, 3, 0, out, sizeof out) == 0);
  bad = off;
  bad[0] = 0x44;
  CHECK(make_icmp_error(bad, router, 3, 0, out, sizeof out) == 0);
  Spec v6;
  v6.v6 = true;
  CHECK(make_icmp_error(build(v6), router, 3, 0, out, sizeof out) == 0);
  CHECK(make_icmp_error(ByteView(off).first(10), router, 3, 0, out, sizeof out) == 0);
}
