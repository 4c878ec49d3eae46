// A NAT router of the simulated network, in RFC 4787's terms. The hosts of a site share its
// public address. It maps an inside endpoint to a public port on the way out, and lets a
// datagram in only to a mapping whose inside host sent to that very source lately
// (address-and-port-dependent filtering: what Linux's conntrack does for masquerade).
//  - kCone: endpoint-independent mapping, one public port per inside endpoint whatever the
//    destination (masquerade as usually set up). Holes can be punched to it.
//  - kSymmetric: a new public port per destination (`masquerade fully-random`). Every peer
//    sees another port, so nobody can be told where to send: only relays reach it.
// A mapping and each of its permissions last `timeout` after the last datagram out. No
// hairpinning: a host cannot reach a neighbour through the public address. Deterministic.
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
  Nat(NatKind kind, IpAddress public_ip, Duration timeout)
      : kind_(kind), public_ip_(public_ip), timeout_(timeout) {}

  NatKind kind() const { return kind_; }
  const IpAddress& public_ip() const { return public_ip_; }

  // A datagram from `inside` to `to` leaves from the endpoint returned (mapped on the way);
  // nullopt when a new mapping is needed and every port holds a live one: the router drops
  // it, as a real one does when its table is full (a symmetric NAT with many chatty hosts).
  std::optional<Endpoint> outbound(const Endpoint& inside, const Endpoint& to, TimePoint now);
  // A datagram from `from` to our public `port`: the inside endpoint it reaches, if let in.
  std::optional<Endpoint> inbound(uint16_t port, const Endpoint& from, TimePoint now) const;
  // Forgets every mapping (a router restart, a conntrack flush): new ports from now on.
  void flush();
  size_t mappings() const { return by_port_.size(); }
  uint64_t dropped_full() const { return dropped_full_; }  // datagrams outbound() refused

 private:
  using Key = std::pair<Endpoint, Endpoint>;  // (inside, destination); empty for kCone
  struct Mapping {
    Key key;
    Endpoint inside;
    TimePoint expires;
    std::unordered_map<Endpoint, TimePoint> permits;  // remote -> until
  };
  // A port with no live mapping (an expired one is taken back), or nullopt.
  std::optional<uint16_t> allocate_port(TimePoint now);

  NatKind kind_;
  IpAddress public_ip_;
  Duration timeout_;
  // (inside, destination) -> public port; the destination is left empty for kCone.
  std::map<Key, uint16_t> by_inside_;
  std::unordered_map<uint16_t, Mapping> by_port_;
  uint16_t next_port_ = 20000;
  uint64_t dropped_full_ = 0;
};

}  // namespace shoal::chaos
