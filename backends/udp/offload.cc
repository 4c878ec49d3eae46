#include "backends/udp/offload.h"

#include <algorithm>
#include <cstring>

#include "common/byte_order.h"

namespace shoal::udp {

namespace {

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr size_t kIpv4MinHeader = 20;
constexpr size_t kIpv6Header = 40;
constexpr size_t kTcpMinHeader = 20;
constexpr size_t kUdpHeader = 8;
constexpr size_t kTcpChecksumOffset = 16;
constexpr size_t kUdpChecksumOffset = 6;

constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpAck = 0x10;
constexpr uint8_t kTcpCwr = 0x80;

uint16_t fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// What split_packet and GroBatch need to know about an IP header that has been checked.
struct IpHeader {
  bool v6 = false;
  size_t header_len = 0;  // IPv4 IHL*4, or 40
  uint8_t protocol = 0;   // IPv4 protocol, IPv6 next header
  bool fragment = false;  // IPv4 MF set or a fragment offset
};

// Checks the IP header of `p` and that its length fields name exactly p.size() bytes.
SplitError parse_ip(ByteView p, IpHeader& ip) {
  if (p.empty()) return SplitError::kNotIp;
  const uint8_t version = p[0] >> 4;
  if (version == 4) {
    if (p.size() < kIpv4MinHeader) return SplitError::kBadIp;
    ip.v6 = false;
    ip.header_len = size_t{p[0] & 0x0fu} * 4;
    if (ip.header_len < kIpv4MinHeader || ip.header_len > p.size()) return SplitError::kBadIp;
    if (get_be16(p.data() + 2) != p.size()) return SplitError::kBadIp;
    ip.protocol = p[9];
    ip.fragment = (get_be16(p.data() + 6) & 0x3fff) != 0;
    return SplitError::kOk;
  }
  if (version == 6) {
    if (p.size() < kIpv6Header) return SplitError::kBadIp;
    if (size_t{get_be16(p.data() + 4)} + kIpv6Header != p.size()) return SplitError::kBadIp;
    ip.v6 = true;
    ip.header_len = kIpv6Header;
    ip.protocol = p[6];
    ip.fragment = false;  // a fragment header is an extension header: protocol 44, not L4
    return SplitError::kOk;
  }
  return SplitError::kNotIp;
}

uint16_t pseudo_sum(const uint8_t* ip, bool v6, uint8_t protocol, uint32_t l4_length) {
  return v6 ? pseudo_header_sum_v6(ip + 8, ip + 24, protocol, l4_length)
            : pseudo_header_sum_v4(ip + 12, ip + 16, protocol, l4_length);
}

void set_ipv4_checksum(uint8_t* ip, size_t header_len) {
  put_be16(ip + 10, 0);
  put_be16(ip + 10, internet_checksum(ByteView(ip, header_len)));
}

// a + b and a * b into `out`, false on size_t overflow; the caller's room parameters are
// not bounded, so the layout arithmetic must not wrap.
bool add_ok(size_t a, size_t b, size_t& out) { return !__builtin_add_overflow(a, b, &out); }
bool mul_ok(size_t a, size_t b, size_t& out) { return !__builtin_mul_overflow(a, b, &out); }

SplitResult fail(SplitError e) { return SplitResult{0, e, 0}; }

}  // namespace

std::optional<VirtioNetHdr> parse_virtio_net_hdr(ByteView bytes) {
  if (bytes.size() < kVirtioNetHdrSize) return std::nullopt;
  const uint8_t* b = bytes.data();
  VirtioNetHdr h;
  h.flags = b[0];
  h.gso_type = b[1];
  h.hdr_len = get_le16(b + 2);
  h.gso_size = get_le16(b + 4);
  h.csum_start = get_le16(b + 6);
  h.csum_offset = get_le16(b + 8);
  return h;
}

void write_virtio_net_hdr(const VirtioNetHdr& hdr, uint8_t* out) {
  out[0] = hdr.flags;
  out[1] = hdr.gso_type;
  put_le16(out + 2, hdr.hdr_len);
  put_le16(out + 4, hdr.gso_size);
  put_le16(out + 6, hdr.csum_start);
  put_le16(out + 8, hdr.csum_offset);
}

uint16_t ones_complement_sum(ByteView data, uint32_t initial) {
  // 32-bit words into a 64-bit accumulator cannot overflow for any span (2^32 words of
  // 2^32), and since 2^16 = 1 modulo 0xffff the fold gives the 16-bit word sum.
  uint64_t sum = initial;
  const uint8_t* p = data.data();
  size_t n = data.size();
  for (; n >= 4; p += 4, n -= 4) sum += get_be32(p);
  if (n >= 2) {
    sum += get_be16(p);
    p += 2;
    n -= 2;
  }
  if (n == 1) sum += uint32_t{p[0]} << 8;
  return fold(sum);
}

uint16_t internet_checksum(ByteView data, uint32_t initial) {
  return static_cast<uint16_t>(~ones_complement_sum(data, initial));
}

uint16_t pseudo_header_sum_v4(const uint8_t* src, const uint8_t* dst, uint8_t protocol,
                              uint32_t l4_length) {
  const uint32_t tail = uint32_t{protocol} + (l4_length >> 16) + (l4_length & 0xffff);
  return ones_complement_sum(ByteView(dst, 4), ones_complement_sum(ByteView(src, 4), tail));
}

uint16_t pseudo_header_sum_v6(const uint8_t* src, const uint8_t* dst, uint8_t protocol,
                              uint32_t l4_length) {
  const uint32_t tail = uint32_t{protocol} + (l4_length >> 16) + (l4_length & 0xffff);
  return ones_complement_sum(ByteView(dst, 16), ones_complement_sum(ByteView(src, 16), tail));
}

SplitResult split_packet(const VirtioNetHdr& hdr, ByteView packet, uint8_t* out,
                         size_t out_capacity, size_t headroom, size_t tailroom,
                         std::span<uint16_t> seg_len) {
  if (packet.size() > kMaxIpPacket) return fail(SplitError::kTooBig);
  if ((hdr.flags & ~(kVirtioNetHdrFNeedsCsum | kVirtioNetHdrFDataValid)) != 0)
    return fail(SplitError::kBadHeader);
  if (hdr.hdr_len > packet.size()) return fail(SplitError::kBadHeader);
  const bool needs_csum = (hdr.flags & kVirtioNetHdrFNeedsCsum) != 0;
  if (needs_csum && size_t{hdr.csum_start} + hdr.csum_offset + 2 > packet.size())
    return fail(SplitError::kBadHeader);

  IpHeader ip;
  if (const SplitError e = parse_ip(packet, ip); e != SplitError::kOk) return fail(e);
  // Completing a checksum inside the IP header would corrupt it; the L4 header follows it.
  if (needs_csum && hdr.csum_start < ip.header_len) return fail(SplitError::kBadHeader);

  const uint8_t gso = hdr.gso_type & ~kVirtioNetHdrGsoEcn;
  const bool ecn = (hdr.gso_type & kVirtioNetHdrGsoEcn) != 0;
  const uint8_t* p = packet.data();

  if (gso == kVirtioNetHdrGsoNone) {
    if (ecn) return fail(SplitError::kBadGso);
    const size_t len = packet.size();
    if (seg_len.empty()) return fail(SplitError::kNoRoom);
    size_t need = 0;
    if (!add_ok(headroom, len, need) || !add_ok(need, tailroom, need) || need > out_capacity)
      return fail(SplitError::kNoRoom);
    uint8_t* dst = out + headroom;
    std::memcpy(dst, p, len);
    if (needs_csum) {
      // As the kernel's skb_checksum_help: the field already holds the pseudo-header sum, so
      // summing from csum_start over the field too and complementing completes it; a 0 is
      // sent as 0xffff (the same value in ones' complement, and UDP's "no checksum" is 0).
      const size_t start = hdr.csum_start;
      uint16_t c = internet_checksum(ByteView(dst + start, len - start));
      if (c == 0) c = 0xffff;
      put_be16(dst + start + hdr.csum_offset, c);
    }
    seg_len[0] = static_cast<uint16_t>(len);
    return SplitResult{1, SplitError::kOk, need};
  }

  bool tcp = false;
  if (gso == kVirtioNetHdrGsoTcpV4 || gso == kVirtioNetHdrGsoTcpV6) {
    if (ip.v6 != (gso == kVirtioNetHdrGsoTcpV6) || ip.protocol != kProtoTcp)
      return fail(SplitError::kBadGso);
    tcp = true;
  } else if (gso == kVirtioNetHdrGsoUdpL4) {
    // The ECN bit says the first segment carries CWR, a TCP flag.
    if (ecn || ip.protocol != kProtoUdp) return fail(SplitError::kBadGso);
  } else {
    return fail(SplitError::kBadGso);  // the old UFO (3) and unknown types
  }
  if (ip.fragment || hdr.gso_size == 0) return fail(SplitError::kBadGso);

  const size_t iphl = ip.header_len;
  size_t l4hl = kUdpHeader;
  if (tcp) {
    if (packet.size() < iphl + kTcpMinHeader) return fail(SplitError::kBadL4);
    l4hl = (size_t{p[iphl + 12]} >> 4) * 4;
    if (l4hl < kTcpMinHeader || iphl + l4hl > packet.size()) return fail(SplitError::kBadL4);
  } else {
    if (packet.size() < iphl + kUdpHeader) return fail(SplitError::kBadL4);
    if (get_be16(p + iphl + 4) != packet.size() - iphl) return fail(SplitError::kBadL4);
  }
  // The checksum is recomputed per segment, so its partial value is not needed, but a
  // NEEDS_CSUM that points elsewhere means the header does not describe this packet.
  if (needs_csum && (hdr.csum_start != iphl ||
                     hdr.csum_offset != (tcp ? kTcpChecksumOffset : kUdpChecksumOffset)))
    return fail(SplitError::kBadGso);

  const size_t headers = iphl + l4hl;
  const size_t payload = packet.size() - headers;
  const size_t gs = hdr.gso_size;
  const size_t n = payload == 0 ? 1 : (payload + gs - 1) / gs;
  const size_t full_len = headers + std::min(gs, payload);
  const size_t last_len = headers + (payload - (n - 1) * gs);
  if (n > seg_len.size()) return fail(SplitError::kNoRoom);

  size_t stride = 0, last_record = 0, need = 0;
  if (!add_ok(headroom, full_len, stride) || !add_ok(stride, tailroom, stride) ||
      !add_ok(headroom, last_len, last_record) || !add_ok(last_record, tailroom, last_record) ||
      !mul_ok(n - 1, stride, need) || !add_ok(need, last_record, need) || need > out_capacity)
    return fail(SplitError::kNoRoom);

  const uint16_t first_id = ip.v6 ? 0 : get_be16(p + 4);
  const uint32_t first_seq = tcp ? get_be32(p + iphl + 4) : 0;
  for (size_t k = 0; k < n; ++k) {
    const size_t piece = k + 1 < n ? gs : payload - (n - 1) * gs;
    const size_t len = headers + piece;
    uint8_t* dst = out + k * stride + headroom;
    std::memcpy(dst, p, headers);
    std::memcpy(dst + headers, p + headers + k * gs, piece);
    if (ip.v6) {
      put_be16(dst + 4, static_cast<uint16_t>(len - kIpv6Header));
    } else {
      put_be16(dst + 2, static_cast<uint16_t>(len));
      put_be16(dst + 4, static_cast<uint16_t>(first_id + k));
      set_ipv4_checksum(dst, iphl);
    }
    uint8_t* l4 = dst + iphl;
    const uint32_t l4_len = static_cast<uint32_t>(len - iphl);
    if (tcp) {
      // k * gs <= payload < 2^16, and sequence numbers wrap modulo 2^32 by design.
      put_be32(l4 + 4, first_seq + static_cast<uint32_t>(k * gs));
      uint8_t flags = l4[13];
      if (k + 1 < n) flags &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
      if (k > 0) flags &= static_cast<uint8_t>(~kTcpCwr);
      l4[13] = flags;
      put_be16(l4 + kTcpChecksumOffset, 0);
      put_be16(l4 + kTcpChecksumOffset,
               internet_checksum(ByteView(l4, l4_len), pseudo_sum(dst, ip.v6, kProtoTcp, l4_len)));
    } else {
      put_be16(l4 + 4, static_cast<uint16_t>(l4_len));
      put_be16(l4 + kUdpChecksumOffset, 0);
      uint16_t c =
          internet_checksum(ByteView(l4, l4_len), pseudo_sum(dst, ip.v6, kProtoUdp, l4_len));
      if (c == 0) c = 0xffff;  // 0 would mean "no checksum" (and is not allowed over IPv6)
      put_be16(l4 + kUdpChecksumOffset, c);
    }
    seg_len[k] = static_cast<uint16_t>(len);
  }
  return SplitResult{n, SplitError::kOk, stride};
}

// ---- GRO ----

namespace {

// A TCP packet as GRO sees it. `flow` is set when the IP header is sound and the protocol is
// TCP (the packet belongs to an address pair's TCP traffic); `ports` when the TCP header is
// there too; `candidate` when it may be coalesced at all.
struct TcpPacket {
  bool flow = false, ports = false, candidate = false;
  bool v6 = false;
  size_t iphl = 0, tcphl = 0, payload = 0;
  uint32_t seq = 0;
  uint8_t flags = 0;
};

TcpPacket classify(ByteView p) {
  TcpPacket t;
  IpHeader ip;
  if (parse_ip(p, ip) != SplitError::kOk || ip.protocol != kProtoTcp) return t;
  t.flow = true;
  t.v6 = ip.v6;
  t.iphl = ip.header_len;
  if (ip.fragment) return t;  // a later fragment has no TCP header; a first one is left alone
  if (p.size() < t.iphl + kTcpMinHeader) return t;
  const uint8_t* tcp = p.data() + t.iphl;
  t.tcphl = (size_t{tcp[12]} >> 4) * 4;
  if (t.tcphl < kTcpMinHeader || t.iphl + t.tcphl > p.size()) return t;
  t.ports = true;
  t.payload = p.size() - t.iphl - t.tcphl;
  t.seq = get_be32(tcp + 4);
  t.flags = tcp[13];
  // Only plain data segments: ACK, or ACK|PSH; reserved bits and AE clear; IPv4 without
  // options (the kernel's GRO takes none either).
  if ((t.flags != kTcpAck && t.flags != (kTcpAck | kTcpPsh)) || (tcp[12] & 0x0f) != 0) return t;
  if (t.payload == 0 || (!t.v6 && t.iphl != kIpv4MinHeader)) return t;
  // The super-packet goes to the kernel as CHECKSUM_PARTIAL, which it does not verify, so a
  // segment with a wrong checksum must not be laundered into it: it passes through and the
  // kernel drops it.
  if (!t.v6 && internet_checksum(p.first(t.iphl)) != 0) return t;
  const uint32_t l4_len = static_cast<uint32_t>(p.size() - t.iphl);
  if (internet_checksum(p.subspan(t.iphl), pseudo_sum(p.data(), t.v6, kProtoTcp, l4_len)) != 0)
    return t;
  t.candidate = true;
  return t;
}

bool same_addresses(ByteView a, ByteView b, bool v6) {
  return v6 ? std::memcmp(a.data() + 8, b.data() + 8, 32) == 0
            : std::memcmp(a.data() + 12, b.data() + 12, 8) == 0;
}

}  // namespace

GroBatch::GroBatch(size_t max_packets, size_t max_bytes)
    : max_packets_(std::max<size_t>(max_packets, 1)),
      max_bytes_(std::max(max_bytes, kMaxIpPacket)),
      in_arena_(max_bytes_),
      // Every write is one virtio header plus at most the bytes of the packets it holds.
      out_arena_(max_bytes_ + kVirtioNetHdrSize * max_packets_),
      items_(max_packets_),
      groups_(max_packets_),
      writes_(max_packets_) {}

void GroBatch::reset() {
  count_ = groups_used_ = in_used_ = writes_used_ = dropped_ = 0;
  rendered_ = false;
}

ByteView GroBatch::item_bytes(size_t i) const {
  return ByteView(in_arena_.data() + items_[i].offset, items_[i].len);
}

bool GroBatch::add(ByteView ip_packet) {
  if (ip_packet.size() > kMaxIpPacket) {
    ++dropped_;
    return true;
  }
  if (count_ == max_packets_ || ip_packet.size() > max_bytes_ - in_used_) return false;
  const size_t idx = count_++;
  if (!ip_packet.empty())
    std::memcpy(in_arena_.data() + in_used_, ip_packet.data(), ip_packet.size());
  items_[idx] = Item{static_cast<uint32_t>(in_used_), static_cast<uint32_t>(ip_packet.size()), -1};
  in_used_ += ip_packet.size();
  rendered_ = false;

  const ByteView pkt = item_bytes(idx);
  const TcpPacket t = classify(pkt);
  if (t.flow) {
    // At most one open group per flow exists; find the one this packet's flow may have. A
    // packet whose ports are unknown touches every flow of its address pair.
    for (size_t gi = groups_used_; gi-- > 0;) {
      Group& g = groups_[gi];
      if (!g.open) continue;
      const ByteView head = item_bytes(static_cast<size_t>(g.head));
      if (g.v6 != t.v6 || !same_addresses(head, pkt, t.v6)) continue;
      if (t.ports && std::memcmp(head.data() + g.iphl, pkt.data() + t.iphl, 4) != 0)
        continue;  // another flow of the address pair
      const uint8_t* a = head.data();
      const uint8_t* b = pkt.data();
      const bool same_ip =
          t.v6 ? std::memcmp(a, b, 4) == 0 && a[7] == b[7]  // class, flow label, hop limit
               : a[1] == b[1] && a[8] == b[8] && (a[6] & 0x40) == (b[6] & 0x40);  // ToS TTL DF
      const uint8_t* ta = a + g.iphl;
      const uint8_t* tb = b + t.iphl;
      const bool joins = t.candidate && same_ip && g.iphl == t.iphl && g.tcphl == t.tcphl &&
                         std::memcmp(ta + 8, tb + 8, 4) == 0 &&  // ACK number
                         std::memcmp(ta + 20, tb + 20, t.tcphl - kTcpMinHeader) == 0 &&  // options
                         t.seq == g.next_seq && t.payload <= g.seg_size &&
                         size_t{g.iphl} + g.tcphl + g.payload + t.payload <= kMaxIpPacket;
      if (!joins) {
        g.open = false;  // later packets of the flow must not overtake this one
        if (t.ports) break;
        continue;
      }
      items_[static_cast<size_t>(g.last)].next = static_cast<int32_t>(idx);
      g.last = static_cast<int32_t>(idx);
      ++g.members;
      g.payload += static_cast<uint32_t>(t.payload);
      g.next_seq = t.seq + static_cast<uint32_t>(t.payload);
      g.psh = (t.flags & kTcpPsh) != 0;
      // A shorter segment or PSH ends the super-packet: gso_size cuts it back the same way.
      if (g.psh || t.payload < g.seg_size) g.open = false;
      return true;
    }
  }
  Group& g = groups_[groups_used_++];
  g = Group{};
  g.head = g.last = static_cast<int32_t>(idx);
  g.members = 1;
  g.tcp = t.candidate;
  if (t.candidate) {
    g.payload = g.seg_size = static_cast<uint32_t>(t.payload);
    g.next_seq = t.seq + static_cast<uint32_t>(t.payload);
    g.psh = (t.flags & kTcpPsh) != 0;
    g.open = !g.psh;
    g.v6 = t.v6;
    g.iphl = static_cast<uint8_t>(t.iphl);
    g.tcphl = static_cast<uint8_t>(t.tcphl);
  }
  return true;
}

void GroBatch::render() {
  size_t pos = 0;
  writes_used_ = 0;
  for (size_t gi = 0; gi < groups_used_; ++gi) {
    const Group& g = groups_[gi];
    uint8_t* w = out_arena_.data() + pos;
    const ByteView head = item_bytes(static_cast<size_t>(g.head));
    if (g.members == 1) {
      write_virtio_net_hdr(VirtioNetHdr{}, w);
      if (!head.empty()) std::memcpy(w + kVirtioNetHdrSize, head.data(), head.size());
      const size_t len = kVirtioNetHdrSize + head.size();
      writes_[writes_used_++] = ByteView(w, len);
      pos += len;
      continue;
    }
    const size_t headers = size_t{g.iphl} + g.tcphl;
    const size_t total = headers + g.payload;
    VirtioNetHdr vh;
    vh.flags = kVirtioNetHdrFNeedsCsum;
    vh.gso_type = g.v6 ? kVirtioNetHdrGsoTcpV6 : kVirtioNetHdrGsoTcpV4;
    vh.hdr_len = static_cast<uint16_t>(headers);
    vh.gso_size = static_cast<uint16_t>(g.seg_size);
    vh.csum_start = g.iphl;
    vh.csum_offset = kTcpChecksumOffset;
    write_virtio_net_hdr(vh, w);
    uint8_t* ip = w + kVirtioNetHdrSize;
    std::memcpy(ip, head.data(), head.size());
    size_t at = head.size();
    for (int32_t m = items_[static_cast<size_t>(g.head)].next; m >= 0;
         m = items_[static_cast<size_t>(m)].next) {
      const ByteView b = item_bytes(static_cast<size_t>(m));
      std::memcpy(ip + at, b.data() + headers, b.size() - headers);
      at += b.size() - headers;
    }
    if (g.v6) {
      put_be16(ip + 4, static_cast<uint16_t>(total - kIpv6Header));
    } else {
      put_be16(ip + 2, static_cast<uint16_t>(total));
      set_ipv4_checksum(ip, g.iphl);
    }
    uint8_t* tcp = ip + g.iphl;
    if (g.psh) tcp[13] |= kTcpPsh;
    // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, not complemented.
    put_be16(tcp + kTcpChecksumOffset,
             pseudo_sum(ip, g.v6, kProtoTcp, static_cast<uint32_t>(total - g.iphl)));
    writes_[writes_used_++] = ByteView(w, kVirtioNetHdrSize + total);
    pos += kVirtioNetHdrSize + total;
  }
  rendered_ = true;
}

std::span<const ByteView> GroBatch::writes() {
  if (!rendered_) render();
  return std::span<const ByteView>(writes_.data(), writes_used_);
}

// ---- ICMP ----

size_t make_icmp_error(ByteView offending, uint32_t router_v4, uint8_t type, uint8_t code,
                       uint8_t* out, size_t out_cap, uint16_t next_hop_mtu) {
  if (type == kIcmpDestUnreachable) {
    if (code > 15) return 0;
  } else if (type == kIcmpTimeExceeded) {
    if (code > 1) return 0;
  } else {
    return 0;
  }
  const uint8_t* p = offending.data();
  if (offending.size() < kIpv4MinHeader || (p[0] >> 4) != 4) return 0;
  const size_t ihl = size_t{p[0] & 0x0fu} * 4;
  if (ihl < kIpv4MinHeader || ihl > offending.size()) return 0;
  const size_t total = get_be16(p + 2);
  if (total < ihl || total > offending.size()) return 0;
  // A router drops a packet with a broken header silently; so do we.
  if (internet_checksum(offending.first(ihl)) != 0) return 0;
  if ((get_be16(p + 6) & 0x1fff) != 0) return 0;  // not the first fragment
  if (p[9] == kProtoIcmp) {
    if (total == ihl) return 0;  // cannot tell whether it is an error
    const uint8_t t = p[ihl];
    if (t == 3 || t == 4 || t == 5 || t == 11 || t == 12) return 0;  // errors (RFC 1812)
  }
  const uint32_t src = get_be32(p + 12);
  const uint32_t dst = get_be32(p + 16);
  const uint32_t src_net = src >> 24;
  // Not one host: "this network", loopback, multicast, class E and the limited broadcast.
  if (src_net == 0 || src_net == 127 || src_net >= 224) return 0;
  if (dst >> 28 == 0xe || dst == 0xffffffffu) return 0;

  const size_t quote = ihl + std::min<size_t>(8, total - ihl);
  const size_t len = kIpv4MinHeader + 8 + quote;
  if (len > out_cap) return 0;
  std::memset(out, 0, kIpv4MinHeader + 8);
  out[0] = 0x45;
  out[1] = 0xc0;  // precedence internetwork control, as Linux sends its ICMP errors
  put_be16(out + 2, static_cast<uint16_t>(len));
  put_be16(out + 6, 0x4000);  // DF: an atomic datagram, so id 0 is fine (RFC 6864)
  out[8] = 64;
  out[9] = kProtoIcmp;
  put_be32(out + 12, router_v4);
  put_be32(out + 16, src);
  set_ipv4_checksum(out, kIpv4MinHeader);
  uint8_t* icmp = out + kIpv4MinHeader;
  icmp[0] = type;
  icmp[1] = code;
  if (type == kIcmpDestUnreachable && code == kIcmpFragNeeded) put_be16(icmp + 6, next_hop_mtu);
  std::memcpy(icmp + 8, p, quote);
  put_be16(icmp + 2, internet_checksum(ByteView(icmp, 8 + quote)));
  return len;
}

}  // namespace shoal::udp
