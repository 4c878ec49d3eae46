#include "common/subnet_env.h"

#include <charconv>
#include <optional>

#include "common/file_io.h"

namespace shoal {

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

namespace {

// "198.18.5.1/24" -> the address and its prefix.
std::optional<std::pair<IpAddress, Cidr>> parse_interface_address(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto address = IpAddress::parse(text.substr(0, slash));
  unsigned prefix = 0;
  const std::string_view digits = text.substr(slash + 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
  if (!address || ec != std::errc() || end != digits.data() + digits.size() || prefix > 128)
    return std::nullopt;
  const auto subnet = Cidr::containing(*address, static_cast<uint8_t>(prefix));
  if (!subnet) return std::nullopt;
  return std::make_pair(*address, *subnet);
}

}  // namespace

Result<SubnetEnv> parse_subnet_env(std::string_view text) {
  if (text.size() > kMaxSubnetEnvSize)
    return Status::invalid_argument("it is over " + std::to_string(kMaxSubnetEnvSize) + " bytes");
  std::optional<Cidr> network;
  std::optional<std::pair<IpAddress, Cidr>> subnet;
  std::optional<int> mtu;
  std::optional<bool> ipmasq;
  int line_number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    const std::string where = "line " + std::to_string(line_number);
    if (eq == std::string_view::npos) return Status::invalid_argument(where + " has no '='");
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    const std::string bad = where + ": " + std::string(key) + " is not ";
    if (key == "FLANNEL_NETWORK") {
      network = Cidr::parse(value);
      if (!network) return Status::invalid_argument(bad + "a prefix like 198.18.0.0/16");
    } else if (key == "FLANNEL_SUBNET") {
      subnet = parse_interface_address(value);
      if (!subnet) return Status::invalid_argument(bad + "an address/prefix like 198.18.5.1/24");
    } else if (key == "FLANNEL_MTU") {
      int m = 0;
      const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), m);
      if (ec != std::errc() || p != value.data() + value.size() || m < 68 || m > 65535)
        return Status::invalid_argument(bad + "an MTU in 68..65535");
      mtu = m;
    } else if (key == "FLANNEL_IPMASQ") {
      if (value != "true" && value != "false")
        return Status::invalid_argument(bad + "true or false");
      ipmasq = value == "true";
    }  // other keys (FLANNEL_IPV6_*) are flannel's and not ours to check
  }
  for (const auto& [present, key] : {std::pair{network.has_value(), "FLANNEL_NETWORK"},
                                     {subnet.has_value(), "FLANNEL_SUBNET"},
                                     {mtu.has_value(), "FLANNEL_MTU"},
                                     {ipmasq.has_value(), "FLANNEL_IPMASQ"}})
    if (!present) return Status::invalid_argument(std::string(key) + " is missing");
  if (!network->contains(subnet->second))
    return Status::invalid_argument("FLANNEL_SUBNET " + subnet->second.to_string() +
                                    " is outside FLANNEL_NETWORK " + network->to_string());
  return SubnetEnv{*network, subnet->second, subnet->first, *mtu, *ipmasq};
}

Result<SubnetEnv> read_subnet_env(const std::string& path) {
  auto text = read_file_limited(path, kMaxSubnetEnvSize);
  if (!text) return text.error();
  auto parsed = parse_subnet_env(*text);
  if (!parsed) return parsed.error().prefixed(path);
  return parsed;
}

}  // namespace shoal
