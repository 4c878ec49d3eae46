// LeaseBridge carries a LeaseCore on a gossip Membership: user messages and member events
// in, broadcasts, syncs and durable writes out. The agent and the simulator both drive
// their lease table through it, so what the simulations prove is the wiring that runs.
//
// Sans-IO like both cores: time comes in from the driver, and the one side effect, making
// our own record durable, is the driver's `persist` callback (it returns an error text, or
// empty once the record is on disk; only then is the record announced).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/hlc.h"
#include "common/time.h"
#include "gossip/delegate.h"
#include "gossip/event.h"
#include "gossip/membership.h"
#include "lease/lease_core.h"

namespace shoal::node {

class LeaseBridge : public gossip::StateDelegate {
 public:
  using Persist = std::function<std::string(const lease::NodeRecord&)>;
  using Clock = std::function<std::pair<TimePoint, WallTime>()>;

  // Registers itself as `core`'s state delegate; both must outlive the bridge.
  LeaseBridge(gossip::Membership& core, lease::LeaseCore& lease, Clock clock, Persist persist);
  ~LeaseBridge() override;

  // A gossip event: user messages are lease updates; member events feed the allocator.
  void on_gossip_event(TimePoint now, WallTime wall, const gossip::Event& event);
  void handle_timeout(TimePoint now, WallTime wall) { lease_.handle_timeout(now, wall); }
  TimePoint next_timeout() const { return lease_.next_timeout(); }
  // Moves the lease core's output along: durable writes, broadcasts, sync requests.
  // Returns the last persist error, if any: that record is not announced, and the next
  // change (at the latest the renewal) publishes a newer one. The driver logs it loudly.
  std::string flush(TimePoint now);
  std::optional<lease::LeaseEvent> poll_event() { return lease_.poll_event(); }

  // gossip::StateDelegate
  Bytes local_state(bool join) override;
  std::optional<Bytes> merge_remote_state(ByteView state, bool join, uint32_t round) override;
  Bytes state_digest() override { return lease_.digest(); }
  bool wants_sync_after(ByteView digest) override;

 private:
  gossip::Membership& core_;
  lease::LeaseCore& lease_;
  Clock clock_;
  Persist persist_;
};

}  // namespace shoal::node
