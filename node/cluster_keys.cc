#include "node/cluster_keys.h"

#include <algorithm>

#include "proto/shoal.pb.h"

namespace shoal::node {

std::string KeysVersion::to_string() const {
  return std::to_string(stamp.wall_ms) + "." + std::to_string(stamp.logical) + "@" +
         origin.short_hex();
}

std::optional<KeysValue> ClusterKeys::publish(WallTime wall, const NodeId& self,
                                              std::string keyring) {
  if (keyring.size() > kMaxKeyringText) return std::nullopt;
  HlcStamp stamp = clock_.now(wall);
  // Later than the held value even when that came from a clock far ahead of ours.
  if (held_ && stamp <= held_->version.stamp)
    stamp = {held_->version.stamp.wall_ms, held_->version.stamp.logical + 1};
  KeysValue value{{stamp, self}, std::move(keyring)};
  held_ = value;
  return value;
}

bool ClusterKeys::offer(const KeysValue& value, WallTime wall) {
  if (held_ && value.version <= held_->version) return false;
  // A stamp far in the future is still taken (the newest change wins); the clock just
  // does not follow it further than its drift allowance.
  clock_.observe(value.version.stamp, wall);
  held_ = value;
  return true;
}

void to_proto(const KeysVersion& version, proto::ClusterKeys& out) {
  out.set_stamp_wall_ms(version.stamp.wall_ms);
  out.set_stamp_logical(version.stamp.logical);
  out.set_origin(version.origin.bytes().data(), version.origin.bytes().size());
}

void to_proto(const KeysValue& value, proto::ClusterKeys& out) {
  to_proto(value.version, out);
  out.set_keyring(value.keyring);
}

Result<KeysValue, DropReason> from_proto(const proto::ClusterKeys& in) {
  if (in.keyring().size() > kMaxKeyringText) return DropReason::kKeyringTooLarge;
  auto origin = NodeId::from_bytes(as_bytes(in.origin()));
  if (!origin) return DropReason::kBadOrigin;
  return KeysValue{{{in.stamp_wall_ms(), in.stamp_logical()}, *origin}, in.keyring()};
}

Bytes encode_keys_update(const KeysValue& value) {
  proto::LeaseUpdate update;
  to_proto(value, *update.mutable_keys());
  const std::string bytes = update.SerializeAsString();
  return Bytes(bytes.begin(), bytes.end());
}

bool is_keys_update(ByteView message) {
  // Field 3, wire type 2 (length-delimited): (3 << 3) | 2.
  constexpr uint8_t kKeysTag = (proto::LeaseUpdate::kKeysFieldNumber << 3) | 2;
  return !message.empty() && message[0] == kKeysTag;
}

Result<KeysValue, DropReason> decode_keys_update(ByteView message) {
  if (message.size() > kMaxKeyringText + 128) return DropReason::kTooLarge;
  proto::LeaseUpdate update;
  if (!update.ParseFromArray(message.data(), static_cast<int>(message.size())))
    return DropReason::kMalformed;
  if (!update.has_keys()) return DropReason::kNotKeysUpdate;
  return from_proto(update.keys());
}

}  // namespace shoal::node
