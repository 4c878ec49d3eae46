#include "chaos/simulator.h"

#include "common/status.h"

namespace shoal::chaos {
namespace {

// Underlay addresses come from the three documentation ranges only (RFC 5737).
Endpoint sim_address(NodeIndex i) {
  static constexpr uint8_t kNets[3][3] = {{192, 0, 2}, {198, 51, 100}, {203, 0, 113}};
  const uint32_t host = i % 254, net = (i / 254) % 3, port_step = i / (254 * 3);
  return Endpoint{
      IpAddress::v4(kNets[net][0], kNets[net][1], kNets[net][2], static_cast<uint8_t>(host + 1)),
      static_cast<uint16_t>(7946 + port_step)};
}

}  // namespace

Simulator::Simulator(uint64_t seed, Duration latency_min, Duration latency_max)
    : seed_(seed), rng_(seed), network_(latency_min, latency_max) {}

Simulator::~Simulator() {
  while (!queue_.empty()) {
    delete queue_.top();
    queue_.pop();
  }
}

SiteIndex Simulator::add_site(NatKind kind, Duration mapping_timeout) {
  const auto site = static_cast<SiteIndex>(sites_.size() + 1);
  if (site > 254)
    precondition_failed("the simulator has room for 254 NATed sites", __FILE__, __LINE__);
  const IpAddress ip = IpAddress::v4(203, 0, 113, static_cast<uint8_t>(site));
  sites_.push_back(Site{Nat(kind, ip, mapping_timeout), {}});
  site_by_public_ip_.emplace(ip, site);
  return site;
}

NodeIndex Simulator::add_node(gossip::Config config, SiteIndex site) {
  const auto index = static_cast<NodeIndex>(nodes_.size());
  Node node;
  node.id = NodeId::random(rng_);
  node.config = std::move(config);
  node.site = site;
  if (site == 0) {
    node.address = sim_address(index);
    if (site_by_public_ip_.contains(node.address.address))
      precondition_failed("a public member's address is a NAT's: add members first", __FILE__,
                          __LINE__);
    by_address_.emplace(node.address, index);
  } else {
    auto& lan = sites_.at(site - 1).lan;
    if (lan.size() >= kMaxSiteMembers)
      precondition_failed("a site has room for 240 members", __FILE__, __LINE__);
    node.address =
        Endpoint{IpAddress::v4(198, 51, 100, static_cast<uint8_t>(10 + lan.size())), 7946};
    lan.emplace(node.address, index);
  }
  by_id_.emplace(node.id, index);
  nodes_.push_back(std::move(node));
  return index;
}

WallTime Simulator::wall(NodeIndex node) const {
  // 2026-01-01T00:00:00Z: the simulated wall clock starts on a plausible date.
  constexpr std::chrono::milliseconds kEpoch{1767225600000};
  return WallTime(kEpoch +
                  std::chrono::duration_cast<std::chrono::milliseconds>(now_.time_since_epoch()) +
                  nodes_[node].skew);
}

std::optional<NodeIndex> Simulator::index_of(const NodeId& id) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

void Simulator::start(NodeIndex index, const std::vector<NodeIndex>& seeds) {
  Node& node = nodes_[index];
  node.generation++;
  node.frozen = false;
  // As the agent does (store/local_state.cc): each start's incarnation is the wall clock's
  // seconds, and above the last start's, so a restarted member's alive outranks the death
  // of its past life at once. Starting at 0, as this did, each restarted member had to hear
  // of its old death and refute it, and a member that had heard of the new life at the
  // lower incarnation took the old death, still gossiped, as news about it.
  const auto wall_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(wall(index).time_since_epoch()).count();
  node.incarnation = std::max(static_cast<uint64_t>(wall_seconds), node.incarnation + 1);
  gossip::LocalNode self{
      node.id, "node-" + std::to_string(index), node.address, {}, node.incarnation};
  node.host.reset();
  node::NodeConfig config{node.config, self, rng_.next(), std::nullopt, std::nullopt};
  if (lease_factory_) config.lease = lease_factory_(index);
  node.host = std::make_unique<node::Node>(std::move(config), now_, wall(index));
  std::vector<Endpoint> seed_addresses;
  for (NodeIndex s : seeds)
    if (s != index) seed_addresses.push_back(nodes_[s].address);
  node.host->join(now_, wall(index), std::move(seed_addresses));
  node.timer = kTimeNever;
  flush(index);
}

void Simulator::thaw(NodeIndex index) {
  if (!nodes_[index].frozen) return;
  nodes_[index].frozen = false;
  flush(index);  // reschedules its timer: at once, if it came due while frozen
}

void Simulator::crash(NodeIndex index) {
  nodes_[index].frozen = false;
  ever_stopped_.insert(index);
  nodes_[index].host.reset();
  nodes_[index].timer = kTimeNever;
}

void Simulator::leave(NodeIndex index, bool release) {
  if (!is_up(index)) return;
  ever_stopped_.insert(index);
  nodes_[index].host->leave(now_, wall(index), release);
  flush(index);
}

void Simulator::at(TimePoint when, std::function<void()> action) {
  auto s = std::make_unique<Scheduled>();
  s->at = std::max(when, now_);
  s->kind = Scheduled::Kind::kAction;
  s->action = std::move(action);
  schedule(std::move(s));
}

void Simulator::schedule(std::unique_ptr<Scheduled> s) {
  s->order = order_++;
  queue_.push(s.release());
}

void Simulator::run_until(TimePoint until) {
  while (!queue_.empty() && queue_.top()->at <= until) {
    std::unique_ptr<Scheduled> s(queue_.top());
    queue_.pop();
    now_ = s->at;
    dispatch(*s);
  }
  now_ = until;
}

bool Simulator::run_until(const std::function<bool()>& done, TimePoint deadline, Duration every) {
  while (true) {
    if (done()) return true;
    if (now_ >= deadline) return false;
    run_until(std::min(deadline, now_ + every));
  }
}

void Simulator::dispatch(Scheduled& s) {
  if (s.kind == Scheduled::Kind::kAction) {
    s.action();
    return;
  }
  Node& node = nodes_[s.node];
  if (!node.host) return;  // down: the packet hits a closed port, the timer died with it
  if (node.frozen) {       // its timer fires at the thaw; what arrived meanwhile is lost
    if (s.kind == Scheduled::Kind::kTimer && s.at == node.timer) node.timer = kTimeNever;
    return;
  }
  const WallTime wall_now = wall(s.node);
  switch (s.kind) {
    case Scheduled::Kind::kTimer:
      if (s.generation != node.generation || s.at != node.timer) return;  // superseded
      node.timer = kTimeNever;
      node.host->handle_timeout(now_, wall_now);
      break;
    case Scheduled::Kind::kDatagram:
      node.host->handle_packet(now_, wall_now, s.from, s.payload);
      break;
    case Scheduled::Kind::kStream:
      if (s.generation != node.generation) return;  // the connection died with the process
      node.host->handle_stream(now_, wall_now, s.from, gossip::StreamId{s.stream}, s.payload);
      break;
    case Scheduled::Kind::kAction:
      break;
  }
  flush(s.node);
}

void Simulator::flush(NodeIndex index) {
  Node& node = nodes_[index];
  if (!node.host) return;
  while (auto record = node.host->poll_persist()) {
    if (persist_) persist_(index, *record);
    node.host->persisted(now_, wall(index), record->version);
  }
  while (auto e = node.host->poll_event()) {
    for (auto& hook : hooks_) hook(now_, index, *e);
    if (!node.host) return;  // a hook may crash the member
  }
  while (auto e = node.host->poll_lease_event()) {
    for (auto& hook : lease_hooks_) hook(now_, index, *e);
    if (!node.host) return;
  }
  while (auto t = node.host->poll_transmit()) send(index, std::move(*t));
  const TimePoint next = std::max(node.host->next_timeout(), now_);
  if (next != node.timer) {
    node.timer = next;
    auto s = std::make_unique<Scheduled>();
    s->at = next;
    s->kind = Scheduled::Kind::kTimer;
    s->node = index;
    s->generation = node.generation;
    schedule(std::move(s));
  }
}

std::optional<Simulator::Route> Simulator::route(NodeIndex from, const Endpoint& to, bool stream) {
  const Node& src = nodes_[from];
  Endpoint source = src.address;
  if (src.site != 0) {
    Site& site = sites_[src.site - 1];
    if (auto it = site.lan.find(to); it != site.lan.end()) return Route{it->second, source};
    // Out through the router. A stream's port is its own business: only the address shows.
    if (stream) {
      source = Endpoint{site.nat.public_ip(), 1024};
    } else {
      const auto mapped = site.nat.outbound(source, to, now_);
      if (!mapped) return std::nullopt;  // its table is full: dropped
      source = *mapped;
    }
  }
  if (auto it = by_address_.find(to); it != by_address_.end()) return Route{it->second, source};
  auto nat = site_by_public_ip_.find(to.address);
  if (stream || nat == site_by_public_ip_.end() || nat->second == src.site) return std::nullopt;
  Site& site = sites_[nat->second - 1];
  const auto inside = site.nat.inbound(to.port, source, now_);
  if (!inside) return std::nullopt;
  auto it = site.lan.find(*inside);
  if (it == site.lan.end()) return std::nullopt;
  return Route{it->second, source};
}

void Simulator::send(NodeIndex from, gossip::Transmit t) {
  auto s = std::make_unique<Scheduled>();
  s->from = nodes_[from].address;
  if (t.kind == gossip::Transmit::Kind::kDatagram) {
    traffic_.datagrams++;
    traffic_.datagram_bytes += t.payload.size();
    const auto to = route(from, t.to, false);
    if (!to) return;
    auto delay = network_.datagram(from, to->to, rng_);
    if (!delay) {
      traffic_.datagrams_lost++;
      return;
    }
    s->from = to->seen_from;
    s->kind = Scheduled::Kind::kDatagram;
    s->node = to->to;
    s->at = now_ + *delay;
  } else {
    traffic_.stream_messages++;
    traffic_.stream_bytes += t.payload.size();
    NodeIndex peer;
    uint64_t id, peer_generation;
    if (!t.stream) {
      const auto to = route(from, t.to, true);
      if (!to || !is_up(to->to)) {
        traffic_.streams_refused++;
        return;
      }
      s->from = to->seen_from;
      id = next_stream_++;
      peer = to->to;
      peer_generation = nodes_[peer].generation;
      streams_[id] = StreamEnds{from, peer, nodes_[from].generation, peer_generation};
    } else {
      id = t.stream->value;
      auto ends = streams_.find(id);
      if (ends == streams_.end()) return;
      if (t.close && t.payload.empty()) {  // close only: nothing to deliver
        streams_.erase(ends);
        return;
      }
      const bool from_a = ends->second.a == from;
      peer = from_a ? ends->second.b : ends->second.a;
      peer_generation = from_a ? ends->second.generation_b : ends->second.generation_a;
      if (t.close) streams_.erase(ends);
    }
    auto delay = network_.stream(from, peer, rng_);
    if (!delay) {
      traffic_.streams_refused++;
      streams_.erase(id);  // the connection broke: neither side writes on it again
      return;
    }
    s->kind = Scheduled::Kind::kStream;
    s->node = peer;
    s->stream = id;
    s->generation = peer_generation;
    s->at = now_ + *delay;
  }
  s->payload = std::move(t.payload);
  schedule(std::move(s));
}

}  // namespace shoal::chaos
