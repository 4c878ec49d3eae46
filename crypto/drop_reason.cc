#include "crypto/drop_reason.h"

namespace shoal::crypto {

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
    case DropReason::kBadSize:
      return "bad_size";
    case DropReason::kBadType:
      return "bad_type";
    case DropReason::kBadReserved:
      return "bad_reserved";
    case DropReason::kBadCipher:
      return "bad_cipher";
    case DropReason::kCipherNotProposed:
      return "cipher_not_proposed";
    case DropReason::kBadMac1:
      return "bad_mac1";
    case DropReason::kBadIndex:
      return "bad_index";
    case DropReason::kWeakKey:
      return "weak_key";
    case DropReason::kUnknownPeer:
      return "unknown_peer";
    case DropReason::kAlreadyDone:
      return "already_done";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

}  // namespace shoal::crypto
