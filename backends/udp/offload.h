// Packet offload for the userspace UDP tunnel's TUN device (opened with IFF_VNET_HDR and
// TUNSETOFFLOAD TUN_F_CSUM|TSO4|TSO6|USO4|USO6). Reading, the kernel hands over TCP and UDP
// super-packets of up to 64 KiB with the L4 checksum left partial; split_packet cuts one into
// wire-ready IP packets laid out for one UDP_SEGMENT sendmsg and in-place sealing. Writing,
// GroBatch coalesces the decrypted packets of one receive batch back into super-packets the
// kernel accepts. make_icmp_error builds the router replies the tunnel owes its senders.
//
// Everything here is pure (no IO, no clock) and takes untrusted bytes: every length and header
// field is checked, nothing reads outside its input or writes outside its output, nothing
// throws, and nothing allocates per packet (GroBatch sizes its arenas once, in its constructor).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/bytes.h"

namespace shoal::udp {

// The largest IP packet the tunnel carries: 65535 bytes, IPv4's 16-bit total length (IPv6
// packets are held to it too). A TUN super-packet and a UDP_GRO train (the kernel merges
// datagrams into one IP packet's worth) are no longer.
inline constexpr size_t kMaxIpPacket = 65535;
// Fields of the IPv4 header (RFC 791) the tunnel reads, as offsets from its start.
inline constexpr size_t kIpv4TtlOffset = 8;
inline constexpr size_t kIpv4SourceOffset = 12;
inline constexpr size_t kIpv4DestinationOffset = 16;

// struct virtio_net_hdr (linux/virtio_net.h), the 10 bytes in front of every TUN read and
// write. Its fields are little-endian (host order); offsets count from the IP header.
inline constexpr size_t kVirtioNetHdrSize = 10;
inline constexpr uint8_t kVirtioNetHdrFNeedsCsum = 1;
inline constexpr uint8_t kVirtioNetHdrFDataValid = 2;
inline constexpr uint8_t kVirtioNetHdrGsoNone = 0;
inline constexpr uint8_t kVirtioNetHdrGsoTcpV4 = 1;
inline constexpr uint8_t kVirtioNetHdrGsoUdp = 3;  // the old UFO; refused
inline constexpr uint8_t kVirtioNetHdrGsoTcpV6 = 4;
inline constexpr uint8_t kVirtioNetHdrGsoUdpL4 = 5;
inline constexpr uint8_t kVirtioNetHdrGsoEcn = 0x80;

struct VirtioNetHdr {
  uint8_t flags = 0, gso_type = 0;
  uint16_t hdr_len = 0, gso_size = 0, csum_start = 0, csum_offset = 0;
  bool operator==(const VirtioNetHdr&) const = default;
};

// The first 10 bytes of `bytes`; nullopt if there are fewer. Field values are checked by
// split_packet, against the packet they describe.
std::optional<VirtioNetHdr> parse_virtio_net_hdr(ByteView bytes);
// Writes exactly kVirtioNetHdrSize bytes at `out`.
void write_virtio_net_hdr(const VirtioNetHdr& hdr, uint8_t* out);

// Internet checksum (RFC 1071). ones_complement_sum adds `data` as big-endian 16-bit words to
// `initial` and returns the sum folded to 16 bits (not complemented); an odd last byte is
// padded with zero, so only the last piece of a chained sum may have odd length.
// internet_checksum is the value for a checksum field: the complement of that sum. A packet
// whose checksum field is right sums (with the field) to 0xffff, so its checksum is 0.
uint16_t ones_complement_sum(ByteView data, uint32_t initial = 0);
uint16_t internet_checksum(ByteView data, uint32_t initial = 0);
// The TCP/UDP pseudo-header sums (RFC 793, RFC 8200 8.1), folded, to pass as `initial`.
// `src` and `dst` point at the 4 or 16 address bytes inside an IP header.
uint16_t pseudo_header_sum_v4(const uint8_t* src, const uint8_t* dst, uint8_t protocol,
                              uint32_t l4_length);
uint16_t pseudo_header_sum_v6(const uint8_t* src, const uint8_t* dst, uint8_t protocol,
                              uint32_t l4_length);

enum class SplitError : uint8_t {
  kOk,
  kBadHeader,  // virtio header: unknown flag, hdr_len or csum_start/offset beyond the packet
  kNotIp,      // neither IPv4 nor IPv6, or empty
  kBadIp,      // truncated IP header, IHL < 5, total/payload length not the packet's length
  kBadL4,      // TCP/UDP header truncated, TCP data offset < 5, UDP length wrong
  kBadGso,     // GSO type unknown/old UFO/not matching the packet, gso_size 0, a fragment,
               // csum_start/offset not at the L4 checksum
  kTooBig,     // more than 65535 bytes
  kNoRoom,     // out_capacity or seg_len too small for the segments
};

// Output layout. Segment k (an IP packet) is written at out + k*stride + headroom, and
// seg_len[k] holds its length. Every segment except the last is exactly
// stride - headroom - tailroom bytes long; the last may be shorter. So the caller can fill in
// headroom bytes of tunnel header before each segment and tailroom bytes (an AEAD tag) after
// it, in place, and send [headroom][seg 0][tailroom][headroom][seg 1][tailroom]... as one
// sendmsg with UDP_SEGMENT = stride: every datagram but the last is stride bytes long. The
// bytes used are (segments-1)*stride + headroom + seg_len[last] + tailroom <= out_capacity;
// the headroom and tailroom bytes are left as they were.
struct SplitResult {
  size_t segments = 0;  // 0 on error
  SplitError error = SplitError::kOk;
  size_t stride = 0;  // headroom + full segment length + tailroom
};

// Splits one packet read from the TUN (`hdr` parsed from its first 10 bytes, `packet` what
// follows them) into wire-ready IP packets.
// GSO none: one segment, a copy; with NEEDS_CSUM the partial checksum at
// csum_start+csum_offset is completed (as the kernel's skb_checksum_help: over csum_start to
// the end, 0 sent as 0xffff).
// GSO TCPV4/TCPV6: the payload cut into gso_size pieces. Each segment gets its own IPv4 total
// length, id (+1 per segment) and header checksum (IPv6: payload length), its TCP sequence
// number advanced, FIN and PSH only on the last, CWR only on the first, a full TCP checksum.
// GSO UDP_L4: each segment a UDP datagram with its own length, IPv4 id and full checksum.
// hdr_len is checked but not trusted (the kernel may set it to the whole linear part); the
// header lengths are read from the packet. IPv4 and IPv6 (without extension headers for GSO).
SplitResult split_packet(const VirtioNetHdr& hdr, ByteView packet, uint8_t* out,
                         size_t out_capacity, size_t headroom, size_t tailroom,
                         std::span<uint16_t> seg_len);

// Coalesces the decrypted inner IP packets of one receive batch before they are written to
// the TUN, as the kernel's TCP GRO would. Consecutive in-order TCP segments of one flow
// (IPv4 or IPv6; same addresses and ports, ACK number, TTL/hop limit, ToS/traffic class and
// flow label, DF, no IPv4 options or IPv6 extension headers, flags ACK only (PSH allowed on
// the last), the same TCP options bytes, equal payload lengths except a shorter last one,
// valid IP and TCP checksums, at most 65535 bytes in all) become one super-packet: a
// virtio_net_hdr with GSO TCPV4/TCPV6, gso_size the segment payload, hdr_len the IP+TCP header
// length, NEEDS_CSUM with csum_start/offset at the TCP checksum, which holds the pseudo-header
// sum, as the kernel expects. The super-packet keeps the first segment's headers (its window
// and IPv4 id). Everything else is written unchanged behind a GSO-none header. Packets keep
// their order within a flow (a flow's packet that cannot join its open group closes it); the
// writes are ordered by their first packet.
class GroBatch {
 public:
  // The arenas are sized here, once: `max_packets` packets, `max_bytes` bytes of packets
  // (raised to at least 65535, so any IP packet fits in an empty batch).
  explicit GroBatch(size_t max_packets = 128, size_t max_bytes = 256 * 1024);

  void reset();
  // Adds one IP packet (copied into the arena). Returns false only if the batch is full (the
  // caller flushes, resets and adds it again). A packet longer than 65535 bytes cannot be an
  // IP packet the TUN accepts; it is dropped (counted in dropped()) and true returned.
  bool add(ByteView ip_packet);
  // The writes for the TUN, each beginning with its 10-byte virtio_net_hdr. Valid until
  // reset() or add().
  std::span<const ByteView> writes();

  size_t packets() const { return count_; }
  size_t dropped() const { return dropped_; }

 private:
  struct Item {
    uint32_t offset = 0, len = 0;
    int32_t next = -1;  // the next member of its group
  };
  struct Group {
    int32_t head = -1, last = -1;
    uint32_t members = 0;
    uint32_t payload = 0;   // payload bytes of all members
    uint32_t seg_size = 0;  // the head's payload length: gso_size
    uint32_t next_seq = 0;  // the sequence number the next member must carry
    bool tcp = false;       // a coalescing candidate (else a lone pass-through)
    bool open = false;      // may still take members
    bool psh = false;       // the last member carries PSH
    bool v6 = false;        // the head's IP version and header lengths
    uint8_t iphl = 0, tcphl = 0;
  };
  ByteView item_bytes(size_t i) const;
  void render();

  size_t max_packets_, max_bytes_;
  std::vector<uint8_t> in_arena_, out_arena_;
  std::vector<Item> items_;
  std::vector<Group> groups_;
  std::vector<ByteView> writes_;
  size_t count_ = 0, groups_used_ = 0, in_used_ = 0, writes_used_ = 0, dropped_ = 0;
  bool rendered_ = false;
};

// ICMPv4 types make_icmp_error builds.
inline constexpr uint8_t kIcmpDestUnreachable = 3;
inline constexpr uint8_t kIcmpTimeExceeded = 11;
// Destination unreachable codes the tunnel uses.
inline constexpr uint8_t kIcmpNetUnreachable = 0;
inline constexpr uint8_t kIcmpHostUnreachable = 1;
inline constexpr uint8_t kIcmpFragNeeded = 4;
// The time exceeded code the tunnel uses (a router's, RFC 792).
inline constexpr uint8_t kIcmpTtlExceededInTransit = 0;
inline constexpr size_t kIcmpErrorMaxSize = 20 + 8 + 60 + 8;

// A router reply for the tunnel: an ICMPv4 destination unreachable (type 3, `code`; with
// code 4, fragmentation needed, `next_hop_mtu` goes in the header, RFC 1191) or time exceeded
// (type 11, code 0) about `offending`, quoting its IPv4 header and first 8 bytes of data
// (RFC 792, RFC 1812 4.3.2.3), from `router_v4` (host order) to offending's source, TTL 64,
// DF, both checksums right. Returns the length written to `out` (at most
// kIcmpErrorMaxSize and out_cap), 0 when no reply may be sent (RFC 1812 4.3.2.7): another
// type, not a well-formed IPv4 packet with a right header checksum, an ICMP error itself, a
// fragment other than the first, a source that is not one host (0/8, 127/8, multicast,
// 240/4, broadcast), a multicast or broadcast destination, or out_cap too small.
size_t make_icmp_error(ByteView offending, uint32_t router_v4, uint8_t type, uint8_t code,
                       uint8_t* out, size_t out_cap, uint16_t next_hop_mtu = 0);

}  // namespace shoal::udp
