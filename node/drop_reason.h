// Why node/ refused untrusted bytes: a peer's backend data (node/backend_data.h) or a
// cluster keyring value (node/cluster_keys.h). One value per check; the decoders return it
// as the error of a Result, and to_string() gives its snake_case metrics label.
#pragma once

#include <cstdint>
#include <string_view>

namespace shoal::node {

enum class DropReason : uint8_t {
  kTooLarge,         // more bytes than the decoder's cap
  kMalformed,        // not the protobuf message expected
  kBadMacLength,     // backend data: a VTEP MAC that is not 6 bytes
  kBadMac,           // backend data: a multicast or all-zero VTEP MAC
  kBadTunnelKey,     // backend data: a tunnel key that is not 32 bytes
  kNotKeysUpdate,    // a gossip user message with no cluster keyring in it
  kKeyringTooLarge,  // cluster keys: a keyring text over kMaxKeyringText
  kBadOrigin,        // cluster keys: an origin that is not a node id
  kCount
};
std::string_view to_string(DropReason reason);

}  // namespace shoal::node
