#include "chaos/nat.h"

namespace shoal::chaos {

std::optional<uint16_t> Nat::allocate_port(TimePoint now) {
  // Never hands out a port still mapped; a flush moves on, so a remap gets a new port.
  for (int tried = 0; tried <= 65535 - 20000; ++tried) {
    const uint16_t port = next_port_;
    next_port_ = next_port_ == 65535 ? 20000 : next_port_ + 1;
    auto mapping = by_port_.find(port);
    if (mapping == by_port_.end()) return port;
    if (mapping->second.expires <= now) {  // timed out: the router takes the port back
      by_inside_.erase(mapping->second.key);
      by_port_.erase(mapping);
      return port;
    }
  }
  return std::nullopt;
}

std::optional<Endpoint> Nat::outbound(const Endpoint& inside, const Endpoint& to, TimePoint now) {
  const Key key{inside, kind_ == NatKind::kCone ? Endpoint{} : to};
  auto it = by_inside_.find(key);
  if (it != by_inside_.end()) {
    auto mapping = by_port_.find(it->second);
    if (mapping == by_port_.end() || mapping->second.expires <= now) {
      if (mapping != by_port_.end()) by_port_.erase(mapping);
      by_inside_.erase(it);
      it = by_inside_.end();
    }
  }
  if (it == by_inside_.end()) {
    const auto port = allocate_port(now);
    if (!port) {
      dropped_full_++;
      return std::nullopt;
    }
    by_port_[*port] = Mapping{key, inside, now + timeout_, {}};
    it = by_inside_.emplace(key, *port).first;
  }
  Mapping& m = by_port_[it->second];
  m.expires = now + timeout_;
  m.permits[to] = now + timeout_;
  return Endpoint{public_ip_, it->second};
}

std::optional<Endpoint> Nat::inbound(uint16_t port, const Endpoint& from, TimePoint now) const {
  auto mapping = by_port_.find(port);
  if (mapping == by_port_.end() || mapping->second.expires <= now) return std::nullopt;
  auto permit = mapping->second.permits.find(from);
  if (permit == mapping->second.permits.end() || permit->second <= now) return std::nullopt;
  return mapping->second.inside;
}

void Nat::flush() {
  by_inside_.clear();
  by_port_.clear();
}

}  // namespace shoal::chaos
