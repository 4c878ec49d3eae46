#include "backends/udp/wire.h"

#include <cstring>

#include "common/byte_order.h"

namespace shoal::udp {

Datagram parse_datagram(uint8_t* data, size_t size, bool sealed) {
  Datagram out;
  if (size < kPlainHeaderSize) return out;
  // Data messages' reserved bytes must be zero, so a later version that uses them is told
  // apart rather than misread. (Handshake messages carry the cipher in byte 1; noise_ik.h
  // checks those in full.)
  const bool reserved_zero = data[1] == 0 && data[2] == 0 && data[3] == 0;
  switch (data[0]) {
    case crypto::kMsgPlain:
      if (sealed || !reserved_zero) return out;
      out.kind = DatagramKind::kPlain;
      out.body = data + kPlainHeaderSize;
      out.body_size = size - kPlainHeaderSize;
      return out;
    case crypto::kMsgData:
      if (!sealed || !reserved_zero || size < kSealedHeaderSize + kTagSize) return out;
      out.kind = DatagramKind::kSealed;
      out.receiver_index = get_be32(data + 4);
      out.counter = get_be64(data + 8);
      out.body = data + kSealedHeaderSize;
      out.body_size = size - kSealedHeaderSize - kTagSize;
      out.tag = out.body + out.body_size;
      return out;
    case crypto::kMsgInitiation:
      if (sealed) out.kind = DatagramKind::kInitiation;
      return out;
    case crypto::kMsgResponse:
      if (sealed) out.kind = DatagramKind::kResponse;
      return out;
    case kMsgRelayed: {
      // The carried message must be a whole one of its own kind: parsed again by the
      // destination, it is never trusted because the relay passed it.
      if (!sealed || !reserved_zero || size <= kRelayHeaderSize) return out;
      const ByteView ids(data + 4, 2 * NodeId::kSize);
      out.kind = DatagramKind::kRelayed;
      out.destination = *NodeId::from_bytes(ids.first(NodeId::kSize));
      out.source = *NodeId::from_bytes(ids.last(NodeId::kSize));
      out.body = data + kRelayHeaderSize;
      out.body_size = size - kRelayHeaderSize;
      return out;
    }
    default:
      return out;
  }
}

void write_plain_header(uint8_t* out) {
  out[0] = crypto::kMsgPlain;
  std::memset(out + 1, 0, 3);
}

void write_relay_header(uint8_t* out, const NodeId& destination, const NodeId& source) {
  out[0] = kMsgRelayed;
  std::memset(out + 1, 0, 3);
  std::memcpy(out + 4, destination.bytes().data(), NodeId::kSize);
  std::memcpy(out + 4 + NodeId::kSize, source.bytes().data(), NodeId::kSize);
}

void write_sealed_header(uint8_t* out, uint32_t receiver_index, uint64_t counter) {
  out[0] = crypto::kMsgData;
  std::memset(out + 1, 0, 3);
  put_be32(out + 4, receiver_index);
  put_be64(out + 8, counter);
}

bool looks_like_ipv4(ByteView packet) { return packet.size() >= 20 && (packet[0] >> 4) == 4; }

namespace {
constexpr uint8_t kControlObserved = 0x01;
}

size_t write_observed(uint8_t* out, const Endpoint& endpoint) {
  const ByteView address = endpoint.address.view();
  out[0] = kControlObserved;
  out[1] = endpoint.address.is_v4() ? 4 : 6;
  put_be16(out + 2, endpoint.port);
  std::memcpy(out + 4, address.data(), address.size());
  return 4 + address.size();
}

std::optional<Endpoint> parse_observed(ByteView plaintext) {
  if (plaintext.size() < 4 || plaintext[0] != kControlObserved) return std::nullopt;
  const size_t address_size = plaintext[1] == 4 ? 4 : plaintext[1] == 6 ? 16 : 0;
  if (address_size == 0 || plaintext.size() != 4 + address_size) return std::nullopt;
  auto address = IpAddress::from_bytes(plaintext.subspan(4));
  if (!address) return std::nullopt;
  return Endpoint{*address, get_be16(plaintext.data() + 2)};
}

}  // namespace shoal::udp
