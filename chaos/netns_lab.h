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
//   PREFIX-nK       NAT router K (from 1), a home router: leg "wan" on br0 at 192.0.2.(220+K),
//                   leg "lan" on the switch's bridge brK at 198.51.100.1/24. The hosts behind
//                   it sit on brK at 198.51.100.(10+J), J counting from 1 in every site (homes
//                   share one LAN range, so an address alone does not name a host), with their
//                   default route through it. It masquerades what leaves by wan: a cone NAT
//                   keeps a host's source port where it can (Linux's mapping), a symmetric one
//                   picks a new port per flow (fully-random); conntrack lets in only replies,
//                   and what else comes in by wan is dropped, as home routers do.
//                   A "routed" router K is a plain one instead: no NAT, no filter. Its LAN
//                   is a segment of its own, 203.0.113.(32R)/27 for the R-th such router
//                   (from 0; the router at .1, host J at .(1+J)), which every other router
//                   and public host routes to through its wan address: a site one hop away,
//                   where `auto` picks vxlan across the hop and host-gw inside.
//
// Faults sit on the switch's ports, so they act on every packet a host sends or receives on
// the underlay, gossip and tunnel alike, whatever the backend: a cut drops frames from one
// port to another, a loss drops a share of the frames through a port, a bandwidth limit is
// a token bucket (tbf) on the port and on the host's end of it. Behind a NAT a host's packets
// reach the others from its router's address, so a cut from it is told by a mark: its router
// sets the packet's DSCP to the host's J (hence at most 63 hosts per NAT site), and the
// switch drops by router address and mark on the port of the host cut off.
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
inline constexpr size_t kMaxLabNats = 20;
inline constexpr size_t kMaxLabHostsPerNat = 63;  // DSCP is six bits, and 0 is no mark
inline constexpr size_t kMaxLabRouted = 8;        // routed LANs: /27s of 203.0.113.0/24
inline constexpr size_t kMaxLabHostsPerRouted = 29;

// What to build: hosts, pods, and which hosts sit behind which NAT router.
struct LabTopology {
  size_t hosts = 0;
  size_t pods_per_host = 0;
  std::vector<uint32_t> nat_of_host;  // per host: 0 on the public segment, K behind router K
  // per router K, at K - 1: "cone" or "symmetric" (NAT), or "routed" (a plain router)
  std::vector<std::string> nat_kinds;
};

class NetnsLab {
 public:
  // Creates the namespaces, the switch, the NAT routers and the pods' plumbing. On error,
  // what was made is removed again.
  static Result<NetnsLab> create(std::string prefix, LabTopology topology);

  NetnsLab(NetnsLab&& other) noexcept;
  NetnsLab& operator=(NetnsLab&&) = delete;
  NetnsLab(const NetnsLab&) = delete;
  ~NetnsLab() { teardown(); }

  size_t hosts() const { return topology_.hosts; }
  size_t pods_per_host() const { return topology_.pods_per_host; }
  std::string host_ns(uint32_t h) const;  // h counts from 0
  std::string pod_ns(uint32_t h, uint32_t j) const;
  // "192.0.2.11" for h = 0 on the public segment; behind a NAT, the host's LAN address.
  std::string host_address(uint32_t h) const;
  uint32_t nat_of(uint32_t h) const { return topology_.nat_of_host[h]; }  // 0: public
  // Behind a NAT router (not a routed one): its packets leave with the router's address.
  bool masqueraded(uint32_t h) const {
    return nat_of(h) != 0 && topology_.nat_kinds[nat_of(h) - 1] != "routed";
  }

  // NAT router k restarts: it forgets every mapping (its conntrack table is flushed) and
  // maps to another range of ports, so its hosts' public ports change.
  Status reset_nat(uint32_t k);

  // The link faults now on, as a whole: replaces what was on before.
  struct Links {
    std::vector<std::pair<uint32_t, uint32_t>> cut;  // frames from .first to .second dropped
    std::vector<double> loss;                        // per host, share of its frames dropped
    struct LinkLoss {
      uint32_t from, to;
      double share;  // of the frames from `from` to `to` dropped
    };
    std::vector<LinkLoss> link_loss;
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
  NetnsLab(std::string prefix, LabTopology topology)
      : prefix_(std::move(prefix)),
        topology_(std::move(topology)),
        pod_subnet_(topology_.hosts),
        mbit_(topology_.hosts),
        nat_resets_(topology_.nat_kinds.size()) {}
  Status build();
  Status build_nat(uint32_t k);
  Status set_nat_rules(uint32_t k);
  // `route add` lines (ip -batch) to every routed LAN but router k's own (0: a public host).
  std::string routes_to_routed_lans(uint32_t k) const;
  Status add_namespace(const std::string& name);
  Status batch(const std::string& ns, const std::string& commands);
  std::string nat_ns(uint32_t k) const;
  std::string nat_wan_address(uint32_t k) const;
  uint32_t mark_of(uint32_t h) const;  // behind a router: J, the host's number in its site
  bool routed(uint32_t k) const { return k > 0 && topology_.nat_kinds[k - 1] == "routed"; }
  uint32_t routed_index(uint32_t k) const;    // R: routed routers before router k
  std::string lan_gateway(uint32_t k) const;  // router k's LAN address, with its prefix length
  std::string lan_network(uint32_t k) const;  // a routed router's LAN: "203.0.113.32/27"

  std::string prefix_;
  LabTopology topology_;
  std::vector<std::string> made_;  // namespaces, in the order made
  std::vector<std::optional<Cidr>> pod_subnet_;
  std::vector<double> mbit_;          // per host, 0: unlimited
  std::vector<uint32_t> nat_resets_;  // per router K at K - 1: restarts so far
};

}  // namespace shoal::chaos
