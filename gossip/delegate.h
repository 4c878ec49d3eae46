// Hooks through which another module (the lease table) rides on push-pull anti-entropy,
// and on probe acks: each ack carries a digest of the prober's peer's state, so differing
// states are found within a probe interval without any exchange while they agree.
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
  // A summary of the local state (at most kMaxStateDigestBytes), sent on every ack we give
  // to a direct ping; empty sends none.
  virtual Bytes state_digest() { return {}; }
  // The member we probed acked with `digest`. True asks the core to start a state sync with
  // it now: our states differ. The delegate decides how often that may happen.
  virtual bool wants_sync_after(ByteView digest) {
    (void)digest;
    return false;
  }
};

}  // namespace shoal::gossip
