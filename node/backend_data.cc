#include "node/backend_data.h"

#include <cstdio>

#include "proto/shoal.pb.h"

namespace shoal::node {

std::string to_string(const Mac& mac) {
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return text;
}

Bytes encode_backend_data(const BackendData& data) {
  proto::BackendData message;
  if (data.vtep_mac) message.set_vtep_mac(data.vtep_mac->data(), data.vtep_mac->size());
  if (!data.tunnel_key.empty())
    message.set_tunnel_key(data.tunnel_key.data(), data.tunnel_key.size());
  Bytes out(message.ByteSizeLong());
  message.SerializeToArray(out.data(), static_cast<int>(out.size()));
  return out;
}

Result<BackendData, DropReason> decode_backend_data(ByteView bytes) {
  if (bytes.size() > kMaxBackendDataBytes) return DropReason::kTooLarge;
  proto::BackendData message;
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return DropReason::kMalformed;
  BackendData data;
  const std::string& mac = message.vtep_mac();
  if (!mac.empty()) {
    if (mac.size() != 6) return DropReason::kBadMacLength;
    Mac m;
    for (size_t i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(mac[i]);
    // A multicast or all-zero MAC cannot be a device's address.
    if ((m[0] & 1) != 0 || m == Mac{}) return DropReason::kBadMac;
    data.vtep_mac = m;
  }
  const std::string& key = message.tunnel_key();
  if (!key.empty() && key.size() != 32) return DropReason::kBadTunnelKey;
  data.tunnel_key.assign(key.begin(), key.end());
  return data;
}

}  // namespace shoal::node
