// SealedFrames puts gossip's bytes on the wire and takes them off again: sealed with the
// cluster keyring when one is configured, plain otherwise.
//
//   datagram     [sealed: 'D' + gossip packet]
//   stream       a sequence of chunks, each a frame (common/frame_reader.h) whose body is
//                [sealed: kind + data], kind 'C' (more follows) or 'E' (last chunk)
//
// The kind byte inside the sealed part means a captured datagram cannot be replayed as a
// stream chunk or the other way round. Chunks keep every sealed unit under the keyring's
// size cap while a push-pull message may be megabytes. Without a keyring the same layout
// is used with the plaintext in place of the sealed unit.
//
// Promises: unwrap never reads outside its input and never throws; each refusal has its
// own reason, for the metrics; a stream message is capped at `max_message` bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/bytes.h"
#include "common/frame_reader.h"
#include "common/status.h"
#include "crypto/keyring.h"

namespace shoal::protocol {

// Why a datagram or stream chunk was refused; each is its own metrics label.
enum class DropReason : uint8_t {
  kTooShort,
  kTooLarge,
  kBadVersion,
  kUnknownKey,
  kBadAuth,
  kBadKind,  // authentic, but not what this channel carries
  kCount
};
std::string_view to_string(DropReason reason);

class SealedFrames {
 public:
  // `keyring` may be null (plaintext); not owned, and may change between calls.
  explicit SealedFrames(const crypto::Keyring* keyring) : keyring_(keyring) {}
  bool encrypted() const { return keyring_ && !keyring_->empty(); }
  // Bytes a sealed datagram adds to the gossip packet it carries.
  size_t datagram_overhead() const;

  Bytes wrap_datagram(ByteView packet) const;
  // The gossip packet a datagram carries, or why it is refused.
  Result<Bytes, DropReason> unwrap_datagram(ByteView wire) const;

  // The whole stream encoding of one message (one or more chunks), sealed with the primary
  // key, or with `key` when given and installed: a stream is answered in the key its opener
  // spoke, so a member back from down that lacks the new primary can still read the answer
  // that brings it the cluster's keyring (node/cluster_keys.h).
  Bytes wrap_message(ByteView message, std::optional<crypto::KeyId> key = std::nullopt) const;

  // Reassembles the messages of one stream from bytes as they arrive.
  class Reader {
   public:
    Reader(const SealedFrames& frames, size_t max_message);
    void feed(ByteView bytes) { chunks_.feed(bytes); }
    // The next complete message; nullopt when more bytes are needed or on error (then
    // failed() says why, and the stream should be closed).
    std::optional<Bytes> next();
    std::optional<DropReason> failed() const { return failed_; }
    // True once a chunk opened (authenticated with a cluster key, or any chunk in
    // plaintext mode): until then the peer has proven nothing.
    bool authenticated() const { return authenticated_; }
    // The key the peer's first authenticated chunk was sealed with (none in plaintext mode).
    std::optional<crypto::KeyId> key() const { return key_; }
    // Bytes held for this stream: unread input and the message being reassembled.
    size_t buffered() const { return chunks_.buffered() + message_.size(); }

   private:
    const SealedFrames& frames_;
    size_t max_message_;
    FrameReader chunks_;  // sealed units, at most crypto::kMaxSealedSize each
    Bytes message_;
    std::optional<DropReason> failed_;
    bool authenticated_ = false;
    std::optional<crypto::KeyId> key_;
  };

 private:
  Bytes seal(uint8_t kind, ByteView data, std::optional<crypto::KeyId> key = std::nullopt) const;
  Result<Bytes, DropReason> open(ByteView unit) const;

  const crypto::Keyring* keyring_;
};

}  // namespace shoal::protocol
