// A lab of network namespaces on this machine for shoal-chaos: hosts on one switched underlay
// segment, pods behind each host, and the link faults the switch applies. It owns everything
// it creates and removes it all in teardown() (and in its destructor), whatever happened.
//
// Layout (PREFIX is unique per run, so runs never collide and nothing touches the root
// namespace):
//   PREFIX-sw       the switch: bridge br0 with one port "hI" per host, and the nft table
//                   `bridge chaos` whose forward chain carries every link fault
//   PREFIX-hI       host I: underlay device u0 with 192.0.2.(10+I)/24 (kMaxLabHosts bounds
//                   I), IPv4 forwarding on, IPv6 off; bridge cni0 for its pods
//   PREFIX-hI-pJ    pod J of host I: eth0 on host I's cni0, addressed from the host's subnet
//                   once it has one (address_pods)
//
// Faults sit on the switch's ports, so they act on every packet a host sends or receives on
// the underlay, gossip and tunnel alike, whatever the backend: a cut drops frames from one
// port to another, a loss drops a share of the frames through a port, a bandwidth limit is
// a token bucket (tbf) on the port and on the host's end of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "common/status.h"

namespace shoal::chaos {

inline constexpr size_t kMaxLabHosts = 200;
inline constexpr size_t kMaxLabPodsPerHost = 8;

class NetnsLab {
 public:
  // Creates the namespaces, the switch and the pods' plumbing. On error, what was made is
  // removed again.
  static Result<NetnsLab> create(std::string prefix, size_t hosts, size_t pods_per_host);

  NetnsLab(NetnsLab&& other) noexcept;
  NetnsLab& operator=(NetnsLab&&) = delete;
  NetnsLab(const NetnsLab&) = delete;
  ~NetnsLab() { teardown(); }

  size_t hosts() const { return hosts_; }
  size_t pods_per_host() const { return pods_; }
  std::string host_ns(uint32_t h) const;  // h counts from 0
  std::string pod_ns(uint32_t h, uint32_t j) const;
  std::string host_address(uint32_t h) const;  // "192.0.2.11" for h = 0

  // The link faults now on, as a whole: replaces what was on before.
  struct Links {
    std::vector<std::pair<uint32_t, uint32_t>> cut;  // frames from .first to .second dropped
    std::vector<double> loss;                        // per host, share of its frames dropped
  };
  Status set_links(const Links& links);

  // Host h's underlay limited to `mbit` each way (a tbf on its switch port and on its u0),
  // or unlimited again with 0.
  Status set_bandwidth(uint32_t h, double mbit);

  // Addresses host h's pods from `subnet`: cni0 takes the first address, pod j the (2+j)th,
  // with a default route through cni0. Called again when the host's subnet changes.
  Status address_pods(uint32_t h, const Cidr& subnet);
  std::optional<Cidr> pods_subnet(uint32_t h) const { return pod_subnet_[h]; }
  static std::string pod_address(const Cidr& subnet, uint32_t j);

  // Runs `argv` inside namespace `ns` (through `ip netns exec`), bounded in time.
  static Result<std::string> exec_in(const std::string& ns, const std::vector<std::string>& argv);

  // Removes every namespace it made; safe to call twice.
  void teardown();

 private:
  NetnsLab(std::string prefix, size_t hosts, size_t pods)
      : prefix_(std::move(prefix)), hosts_(hosts), pods_(pods), pod_subnet_(hosts), mbit_(hosts) {}
  Status build();
  Status add_namespace(const std::string& name);
  Status batch(const std::string& ns, const std::string& commands);

  std::string prefix_;
  size_t hosts_ = 0, pods_ = 0;
  std::vector<std::string> made_;  // namespaces, in the order made
  std::vector<std::optional<Cidr>> pod_subnet_;
  std::vector<double> mbit_;  // per host, 0: unlimited
};

}  // namespace shoal::chaos
