#include "store/local_state.h"

#include <algorithm>

#include "common/byte_order.h"

namespace shoal::store {

namespace {
constexpr const char* kIdentityKey = "identity_secret";
constexpr const char* kIncarnationKey = "incarnation";
constexpr const char* kVtepMacKey = "vtep_mac";
}  // namespace

Result<LocalState> load_local_state(Store& store, Rng& rng, uint64_t now_seconds) {
  LocalState state;
  auto id = store.node_id(rng);
  if (!id) return id.error();
  state.id = *id;

  auto secret = store.get(kIdentityKey);
  if (!secret) return secret.error();
  if (*secret) state.identity_secret = std::move(**secret);

  state.incarnation = now_seconds;
  auto incarnation = store.get(kIncarnationKey);
  if (!incarnation) return incarnation.error();
  if (const auto& stored = *incarnation) {
    if (stored->size() != 8)
      return Status::corruption(store.path() + ": the stored incarnation is damaged (" +
                                std::to_string(stored->size()) +
                                " bytes). Restore a backup, or move the file away to start afresh");
    state.incarnation = std::max(state.incarnation, get_be64(stored->data()) + 1);
  }
  Bytes encoded(8);
  put_be64(encoded.data(), state.incarnation);
  if (Status put = store.put(kIncarnationKey, encoded); !put.ok()) return put;

  // Chosen before the device exists and kept, so peers' FDB entries stay valid across
  // restarts and nothing (systemd's MACAddressPolicy) rewrites it.
  auto mac = store.get(kVtepMacKey);
  if (!mac) return mac.error();
  if (const auto& stored = *mac) {
    if (stored->size() != state.vtep_mac.size())
      return Status::corruption(store.path() + ": the stored vxlan MAC is damaged (" +
                                std::to_string(stored->size()) +
                                " bytes). Restore a backup, or move the file away to start afresh");
    std::copy(stored->begin(), stored->end(), state.vtep_mac.begin());
  } else {
    const uint64_t bits = rng.next();
    for (size_t i = 0; i < state.vtep_mac.size(); ++i)
      state.vtep_mac[i] = static_cast<uint8_t>(bits >> (8 * i));
    state.vtep_mac[0] = static_cast<uint8_t>((state.vtep_mac[0] & 0xfe) | 0x02);
    if (Status put = store.put(kVtepMacKey, state.vtep_mac); !put.ok()) return put;
  }
  return state;
}

Status save_identity(Store& store, ByteView secret) { return store.put(kIdentityKey, secret); }

}  // namespace shoal::store
