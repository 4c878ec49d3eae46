// backends/udp/offload.h on arbitrary bytes: no crash, no read or write outside the buffers.
// The input is [virtio_net_hdr][packet] for split_packet; as a batch of packets
// ([be16 length, top bit "fix my checksums"][bytes]...) for GroBatch, checksums fixed on
// request so coalescing is reachable; and as the offending packet for make_icmp_error.
// Whatever succeeds must be right: segments have the promised layout and verify, GRO's
// super-packets split cleanly again, ICMP replies verify and quote their input.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "backends/udp/offload.h"
#include "common/byte_order.h"

using namespace shoal;
using namespace shoal::udp;

namespace {

constexpr uint8_t kCanary = 0xa5;
constexpr size_t kOutSize = 160 * 1024;

bool l4_verifies(ByteView p) {
  const bool v6 = p[0] >> 4 == 6;
  const size_t iphl = v6 ? 40 : size_t{p[0] & 15u} * 4;
  const uint8_t proto = v6 ? p[6] : p[9];
  const uint32_t len = static_cast<uint32_t>(p.size() - iphl);
  const uint16_t ph = v6 ? pseudo_header_sum_v6(p.data() + 8, p.data() + 24, proto, len)
                         : pseudo_header_sum_v4(p.data() + 12, p.data() + 16, proto, len);
  return internet_checksum(p.subspan(iphl), ph) == 0;
}

// Splits `packet` under `hdr` and checks what comes out; returns the segment count.
size_t split_and_check(const VirtioNetHdr& hdr, ByteView packet, size_t headroom, size_t tailroom) {
  static std::vector<uint8_t> out(kOutSize);
  static std::array<uint16_t, 128> lens;
  std::memset(out.data(), kCanary, out.size());
  const SplitResult r = split_packet(hdr, packet, out.data(), out.size(), headroom, tailroom, lens);
  if (r.error != SplitError::kOk) {
    if (r.segments != 0) std::abort();
    return 0;
  }
  if (r.segments == 0 || r.segments > lens.size()) std::abort();
  const size_t full = r.stride - headroom - tailroom;
  for (size_t k = 0; k < r.segments; ++k) {
    const bool last = k + 1 == r.segments;
    if (last ? lens[k] > full : lens[k] != full) std::abort();
    const uint8_t* rec = out.data() + k * r.stride;
    if (k * r.stride + headroom + lens[k] + tailroom > out.size()) std::abort();
    for (size_t i = 0; i < headroom; ++i)
      if (rec[i] != kCanary) std::abort();
    for (size_t i = 0; i < tailroom; ++i)
      if (rec[headroom + lens[k] + i] != kCanary) std::abort();
    const ByteView seg(rec + headroom, lens[k]);
    const uint8_t gso = hdr.gso_type & ~kVirtioNetHdrGsoEcn;
    if (gso != kVirtioNetHdrGsoNone) {
      // Segmented packets are rebuilt from scratch: every checksum must verify.
      if (seg[0] >> 4 == 4 && internet_checksum(seg.first(size_t{seg[0] & 15u} * 4)) != 0)
        std::abort();
      if (!l4_verifies(seg)) std::abort();
    }
  }
  if (r.segments == 1 && (hdr.gso_type & ~kVirtioNetHdrGsoEcn) == kVirtioNetHdrGsoNone &&
      lens[0] != packet.size())
    std::abort();
  return r.segments;
}

void check_split(ByteView in) {
  const auto hdr = parse_virtio_net_hdr(in);
  if (!hdr) return;
  const ByteView packet = in.subspan(kVirtioNetHdrSize);
  split_and_check(*hdr, packet, in.size() % 48, (in.size() / 48) % 24);
}

// Makes the IP header checksum and the TCP/UDP checksum of `p` right, where they can be.
void fix_checksums(uint8_t* p, size_t n) {
  if (n < 20) return;
  size_t iphl = 0;
  uint8_t proto = 0;
  if (p[0] >> 4 == 4) {
    iphl = size_t{p[0] & 15u} * 4;
    if (iphl < 20 || iphl > n) return;
    put_be16(p + 10, 0);
    put_be16(p + 10, internet_checksum(ByteView(p, iphl)));
    proto = p[9];
  } else if (p[0] >> 4 == 6 && n >= 40) {
    iphl = 40;
    proto = p[6];
  } else {
    return;
  }
  const size_t field = proto == 6 ? 16 : proto == 17 ? 6 : 0;
  if (field == 0 || n < iphl + field + 2) return;
  uint8_t* l4 = p + iphl;
  put_be16(l4 + field, 0);
  const uint32_t len = static_cast<uint32_t>(n - iphl);
  const uint16_t ph = iphl == 40 ? pseudo_header_sum_v6(p + 8, p + 24, proto, len)
                                 : pseudo_header_sum_v4(p + 12, p + 16, proto, len);
  put_be16(l4 + field, internet_checksum(ByteView(l4, n - iphl), ph));
}

void check_writes(GroBatch& gro) {
  for (const ByteView w : gro.writes()) {
    const auto hdr = parse_virtio_net_hdr(w);
    if (!hdr) std::abort();
    if (hdr->gso_type == kVirtioNetHdrGsoNone) {
      if (hdr->flags != 0) std::abort();
      continue;
    }
    // A super-packet must be one the kernel (and our own splitter) takes apart cleanly.
    if (split_and_check(*hdr, w.subspan(kVirtioNetHdrSize), 0, 0) < 2) std::abort();
  }
}

void check_gro(ByteView in) {
  static GroBatch gro(16, 0);
  static std::vector<uint8_t> pkt(65536);
  gro.reset();
  size_t pos = 0;
  while (pos + 2 <= in.size()) {
    const uint16_t word = get_be16(in.data() + pos);
    pos += 2;
    const size_t len = std::min<size_t>(word & 0x7fff, in.size() - pos);
    std::memcpy(pkt.data(), in.data() + pos, len);
    pos += len;
    if (word & 0x8000) fix_checksums(pkt.data(), len);
    const ByteView p(pkt.data(), len);
    if (!gro.add(p)) {
      check_writes(gro);
      gro.reset();
      if (!gro.add(p)) std::abort();  // any packet fits an empty batch
    }
  }
  check_writes(gro);
}

void check_icmp(ByteView in) {
  std::array<uint8_t, kIcmpErrorMaxSize> out;
  const uint8_t type = in.empty() || in.back() & 1 ? kIcmpDestUnreachable : kIcmpTimeExceeded;
  const size_t n = make_icmp_error(in, 0x0a0000fe, type, 0, out.data(), out.size());
  if (n == 0) return;
  if (n < 48 || n > out.size()) std::abort();
  if (internet_checksum(ByteView(out.data(), 20)) != 0) std::abort();
  if (internet_checksum(ByteView(out.data() + 20, n - 20)) != 0) std::abort();
  if (!std::equal(out.begin() + 28, out.begin() + static_cast<long>(n), in.begin())) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView input(data, size);
  check_split(input);
  check_gro(input);
  check_icmp(input);
  return 0;
}
