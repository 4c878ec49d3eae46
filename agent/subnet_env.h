// flannel's subnet.env, which the CNI world reads to learn this host's pod subnet:
//
//   FLANNEL_NETWORK=198.18.0.0/16
//   FLANNEL_SUBNET=198.18.5.1/24
//   FLANNEL_MTU=1450
//   FLANNEL_IPMASQ=false
//
// byte for byte what flannel's WriteSubnetFile writes for IPv4: FLANNEL_SUBNET is the
// subnet's first usable address with the subnet's prefix length (the bridge address).
#pragma once

#include <string>

#include "common/cidr.h"
#include "common/status.h"

namespace shoal::agent {

// The file's text. `subnet` must be an IPv4 prefix of /31 or shorter.
std::string render_subnet_env(const Cidr& network, const Cidr& subnet, int mtu, bool ipmasq);

// Writes the file atomically (readers see the old or the new content, never a mix), mode
// 0644, creating missing directories. Errors name the path;
// values that would make a broken file (subnet outside network, MTU out of 68..65535)
// are refused without touching it.
Status write_subnet_env(const std::string& path, const Cidr& network, const Cidr& subnet, int mtu,
                        bool ipmasq);

}  // namespace shoal::agent
