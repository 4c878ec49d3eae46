#include "agent/subnet_env.h"

#include "common/file_io.h"

namespace shoal::agent {

std::string render_subnet_env(const Cidr& network, const Cidr& subnet, int mtu, bool ipmasq) {
  // flannel increments the subnet's address by one and keeps the prefix length.
  const IpAddress first_usable = subnet.address_at(1).value_or(subnet.network());
  return "FLANNEL_NETWORK=" + network.to_string() + "\n" +
         "FLANNEL_SUBNET=" + first_usable.to_string() + "/" + std::to_string(subnet.prefix()) +
         "\n" + "FLANNEL_MTU=" + std::to_string(mtu) + "\n" +
         "FLANNEL_IPMASQ=" + (ipmasq ? "true" : "false") + "\n";
}

Status write_subnet_env(const std::string& path, const Cidr& network, const Cidr& subnet, int mtu,
                        bool ipmasq) {
  if (!subnet.network().is_v4() || subnet.prefix() > 30 || !network.contains(subnet))
    return Status::invalid_argument("not writing " + path + ": subnet " + subnet.to_string() +
                                    " is not an IPv4 subnet of /30 or larger inside " +
                                    network.to_string());
  if (mtu < 68 || mtu > 65535)
    return Status::invalid_argument("not writing " + path + ": MTU " + std::to_string(mtu) +
                                    " is outside 68..65535");
  return write_file_atomically(path, render_subnet_env(network, subnet, mtu, ipmasq), 0644);
}

}  // namespace shoal::agent
