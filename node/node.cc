#include "node/node.h"

#include <google/protobuf/io/coded_stream.h>

#include "proto/shoal.pb.h"

namespace shoal::node {

Node::Node(NodeConfig config, TimePoint now, WallTime wall)
    : core_(std::move(config.gossip), std::move(config.self), config.seed, now),
      keys_(std::move(config.keys)),
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

std::optional<KeysVersion> Node::publish_keys(TimePoint now, WallTime wall, std::string keyring) {
  enter(now, wall);
  auto value = keys_.publish(wall, core_.self().id, std::move(keyring));
  if (!value) return std::nullopt;
  core_.broadcast_user(std::nullopt, encode_keys_update(*value));
  return value->version;
}

void Node::offer_keys(const KeysValue& value) {
  if (!keys_.offer(value, wall_)) return;
  core_.broadcast_user(std::nullopt, encode_keys_update(value));  // passed on, epidemically
  adopted_keys_.push_back(value);
}

std::optional<KeysValue> Node::poll_keys() {
  if (adopted_keys_.empty()) return std::nullopt;
  KeysValue value = std::move(adopted_keys_.front());
  adopted_keys_.pop_front();
  return value;
}

void Node::exchange(TimePoint now, WallTime wall) {
  while (auto e = core_.poll_event()) {
    if (e->kind == gossip::Event::Kind::kUserMessage && is_keys_update(e->data)) {
      if (auto value = decode_keys_update(e->data)) offer_keys(*value);
      continue;  // not the lease table's
    }
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

namespace {

// The cluster keyring rides in LeaseSync.keys (field 8) at the front of a sync message:
// concatenated protobuf messages merge, so the lease table reads the message as before, and
// the keyring is read from the first field alone, never by parsing a large digest twice.
Bytes with_keys_in_front(const KeysValue& keys, Bytes message) {
  proto::LeaseSync front;
  to_proto(keys, *front.mutable_keys());
  const std::string bytes = front.SerializeAsString();
  message.insert(message.begin(), bytes.begin(), bytes.end());
  return message;
}

std::optional<KeysValue> keys_in_front(ByteView message) {
  google::protobuf::io::CodedInputStream in(message.data(), static_cast<int>(message.size()));
  constexpr uint32_t kTag = (proto::LeaseSync::kKeysFieldNumber << 3) | 2;
  uint32_t length = 0;
  if (in.ReadTag() != kTag || !in.ReadVarint32(&length) || length > kMaxKeyringText + 128)
    return std::nullopt;
  const auto limit = in.PushLimit(static_cast<int>(length));
  proto::ClusterKeys keys;
  if (!keys.ParseFromCodedStream(&in) || !in.ConsumedEntireMessage()) return std::nullopt;
  in.PopLimit(limit);
  auto value = from_proto(keys);
  if (!value) return std::nullopt;
  return std::move(value).value();
}

}  // namespace

Bytes Node::local_state(bool) {
  Bytes opening = lease_->sync_open();
  if (const auto& held = keys_.held()) return with_keys_in_front(*held, std::move(opening));
  return opening;
}

std::optional<Bytes> Node::merge_remote_state(ByteView state, bool, uint32_t round) {
  // Openings (round 0) carry the opener's keyring; an answer (round 1) carries ours when the
  // opener was behind.
  std::optional<KeysValue> theirs;
  if (round <= 1) theirs = keys_in_front(state);
  if (theirs) offer_keys(*theirs);
  auto answer = lease_->sync_step(now_, wall_, state, round);
  const auto& ours = keys_.held();
  if (round == 0 && ours && (!theirs || theirs->version < ours->version)) {
    // A peer behind us (a joiner, or a member back from down): the answer brings it ours,
    // sealed in the key it spoke (protocol/sealed_frames.h), so it reads it though it lacks our
    // primary; and gossip spreads it at once, at most every few seconds, so that a cluster
    // full of stale members is not flooded.
    answer = with_keys_in_front(*ours, answer.value_or(Bytes{}));
    if (now_ >= next_keys_rebroadcast_) {
      core_.broadcast_user(std::nullopt, encode_keys_update(*ours));
      next_keys_rebroadcast_ = now_ + std::chrono::seconds(5);
    }
  }
  return answer;
}

Bytes Node::state_digest() { return lease_->digest(); }

bool Node::wants_sync_after(ByteView digest) { return lease_->wants_sync_after(now_, digest); }

}  // namespace shoal::node
