#include "lease/network_config.h"

namespace shoal::lease {
namespace {

// Parses an address for `key` that must lie in `network` on a subnet boundary.
Result<IpAddress> subnet_bound(const std::string& key, const std::string& text, const Cidr& network,
                               uint8_t subnet_len) {
  auto ip = IpAddress::parse(text);
  if (!ip || !ip->is_v4()) return Status::bad_key(key, "'" + text + "' is not an IPv4 address");
  if (!network.contains(*ip))
    return Status::bad_key(key,
                           text + " is not in the range of the Network " + network.to_string());
  if (!Cidr::make(*ip, subnet_len))
    return Status::bad_key(
        key, text + " is not on a SubnetLen (/" + std::to_string(subnet_len) + ") boundary");
  return *ip;
}

}  // namespace

Result<NetworkConfig> NetworkConfig::make(const NetworkSpec& spec) {
  NetworkConfig c;
  auto network = Cidr::parse(spec.network);
  if (spec.network.empty())
    return Status::bad_key("Network", "missing; give the overlay network, e.g. \"198.18.0.0/16\"");
  if (!network)
    return Status::bad_key(
        "Network",
        "'" + spec.network +
            "' is not a network in CIDR form with its host bits zero (e.g. 198.18.0.0/16)");
  if (!network->network().is_v4())
    return Status::bad_key("Network", "only IPv4 networks are supported for now");
  c.network_ = *network;
  const unsigned prefix = network->prefix();
  if (spec.subnet_len) {
    // A host needs room for a tunnel and a bridge address: nothing smaller than a /30.
    if (*spec.subnet_len > 30)
      return Status::bad_key("SubnetLen", "/" + std::to_string(*spec.subnet_len) +
                                              " is too small; it must be 30 or less");
    // The first subnet is never handed out, so the Network must hold at least four.
    if (*spec.subnet_len < prefix + 2)
      return Status::bad_key("SubnetLen", "/" + std::to_string(*spec.subnet_len) +
                                              " leaves fewer than four subnets in Network " +
                                              network->to_string() + "; use /" +
                                              std::to_string(prefix + 2) + " or longer");
    c.subnet_len_ = static_cast<uint8_t>(*spec.subnet_len);
  } else if (prefix > 28) {
    return Status::bad_key(
        "Network", network->to_string() + " is too small; the smallest useful network is a /28");
  } else {
    c.subnet_len_ = static_cast<uint8_t>(prefix <= 22 ? 24 : prefix + 2);
  }
  const uint32_t step = uint32_t{1} << (32 - c.subnet_len_);
  const uint32_t base = network->network().v4_host_order();
  const uint32_t last = base + static_cast<uint32_t>((uint64_t{1} << (32 - prefix)) - step);
  c.min_ = IpAddress::v4(base + step);  // the first subnet would hold the network address
  c.max_ = IpAddress::v4(last);
  if (spec.subnet_min) {
    auto v = subnet_bound("SubnetMin", *spec.subnet_min, c.network_, c.subnet_len_);
    if (!v) return v.error();
    c.min_ = *v;
  }
  if (spec.subnet_max) {
    auto v = subnet_bound("SubnetMax", *spec.subnet_max, c.network_, c.subnet_len_);
    if (!v) return v.error();
    c.max_ = *v;
  }
  if (c.min_.v4_host_order() > c.max_.v4_host_order())
    return Status::bad_key("SubnetMin",
                           c.min_.to_string() + " is above SubnetMax " + c.max_.to_string());
  for (const auto& [site, range] : spec.site_pools) {
    const std::string key = "SitePools." + site;
    auto lo = subnet_bound(key + ".SubnetMin", range.first, c.network_, c.subnet_len_);
    if (!lo) return lo.error();
    auto hi = subnet_bound(key + ".SubnetMax", range.second, c.network_, c.subnet_len_);
    if (!hi) return hi.error();
    SitePool pool{*lo, *hi};
    if (pool.subnet_min.v4_host_order() > pool.subnet_max.v4_host_order())
      return Status::bad_key(key, "SubnetMin is above SubnetMax");
    for (const auto& [other, p] : c.pools_) {
      if (pool.subnet_min.v4_host_order() <= p.subnet_max.v4_host_order() &&
          p.subnet_min.v4_host_order() <= pool.subnet_max.v4_host_order())
        return Status::bad_key(
            key, "overlaps the pool of site '" + other + "'; site pools must be disjoint");
    }
    c.pools_.emplace(site, pool);
  }
  return c;
}

std::pair<uint32_t, uint32_t> NetworkConfig::range(const std::string& site) const {
  if (auto it = pools_.find(site); it != pools_.end())
    return {it->second.subnet_min.v4_host_order(), it->second.subnet_max.v4_host_order()};
  return {min_.v4_host_order(), max_.v4_host_order()};
}

bool NetworkConfig::in_other_pool(uint32_t address, const std::string& site) const {
  // Hosts of a site without a pool of their own keep off the sites' pools.
  if (pools_.count(site)) return false;
  for (const auto& [name, p] : pools_)
    if (address >= p.subnet_min.v4_host_order() && address <= p.subnet_max.v4_host_order())
      return true;
  return false;
}

std::vector<Cidr> NetworkConfig::candidates(const std::string& site) const {
  const auto [lo, hi] = range(site);
  std::vector<Cidr> out;
  const uint32_t step = uint32_t{1} << (32 - subnet_len_);
  out.reserve(hi >= lo ? (hi - lo) / step + 1 : 0);
  for (uint64_t a = lo; a <= hi; a += step) {
    if (in_other_pool(static_cast<uint32_t>(a), site)) continue;
    out.push_back(*Cidr::make(IpAddress::v4(static_cast<uint32_t>(a)), subnet_len_));
  }
  return out;
}

bool NetworkConfig::in_pool(const Cidr& subnet, const std::string& site) const {
  if (!subnet.network().is_v4() || subnet.prefix() != subnet_len_) return false;
  const uint32_t a = subnet.network().v4_host_order();
  const auto [lo, hi] = range(site);
  return a >= lo && a <= hi && !in_other_pool(a, site);
}

}  // namespace shoal::lease
