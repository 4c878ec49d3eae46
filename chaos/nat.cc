#include "chaos/nat.h"

namespace shoal::chaos {

bool Nat::port_free(uint16_t port, const Endpoint& to, TimePoint now) {
  if (kind_ == NatKind::kSymmetric) {
    // conntrack needs the reply's tuple unique: the port may serve other destinations.
    auto flow = flows_.find(FlowKey{port, to});
    return flow == flows_.end() || flow->second.expires <= now;
  }
  auto owner = cone_ports_.find(port);
  if (owner == cone_ports_.end()) return true;
  auto mapping = mappings_.find(owner->second);
  if (mapping == mappings_.end()) {
    cone_ports_.erase(owner);
    return true;
  }
  if (mapping->second.expires > now) return false;
  // Timed out (and with it every flow through it): the router takes the port back.
  forget(mapping);
  return true;
}

Nat::Mappings::iterator Nat::forget(Mappings::iterator mapping) {
  if (kind_ == NatKind::kCone) cone_ports_.erase(mapping->second.port);
  return mappings_.erase(mapping);
}

std::optional<uint16_t> Nat::allocate_port(const Endpoint& to, TimePoint now) {
  // Never hands out a port still mapped; a flush moves on, so a remap gets a new port.
  for (size_t tried = 0; tried < kPorts; ++tried) {
    const uint16_t port = next_port_;
    next_port_ = next_port_ == 65535 ? 20000 : next_port_ + 1;
    if (port_free(port, to, now)) return port;
  }
  return std::nullopt;
}

void Nat::sweep(TimePoint now) {
  std::erase_if(flows_, [now](const auto& f) { return f.second.expires <= now; });
  for (auto it = mappings_.begin(); it != mappings_.end();)
    it = it->second.expires > now ? std::next(it) : forget(it);
  size_after_sweep_ = flows_.size();
}

bool Nat::room_for_flow(TimePoint now) {
  if (flows_.size() < max_flows_) return true;
  sweep(now);
  return flows_.size() < max_flows_;
}

std::optional<Endpoint> Nat::outbound(const Endpoint& inside, const Endpoint& to, TimePoint now) {
  const Key key{inside, kind_ == NatKind::kCone ? Endpoint{} : to};
  auto mapping = mappings_.find(key);
  if (mapping != mappings_.end() && mapping->second.expires <= now) {
    forget(mapping);  // timed out: the next datagram is a new mapping, on a new port
    mapping = mappings_.end();
  }
  uint16_t port = 0;
  if (mapping != mappings_.end()) {
    port = mapping->second.port;
  } else if (const auto free = allocate_port(to, now)) {
    port = *free;
  } else {
    dropped_full_++;
    return std::nullopt;
  }
  auto flow = flows_.find(FlowKey{port, to});
  if (flow == flows_.end()) {
    if (!room_for_flow(now)) {  // sweeps only timed-out entries: `mapping` is live
      dropped_full_++;
      return std::nullopt;
    }
    flow = flows_.emplace(FlowKey{port, to}, Flow{}).first;
  }
  const TimePoint until = now + timeout_;
  flow->second = Flow{inside, until};
  if (mapping != mappings_.end()) {
    mapping->second.expires = until;
  } else {
    mappings_.emplace(key, Mapping{port, until});
    if (kind_ == NatKind::kCone) cone_ports_[port] = key;
  }
  // Timed-out entries are taken back in bulk, so the table's memory follows its live flows.
  if (flows_.size() > 2 * size_after_sweep_ + 4096) sweep(now);
  return Endpoint{public_ip_, port};
}

std::optional<Endpoint> Nat::inbound(uint16_t port, const Endpoint& from, TimePoint now) const {
  auto flow = flows_.find(FlowKey{port, from});
  if (flow == flows_.end() || flow->second.expires <= now) return std::nullopt;
  return flow->second.inside;
}

void Nat::flush() {
  mappings_.clear();
  cone_ports_.clear();
  flows_.clear();
  size_after_sweep_ = 0;
}

}  // namespace shoal::chaos
