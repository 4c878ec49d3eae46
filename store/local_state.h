// LocalState is what makes this host the same host across restarts, loaded once at start:
// its node id, its identity key's secret, its incarnation and its vxlan device's MAC.
//
// Promises:
//  - Each value is made once, stored, and read back unchanged on every later start.
//  - The incarnation returned is above every one this host announced before (the stored one
//    + 1, or the wall clock in seconds when that is higher) and is stored before it returns,
//    so a crash right after cannot make the next start reuse it.
//  - A stored value that is damaged is an error that names the file; it is never replaced.
// The identity secret's meaning belongs to crypto/ (which store/ may not use): an empty
// secret means none is stored yet; the caller makes one and saves it with save_identity().
#pragma once

#include <array>
#include <cstdint>

#include "common/bytes.h"
#include "common/node_id.h"
#include "common/rng.h"
#include "common/status.h"
#include "store/store.h"

namespace shoal::store {

struct LocalState {
  NodeId id;
  Bytes identity_secret;  // empty: none stored yet
  uint64_t incarnation = 0;
  std::array<uint8_t, 6> vtep_mac{};  // locally administered, unicast
};

Result<LocalState> load_local_state(Store& store, Rng& rng, uint64_t now_seconds);
Status save_identity(Store& store, ByteView secret);

}  // namespace shoal::store
