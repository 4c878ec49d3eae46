// flannel's subnet.env, which the CNI world reads to learn this host's pod subnet:
//
//   FLANNEL_NETWORK=198.18.0.0/16
//   FLANNEL_SUBNET=198.18.5.1/24
//   FLANNEL_MTU=1450
//   FLANNEL_IPMASQ=false
//
// byte for byte what flannel's WriteSubnetFile writes for IPv4: FLANNEL_SUBNET is the
// subnet's first usable address with the subnet's prefix length (the bridge address).
// The agent writes it; shoal-cni (and flannel's own plugin) read it. This file is the one
// place that knows the format, both ways.
#pragma once

#include <string>
#include <string_view>

#include "common/cidr.h"
#include "common/status.h"

namespace shoal {

// The file's text. `subnet` must be an IPv4 prefix of /31 or shorter.
std::string render_subnet_env(const Cidr& network, const Cidr& subnet, int mtu, bool ipmasq);

// Writes the file atomically (readers see the old or the new content, never a mix), mode
// 0644, creating missing directories. Errors name the path;
// values that would make a broken file (subnet outside network, MTU out of 68..65535)
// are refused without touching it.
Status write_subnet_env(const std::string& path, const Cidr& network, const Cidr& subnet, int mtu,
                        bool ipmasq);

// What a reader learns from the file.
struct SubnetEnv {
  Cidr network;         // FLANNEL_NETWORK
  Cidr subnet;          // FLANNEL_SUBNET's prefix (198.18.5.0/24)
  IpAddress gateway;    // FLANNEL_SUBNET's address (198.18.5.1), the bridge's
  int mtu = 0;          // FLANNEL_MTU
  bool ipmasq = false;  // FLANNEL_IPMASQ: the agent masquerades traffic leaving the overlay
  bool operator==(const SubnetEnv&) const = default;
};

// Parses the file's text as flannel's plugin does, but strictly: the four keys must be
// there and valid, the subnet inside the network; other FLANNEL_* keys (flannel's IPv6
// ones) are ignored. Errors say which key is wrong. Never throws; inputs over
// kMaxSubnetEnvSize are refused.
inline constexpr size_t kMaxSubnetEnvSize = 4096;
Result<SubnetEnv> parse_subnet_env(std::string_view text);

// Reads and parses `path`; errors name it.
Result<SubnetEnv> read_subnet_env(const std::string& path);

}  // namespace shoal
