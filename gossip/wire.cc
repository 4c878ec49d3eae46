#include "gossip/wire.h"

namespace shoal::gossip {
namespace {

constexpr uint8_t kUpdatesTag = (15 << 3) | 2;  // field 15, length-delimited

size_t varint_size(size_t value) {
  size_t n = 1;
  while (value >= 0x80) value >>= 7, ++n;
  return n;
}

bool valid_id(const std::string& bytes) { return bytes.size() == NodeId::kSize; }

// Both 0 (not advertised) or 1 <= min <= max <= 255.
bool valid_versions(uint32_t min, uint32_t max) {
  return (min == 0 && max == 0) || (min >= 1 && min <= max && max <= 0xff);
}

bool valid_address(const proto::Address& a) {
  return (a.ip().size() == 4 || a.ip().size() == 16) && a.port() >= 1 && a.port() <= 65535;
}

template <typename Addresses>
bool valid_candidates(const Addresses& list) {
  if (static_cast<size_t>(list.size()) > kMaxCandidates) return false;
  for (const auto& a : list)
    if (!valid_address(a)) return false;
  return true;
}

template <typename Doubts>
bool valid_doubts(const Doubts& list) {
  if (static_cast<size_t>(list.size()) > kMaxDoubts) return false;
  for (const auto& d : list)
    if (!valid_id(d.node())) return false;
  return true;
}

bool valid_update(const proto::Update& u, const DecodeLimits& limits) {
  switch (u.kind_case()) {
    case proto::Update::kAlive:
      return valid_id(u.alive().node()) && u.alive().has_addr() &&
             valid_address(u.alive().addr()) && u.alive().name().size() <= limits.max_name_bytes &&
             u.alive().meta().size() <= limits.max_meta_bytes &&
             valid_versions(u.alive().version_min(), u.alive().version_max()) &&
             valid_candidates(u.alive().candidates());
    case proto::Update::kSuspect:
      return valid_id(u.suspect().node()) && valid_id(u.suspect().from());
    case proto::Update::kDead:
      return valid_id(u.dead().node()) && valid_id(u.dead().from());
    case proto::Update::kUser:
      return true;
    case proto::Update::KIND_NOT_SET:
      return true;  // from a newer version: skipped by the core, not an error
  }
  return false;
}

bool valid_member(const proto::MemberState& m, const DecodeLimits& limits) {
  return valid_id(m.node()) && m.has_addr() && valid_address(m.addr()) &&
         m.name().size() <= limits.max_name_bytes && m.meta().size() <= limits.max_meta_bytes &&
         m.status() >= proto::MEMBER_STATUS_ALIVE && m.status() <= proto::MEMBER_STATUS_LEFT &&
         valid_versions(m.version_min(), m.version_max()) && valid_candidates(m.candidates());
}

bool valid_body(const proto::Envelope& e, const DecodeLimits& limits) {
  switch (e.body_case()) {
    case proto::Envelope::kPing:
      return valid_id(e.ping().target()) && valid_candidates(e.ping().punch_to()) &&
             valid_doubts(e.ping().doubts());
    case proto::Envelope::kIndirectPing:
      return valid_id(e.indirect_ping().target()) && e.indirect_ping().has_target_addr() &&
             valid_address(e.indirect_ping().target_addr());
    case proto::Envelope::kAck:
      return e.ack().state_digest().size() <= kMaxStateDigestBytes &&
             (!e.ack().has_observed() || valid_address(e.ack().observed()));
    case proto::Envelope::kNack:
      return true;
    case proto::Envelope::kPushPull: {
      const auto& members = e.push_pull().members();
      if (static_cast<size_t>(members.size()) > limits.max_members) return false;
      for (const auto& m : members)
        if (!valid_member(m, limits)) return false;
      return true;
    }
    case proto::Envelope::BODY_NOT_SET:
      return true;
  }
  return false;
}

}  // namespace

std::string_view to_string(DropReason reason) {
  switch (reason) {
    case DropReason::kEmpty:
      return "empty";
    case DropReason::kOversized:
      return "oversized";
    case DropReason::kBadVersion:
      return "bad_version";
    case DropReason::kMalformed:
      return "malformed";
    case DropReason::kInvalid:
      return "invalid";
    case DropReason::kUnknown:
      return "unknown";
    case DropReason::kCount:
      break;
  }
  return "?";
}

Result<void, DropReason> decode(ByteView bytes, const DecodeLimits& limits, proto::Envelope& out) {
  if (bytes.empty()) return DropReason::kEmpty;
  if (bytes.size() > limits.max_bytes) return DropReason::kOversized;
  const uint8_t version = bytes[0];
  if (version < limits.versions.min) return DropReason::kBadVersion;
  // protobuf's parser is built for hostile input: bounds-checked, no exceptions. It skips
  // the fields of versions newer than ours, which is what makes reading them best-effort.
  if (!out.ParseFromArray(bytes.data() + 1, static_cast<int>(bytes.size() - 1)))
    return DropReason::kMalformed;
  // A sender that does not say its minimum reads only what it wrote.
  const uint32_t sender_min = out.sender_version_min() ? out.sender_version_min() : version;
  if (sender_min > version) return DropReason::kInvalid;  // it writes below what it reads?
  if (version > limits.versions.max && sender_min > limits.versions.max)
    return DropReason::kBadVersion;
  if (!valid_id(out.sender())) return DropReason::kInvalid;
  if (!valid_body(out, limits)) return DropReason::kInvalid;
  for (const auto& u : out.updates())
    if (!valid_update(u, limits)) return DropReason::kInvalid;
  if (out.body_case() == proto::Envelope::BODY_NOT_SET && out.updates().empty())
    return DropReason::kUnknown;
  return {};
}

Bytes encode(const proto::Envelope& envelope, uint8_t version) {
  const size_t size = envelope.ByteSizeLong();
  Bytes out(1 + size);
  out[0] = version;
  envelope.SerializeWithCachedSizesToArray(out.data() + 1);
  return out;
}

Bytes encode_update(const proto::Update& update) {
  Bytes out(update.ByteSizeLong());
  update.SerializeWithCachedSizesToArray(out.data());
  return out;
}

void append_update(Bytes& packet, ByteView encoded_update) {
  packet.push_back(kUpdatesTag);
  size_t len = encoded_update.size();
  while (len >= 0x80) {
    packet.push_back(static_cast<uint8_t>(len | 0x80));
    len >>= 7;
  }
  packet.push_back(static_cast<uint8_t>(len));
  packet.insert(packet.end(), encoded_update.begin(), encoded_update.end());
}

size_t update_overhead(size_t encoded_size) { return 1 + varint_size(encoded_size); }

void to_proto(const Endpoint& endpoint, proto::Address& out) {
  out.set_ip(std::string(as_chars(endpoint.address.view())));
  out.set_port(endpoint.port);
}

std::optional<Endpoint> from_proto(const proto::Address& address) {
  auto ip = IpAddress::from_bytes(as_bytes(address.ip()));
  if (!ip || address.port() == 0 || address.port() > 65535) return std::nullopt;
  return Endpoint{*ip, static_cast<uint16_t>(address.port())};
}

std::optional<NodeId> node_id_from(const std::string& bytes) {
  return NodeId::from_bytes(as_bytes(bytes));
}

VersionRange versions_from(uint32_t min, uint32_t max) {
  if (min == 0 && max == 0) return VersionRange{1, 1};
  return VersionRange{static_cast<uint8_t>(min), static_cast<uint8_t>(max)};
}

}  // namespace shoal::gossip
