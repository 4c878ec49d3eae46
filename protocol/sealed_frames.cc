#include "protocol/sealed_frames.h"

#include <algorithm>
#include <utility>

#include "common/byte_order.h"

namespace shoal::protocol {
namespace {

constexpr uint8_t kDatagram = 'D';
constexpr uint8_t kChunkMore = 'C';
constexpr uint8_t kChunkEnd = 'E';
// Plaintext bytes per stream chunk: under the keyring's cap with the kind byte added.
constexpr size_t kChunkData = crypto::kMaxPlaintextSize - 1;

DropReason from_crypto(crypto::DropReason reason) {
  switch (reason) {
    case crypto::DropReason::kTooShort:
      return DropReason::kTooShort;
    case crypto::DropReason::kTooLarge:
      return DropReason::kTooLarge;
    case crypto::DropReason::kBadVersion:
      return DropReason::kBadVersion;
    case crypto::DropReason::kUnknownKey:
      return DropReason::kUnknownKey;
    default:  // kBadAuth; the handshake's reasons do not arise here
      return DropReason::kBadAuth;
  }
}

}  // namespace

std::string_view to_string(DropReason reason) {
  switch (reason) {
    case DropReason::kTooShort:
      return "too_short";
    case DropReason::kTooLarge:
      return "too_large";
    case DropReason::kBadVersion:
      return "bad_version";
    case DropReason::kUnknownKey:
      return "unknown_key";
    case DropReason::kBadAuth:
      return "bad_auth";
    case DropReason::kBadKind:
      return "bad_kind";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

size_t SealedFrames::datagram_overhead() const {
  return 1 + (encrypted() ? crypto::kSealOverhead : 0);
}

Bytes SealedFrames::seal(uint8_t kind, ByteView data, std::optional<crypto::KeyId> key) const {
  Bytes plain;
  plain.reserve(data.size() + 1);
  plain.push_back(kind);
  plain.insert(plain.end(), data.begin(), data.end());
  if (!encrypted()) return plain;
  return key ? keyring_->seal(plain, *key) : keyring_->seal(plain);
}

Result<Bytes, DropReason> SealedFrames::open(ByteView unit) const {
  Bytes plain;
  if (encrypted()) {
    auto opened = keyring_->open(unit);
    if (!opened) return from_crypto(opened.error());
    plain = std::move(opened).value();
  } else {
    if (unit.size() > crypto::kMaxPlaintextSize) return DropReason::kTooLarge;
    plain.assign(unit.begin(), unit.end());
  }
  if (plain.empty()) return DropReason::kTooShort;
  return plain;
}

Bytes SealedFrames::wrap_datagram(ByteView packet) const { return seal(kDatagram, packet); }

Result<Bytes, DropReason> SealedFrames::unwrap_datagram(ByteView wire) const {
  auto plain = open(wire);
  if (!plain) return plain;
  if (plain->front() != kDatagram) return DropReason::kBadKind;
  plain->erase(plain->begin());
  return plain;
}

Bytes SealedFrames::wrap_message(ByteView message, std::optional<crypto::KeyId> key) const {
  Bytes out;
  size_t offset = 0;
  do {
    const size_t n = std::min(kChunkData, message.size() - offset);
    const bool last = offset + n == message.size();
    append_frame(out, seal(last ? kChunkEnd : kChunkMore, message.subspan(offset, n), key));
    offset += n;
  } while (offset < message.size());
  return out;
}

SealedFrames::Reader::Reader(const SealedFrames& frames, size_t max_message)
    : frames_(frames), max_message_(max_message), chunks_(crypto::kMaxSealedSize) {}

std::optional<Bytes> SealedFrames::Reader::next() {
  while (!failed_) {
    if (!chunks_.error().ok()) {
      failed_ = DropReason::kTooLarge;
      break;
    }
    auto unit = chunks_.next();
    if (!unit) break;
    auto plain = frames_.open(*unit);
    if (!plain) {
      failed_ = plain.error();
      break;
    }
    if (!authenticated_ && frames_.encrypted()) key_ = crypto::Keyring::sealed_with(*unit);
    authenticated_ = true;
    const uint8_t kind = plain->front();
    if (kind != kChunkMore && kind != kChunkEnd) {
      failed_ = DropReason::kBadKind;
      break;
    }
    if (message_.size() + plain->size() - 1 > max_message_) {
      failed_ = DropReason::kTooLarge;
      break;
    }
    message_.insert(message_.end(), plain->begin() + 1, plain->end());
    if (kind == kChunkEnd) return std::exchange(message_, Bytes{});
  }
  return std::nullopt;
}

}  // namespace shoal::protocol
