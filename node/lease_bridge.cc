#include "node/lease_bridge.h"

namespace shoal::node {

LeaseBridge::LeaseBridge(gossip::Membership& core, lease::LeaseCore& lease, Clock clock,
                         Persist persist)
    : core_(core), lease_(lease), clock_(std::move(clock)), persist_(std::move(persist)) {
  core_.set_state_delegate(this);
}

LeaseBridge::~LeaseBridge() { core_.set_state_delegate(nullptr); }

void LeaseBridge::on_gossip_event(TimePoint now, WallTime wall, const gossip::Event& e) {
  using Kind = gossip::Event::Kind;
  switch (e.kind) {
    case Kind::kUserMessage:
      lease_.handle_update(now, wall, e.data);
      break;
    case Kind::kJoined:
    case Kind::kAlive:
      lease_.member_up(e.member.id);
      break;
    case Kind::kDead:
    case Kind::kLeft:
    case Kind::kReaped:
      lease_.member_down(e.member.id);
      break;
    default:
      break;
  }
}

std::string LeaseBridge::flush(TimePoint now) {
  std::string error;
  while (auto record = lease_.poll_persist()) {
    const uint64_t version = record->version;
    // A record that did not reach the disk is never announced: a crash could otherwise
    // make us forget a claim others have seen. The next change publishes a newer one.
    if (auto e = persist_(*record); !e.empty()) {
      error = std::move(e);
      continue;
    }
    lease_.persisted(version);
  }
  while (auto b = lease_.poll_broadcast()) core_.broadcast_user(b->about, std::move(b->update));
  if (lease_.take_sync_request()) core_.sync_state(now);
  return error;
}

Bytes LeaseBridge::local_state(bool) { return lease_.sync_open(); }

std::optional<Bytes> LeaseBridge::merge_remote_state(ByteView state, bool, uint32_t round) {
  const auto [now, wall] = clock_();
  return lease_.sync_step(now, wall, state, round);
}

bool LeaseBridge::wants_sync_after(ByteView digest) {
  return lease_.wants_sync_after(clock_().first, digest);
}

}  // namespace shoal::node
