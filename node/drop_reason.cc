#include "node/drop_reason.h"

namespace shoal::node {

std::string_view to_string(DropReason reason) {
  switch (reason) {
    case DropReason::kTooLarge:
      return "too_large";
    case DropReason::kMalformed:
      return "malformed";
    case DropReason::kBadMacLength:
      return "bad_mac_length";
    case DropReason::kBadMac:
      return "bad_mac";
    case DropReason::kBadTunnelKey:
      return "bad_tunnel_key";
    case DropReason::kNotKeysUpdate:
      return "not_keys_update";
    case DropReason::kKeyringTooLarge:
      return "keyring_too_large";
    case DropReason::kBadOrigin:
      return "bad_origin";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

}  // namespace shoal::node
