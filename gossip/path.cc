#include "gossip/path.h"

#include <algorithm>

namespace shoal::gossip {

bool Path::prove(const Endpoint& from) {
  const bool moved = from != reach;
  reach = from;
  proven = true;
  relayed = false;
  direct_failures = 0;
  if (hint == from) hint.reset();
  return moved;
}

void Path::direct_failed(bool answered_by_helper) {
  direct_failures++;
  relayed = answered_by_helper;
}

void Path::readvertised(const Endpoint& address, const std::vector<Endpoint>& candidates,
                        bool symmetric_nat) {
  // What works stays, advertised or not; unless it is a punched endpoint the member no
  // longer advertises: its router restarted and mapped it to new ports, and the old hole
  // leads nowhere. Waiting for our next probe to fail there means a suspicion per member
  // per remapped host, spread over a whole probe round. Behind a symmetric NAT our way in
  // is a mapping made for us alone, never advertised: dropping it on each readvertisement
  // (the verdict "symmetric" itself is one, coming just after a router restart) left the
  // member's relays without a path until its next keepalive. Its staleness shows as usual:
  // our probes fail, or its pings come from a new port (Membership::check_hint).
  const bool stale_hole =
      !symmetric_nat && reach != address &&
      std::find(candidates.begin(), candidates.end(), reach) == candidates.end();
  if (works() && !stale_hole) return;
  reach = address;  // probe_endpoints() tries the new candidates from here
  proven = false;
  direct_failures = 0;
}

PathKind path_kind(const Path& path, const Endpoint& address) {
  if (path.relayed) return PathKind::kRelayed;
  if (!path.proven) return PathKind::kUnknown;
  return path.reach == address ? PathKind::kDirect : PathKind::kPunched;
}

std::vector<Endpoint> probe_endpoints(const Path& path, const Endpoint& address,
                                      const std::vector<Endpoint>& candidates) {
  std::vector<Endpoint> out{path.reach};
  if (path.works()) return out;
  auto add = [&out](const Endpoint& e) {
    if (out.size() < kMaxProbeEndpoints && std::find(out.begin(), out.end(), e) == out.end())
      out.push_back(e);
  };
  add(address);
  for (const Endpoint& c : candidates) add(c);
  if (path.hint) add(*path.hint);
  return out;
}

}  // namespace shoal::gossip
