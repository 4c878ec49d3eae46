// A NAT router of the simulated network, in RFC 4787's terms, modelled on the router the
// namespace lab builds (chaos/netns_lab.h): Linux masquerade. The hosts of a site share its
// public address. Its conntrack table holds one flow per inside endpoint and remote, and lets
// a datagram in only along a live flow (address-and-port-dependent filtering).
//  - kCone: endpoint-independent mapping, one public port per inside endpoint whatever the
//    destination (masquerade as usually set up). Holes can be punched to it.
//  - kSymmetric: a new public port per destination (`masquerade fully-random`). As in
//    conntrack, a port need only be free *for that destination*, since the reply's tuple
//    names the flow: the ports do not run out. Every peer sees another port, so nobody can be
//    told where to send: only relays reach it.
// Mappings and flows last `timeout` after the last datagram out. The table holds at most
// `max_flows` live flows (Linux's default nf_conntrack_max): a datagram that needs a new one
// beyond that is dropped, as conntrack drops it ("table full"). No hairpinning: a host
// cannot reach a neighbour through the public address. Deterministic.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include "common/endpoint.h"
#include "common/time.h"

namespace shoal::chaos {

enum class NatKind : uint8_t { kCone, kSymmetric };

class Nat {
 public:
  static constexpr size_t kMaxFlows = 262144;      // nf_conntrack_max on these machines
  static constexpr size_t kPorts = 65536 - 20000;  // public ports 20000..65535

  Nat(NatKind kind, IpAddress public_ip, Duration timeout, size_t max_flows = kMaxFlows)
      : kind_(kind), public_ip_(public_ip), timeout_(timeout), max_flows_(max_flows) {}

  NatKind kind() const { return kind_; }
  size_t max_flows() const { return max_flows_; }
  const IpAddress& public_ip() const { return public_ip_; }

  // A datagram from `inside` to `to` leaves from the endpoint returned (mapped on the way);
  // nullopt when it needs a new flow or port and none is free: the router drops it.
  std::optional<Endpoint> outbound(const Endpoint& inside, const Endpoint& to, TimePoint now);
  // A datagram from `from` to our public `port`: the inside endpoint it reaches, if let in.
  std::optional<Endpoint> inbound(uint16_t port, const Endpoint& from, TimePoint now) const;
  // Forgets every mapping (a router restart, a conntrack flush): new ports from now on.
  void flush();
  size_t mappings() const { return mappings_.size(); }     // some may have timed out
  size_t flows() const { return flows_.size(); }           // some may have timed out
  uint64_t dropped_full() const { return dropped_full_; }  // datagrams dropped: table full

 private:
  using Key = std::pair<Endpoint, Endpoint>;  // (inside, destination); empty for kCone
  struct Mapping {
    uint16_t port;
    TimePoint expires;
  };
  using Mappings = std::map<Key, Mapping>;
  struct FlowKey {  // the reply's view of a flow: to our public port, from the remote
    uint16_t port;
    Endpoint remote;
    bool operator==(const FlowKey&) const = default;
  };
  struct FlowHash {
    size_t operator()(const FlowKey& k) const {
      return std::hash<Endpoint>{}(k.remote) * 31 + k.port;
    }
  };
  struct Flow {
    Endpoint inside;
    TimePoint expires;
  };

  // A public port for a new mapping of `inside` to `to`, or nullopt.
  std::optional<uint16_t> allocate_port(const Endpoint& to, TimePoint now);
  bool port_free(uint16_t port, const Endpoint& to, TimePoint now);
  // Room for one more flow, after taking back timed-out ones if the table is full.
  bool room_for_flow(TimePoint now);
  // Drops a mapping (and a cone's hold on its port); the next one, as erase() does.
  Mappings::iterator forget(Mappings::iterator mapping);
  // Takes back every timed-out mapping and flow.
  void sweep(TimePoint now);

  NatKind kind_;
  IpAddress public_ip_;
  Duration timeout_;
  size_t max_flows_;
  Mappings mappings_;
  std::unordered_map<uint16_t, Key> cone_ports_;  // kCone: public port -> its mapping
  std::unordered_map<FlowKey, Flow, FlowHash> flows_;
  size_t size_after_sweep_ = 0;
  uint16_t next_port_ = 20000;
  uint64_t dropped_full_ = 0;
};

}  // namespace shoal::chaos
