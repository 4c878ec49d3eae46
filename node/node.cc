#include "node/node.h"

namespace shoal::node {

Node::Node(NodeConfig config, TimePoint now, WallTime wall)
    : core_(std::move(config.gossip), std::move(config.self), config.seed, now),
      now_(now),
      wall_(wall) {
  if (config.lease) {
    lease_ = std::make_unique<lease::LeaseCore>(std::move(config.lease->config),
                                                std::move(config.lease->self),
                                                std::move(config.lease->stored), now, wall);
    core_.set_state_delegate(this);
  }
}

Node::~Node() {
  if (lease_) core_.set_state_delegate(nullptr);
}

void Node::join(TimePoint now, WallTime wall, std::vector<Endpoint> seeds) {
  enter(now, wall);
  core_.join(now, std::move(seeds));
  exchange(now, wall);
}

void Node::handle_packet(TimePoint now, WallTime wall, const Endpoint& from, ByteView packet) {
  enter(now, wall);
  core_.handle_packet(now, from, packet);
  exchange(now, wall);
}

void Node::handle_stream(TimePoint now, WallTime wall, const Endpoint& from,
                         gossip::StreamId stream, ByteView message) {
  enter(now, wall);
  core_.handle_stream(now, from, stream, message);
  exchange(now, wall);
}

void Node::handle_timeout(TimePoint now, WallTime wall) {
  enter(now, wall);
  core_.handle_timeout(now);
  if (lease_) lease_->handle_timeout(now, wall);
  exchange(now, wall);
}

void Node::persisted(TimePoint now, WallTime wall, uint64_t version) {
  if (!lease_) return;
  enter(now, wall);
  lease_->persisted(version);
  exchange(now, wall);
}

void Node::leave(TimePoint now, WallTime wall, bool release) {
  enter(now, wall);
  if (release && lease_) lease_->release(now, wall);
  exchange(now, wall);  // the release's broadcast goes out before the leave
  core_.leave(now);
  exchange(now, wall);
}

bool Node::evict(TimePoint now, WallTime wall, const NodeId& node) {
  if (!lease_) return false;
  enter(now, wall);
  const bool evicted = lease_->evict(node, wall);
  exchange(now, wall);
  return evicted;
}

void Node::exchange(TimePoint now, WallTime wall) {
  while (auto e = core_.poll_event()) {
    if (lease_) {
      using Kind = gossip::Event::Kind;
      switch (e->kind) {
        case Kind::kUserMessage:
          lease_->handle_update(now, wall, e->data);
          break;
        case Kind::kJoined:
        case Kind::kAlive:
          lease_->member_up(e->member.id);
          break;
        case Kind::kDead:
        case Kind::kLeft:
        case Kind::kReaped:
          lease_->member_down(e->member.id);
          break;
        default:
          break;
      }
    }
    events_.push_back(std::move(*e));
  }
  if (!lease_) return;
  // Only records the driver made durable come out here (LeaseCore holds the others back).
  while (auto b = lease_->poll_broadcast()) core_.broadcast_user(b->about, std::move(b->update));
  if (lease_->take_sync_request()) core_.sync_state(now);
}

std::optional<lease::NodeRecord> Node::poll_persist() {
  if (!lease_) return std::nullopt;
  return lease_->poll_persist();
}

std::optional<gossip::Event> Node::poll_event() {
  if (events_.empty()) return std::nullopt;
  gossip::Event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::optional<lease::LeaseEvent> Node::poll_lease_event() {
  if (!lease_) return std::nullopt;
  return lease_->poll_event();
}

TimePoint Node::next_timeout() const {
  const TimePoint gossip = core_.next_timeout();
  return lease_ ? std::min(gossip, lease_->next_timeout()) : gossip;
}

Bytes Node::local_state(bool) { return lease_->sync_open(); }

std::optional<Bytes> Node::merge_remote_state(ByteView state, bool, uint32_t round) {
  return lease_->sync_step(now_, wall_, state, round);
}

Bytes Node::state_digest() { return lease_->digest(); }

bool Node::wants_sync_after(ByteView digest) { return lease_->wants_sync_after(now_, digest); }

}  // namespace shoal::node
