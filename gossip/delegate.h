// Hooks through which another module (the lease table) rides on push-pull anti-entropy.
// Both calls are made synchronously from inside the core, so they must do no I/O either.
#pragma once

#include <cstdint>
#include <optional>

#include "common/bytes.h"

namespace shoal::gossip {

class StateDelegate {
 public:
  virtual ~StateDelegate() = default;
  // What the initiator of a push-pull sends first; `join` is true when joining a cluster.
  virtual Bytes local_state(bool join) = 0;
  // Merges what the peer sent in round `round` of an exchange (0: the initiator's opening,
  // 1: the answer, 2 and on: further rounds on the same stream) and returns what to send
  // back, or nullopt to end the exchange. Lets a sync send digests first and then only
  // what differs. Untrusted input: the delegate validates and caps it itself.
  virtual std::optional<Bytes> merge_remote_state(ByteView state, bool join, uint32_t round) = 0;
};

}  // namespace shoal::gossip
