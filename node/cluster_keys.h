// ClusterKeys is the cluster's keyring as one replicated value: a last-writer-wins register.
// `shoal keys install|use|remove` on any member changes that member's keyring and makes a
// new value, stamped (HLC) later than every value it has seen; every member adopts the
// newest value it hears of and the driver applies it (keyring, key file).
//
// How a value travels, all inside gossip's sealed packets (so only key holders read it):
//  - broadcast as a gossip user message when made or adopted (fast, epidemic);
//  - in the opening of every push-pull and state sync (LeaseSync.keys), which reaches a
//    member that missed the broadcast, a joiner, and a member that was down: live members
//    keep trying dead ones (gossip's reconnect), and such a member reads the opening as
//    long as it still holds a key the cluster seals with.
//  - Each member publishes the version it has applied in its gossip meta, so the member
//    where the change was made can tell who has it.
//
// Promises: versions only grow; a value is adopted only if its version is newer than the
// one held; equal versions with different texts cannot arise (the origin is in the
// version). The text is opaque here and capped at kMaxKeyringText; the driver parses it.
// Sans-IO.
#pragma once

#include <compare>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/hlc.h"
#include "common/node_id.h"
#include "common/status.h"
#include "node/drop_reason.h"

namespace shoal::proto {
class ClusterKeys;
}

namespace shoal::node {

struct KeysVersion {
  HlcStamp stamp;
  NodeId origin;
  auto operator<=>(const KeysVersion&) const = default;
  std::string to_string() const;  // "1767225600123.0@1a2b3c4d"
};

struct KeysValue {
  KeysVersion version;
  std::string keyring;  // the keyring's file form
};

// The keyring's file form of 16 keys is about 0.8 KB: this leaves room, and fits a datagram.
inline constexpr size_t kMaxKeyringText = 1200;

class ClusterKeys {
 public:
  // `held`: the value this host applied before it restarted (its version from the store,
  // its text from the key file), or none.
  explicit ClusterKeys(std::optional<KeysValue> held) : held_(std::move(held)) {}

  // A change made here: the new value, later than any seen. Nullopt if `keyring` is over
  // kMaxKeyringText.
  std::optional<KeysValue> publish(WallTime wall, const NodeId& self, std::string keyring);
  // A value from a peer. True when it is newer than ours: it is ours now, and the driver
  // must apply it.
  bool offer(const KeysValue& value, WallTime wall);

  const std::optional<KeysValue>& held() const { return held_; }
  std::optional<KeysVersion> version() const {
    return held_ ? std::optional(held_->version) : std::nullopt;
  }

 private:
  std::optional<KeysValue> held_;
  Hlc clock_;
};

// The one door for these bytes (proto::ClusterKeys): caps the text (kKeyringTooLarge),
// checks the origin (kBadOrigin); the reason is node/drop_reason.h's, never an exception.
void to_proto(const KeysValue& value, proto::ClusterKeys& out);
void to_proto(const KeysVersion& version, proto::ClusterKeys& out);  // no text (meta)
Result<KeysValue, DropReason> from_proto(const proto::ClusterKeys& in);

// A gossip user message carrying `value` (a proto::LeaseUpdate with `keys` set).
Bytes encode_keys_update(const KeysValue& value);
// Whether a gossip user message is a keys update: read from its first byte (the oneof's
// field tag), so the lease table's messages are not parsed twice.
bool is_keys_update(ByteView message);
// Parses one: kTooLarge, kMalformed, kNotKeysUpdate (no `keys` in it), or from_proto()'s.
Result<KeysValue, DropReason> decode_keys_update(ByteView message);

}  // namespace shoal::node
