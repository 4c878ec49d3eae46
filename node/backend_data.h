// BackendData is what a host tells its peers about its datapath, carried opaquely in its
// lease record (NodeRecord::backend_data): the vxlan device's MAC and the tunnel's public
// key. decode_backend_data() is the one door for these untrusted bytes: it caps the size,
// checks every length and value, and returns the reason (node/drop_reason.h, never an
// exception) for the first thing that is off.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/status.h"
#include "lease/node_record.h"
#include "node/drop_reason.h"

namespace shoal::node {

using Mac = std::array<uint8_t, 6>;
std::string to_string(const Mac& mac);

struct BackendData {
  std::optional<Mac> vtep_mac;  // absent: the host runs no vxlan device
  Bytes tunnel_key;             // empty or 32 bytes
  bool operator==(const BackendData&) const = default;
};

// The lease table refuses larger records anyway; one bound for both.
inline constexpr size_t kMaxBackendDataBytes = lease::RecordLimits{}.max_backend_bytes;

Bytes encode_backend_data(const BackendData& data);
// kTooLarge over kMaxBackendDataBytes, kMalformed, kBadMacLength, kBadMac, kBadTunnelKey.
Result<BackendData, DropReason> decode_backend_data(ByteView bytes);

}  // namespace shoal::node
