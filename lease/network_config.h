// The overlay network's shape, with flannel's net-conf.json keys and rules: `Network`,
// `SubnetLen` (default /24, or Network + 2 for networks smaller than a /22), `SubnetMin`
// and `SubnetMax` (default: the second subnet and the last one), plus shoal's optional
// per-site pools, so hosts in different sites never compete for the same subnets.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/cidr.h"
#include "common/status.h"

namespace shoal::lease {

struct SitePool {
  IpAddress subnet_min;  // first and last subnet the site's hosts may claim
  IpAddress subnet_max;
};

struct NetworkSpec {  // as written by a person: everything but `network` may be left out
  NetworkSpec() = default;
  NetworkSpec(std::string network_cidr, std::optional<unsigned> len = std::nullopt)
      : network(std::move(network_cidr)), subnet_len(len) {}

  std::string network;
  std::optional<unsigned> subnet_len;
  std::optional<std::string> subnet_min, subnet_max;
  std::map<std::string, std::pair<std::string, std::string>> site_pools;  // site -> (min, max)
};

class NetworkConfig {
 public:
  // Applies flannel's defaults and validation. Errors are Status::bad_key: the key ("SubnetMin",
  // "SitePools.east") and what to do.
  static Result<NetworkConfig> make(const NetworkSpec& spec);

  const Cidr& network() const { return network_; }
  uint8_t subnet_len() const { return subnet_len_; }
  IpAddress subnet_min() const { return min_; }
  IpAddress subnet_max() const { return max_; }
  // The subnets a host of `site` may claim, lowest first (the site's pool if it has one).
  std::vector<Cidr> candidates(const std::string& site) const;
  bool in_pool(const Cidr& subnet, const std::string& site) const;

 private:
  std::pair<uint32_t, uint32_t> range(const std::string& site) const;  // first, last subnet
  bool in_other_pool(uint32_t address, const std::string& site) const;

  Cidr network_;
  uint8_t subnet_len_ = 24;
  IpAddress min_, max_;
  std::map<std::string, SitePool> pools_;
};

}  // namespace shoal::lease
