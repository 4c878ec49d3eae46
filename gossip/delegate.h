// Hooks through which another module (the lease table) rides on push-pull anti-entropy.
// Both calls are made synchronously from inside the core, so they must do no I/O either.
#pragma once

#include "common/bytes.h"

namespace shoal::gossip {

class StateDelegate {
 public:
  virtual ~StateDelegate() = default;
  // The state to send in a push-pull exchange; `join` is true when joining a cluster.
  virtual Bytes local_state(bool join) = 0;
  // Merges the state a peer sent. Untrusted: the delegate validates and caps it itself.
  virtual void merge_remote_state(ByteView state, bool join) = 0;
};

}  // namespace shoal::gossip
