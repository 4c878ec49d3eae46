#include "backends/udp/peer_path.h"

#include <algorithm>

namespace shoal::udp {

namespace {
constexpr Duration kFirstPunchBackoff = std::chrono::seconds(2);
constexpr Duration kLastPunchBackoff = std::chrono::seconds(32);
}  // namespace

PeerPath::PeerPath(Duration keepalive_interval) : keepalive_(keepalive_interval) {}

void PeerPath::set_plan(const PathPlan& plan, TimePoint now) {
  if (plan == plan_) return;
  // The peer published endpoints we have not tried: its NAT may have remapped, and a
  // port-restricted NAT on our side drops its packets from the new port until we send there.
  for (const Endpoint& c : plan.candidates) {
    const auto known = [&](const std::vector<Endpoint>& list) {
      return std::find(list.begin(), list.end(), c) != list.end();
    };
    if (c != heard_at_ && !known(plan_.candidates) && !known(fresh_candidates_) &&
        fresh_candidates_.size() < kMaxTargets)
      fresh_candidates_.push_back(c);
  }
  plan_ = plan;
  // New endpoints or a new relay: punch again soon, whatever failed before.
  punch_backoff_ = kFirstPunchBackoff;
  next_punch_ = now;
}

bool PeerPath::heard_direct(const Endpoint& from, TimePoint now) {
  const bool moved = heard_at_ && *heard_at_ != from;  // first contact is no move
  heard_at_ = from;
  heard_direct_at_ = now;
  return moved;
}

void PeerPath::heard_relayed(TimePoint now) { heard_relayed_at_ = now; }

void PeerPath::sent_data(TimePoint now) { sent_data_at_ = now; }

bool PeerPath::direct_fresh(TimePoint now) const {
  if (heard_direct_at_ == kTimeNever || now - heard_direct_at_ >= stale_after()) return false;
  // Sending into silence: what we sent kSilence after we last heard from it got no answer.
  const bool unanswered =
      sent_data_at_ != kTimeNever && sent_data_at_ - heard_direct_at_ > kSilence;
  return !(unanswered && now - heard_direct_at_ > kSilence);
}

bool PeerPath::take_direct_lost(TimePoint now) {
  const bool fresh = direct_fresh(now);
  const bool lost = reported_fresh_ && !fresh;
  reported_fresh_ = fresh;
  return lost;
}

SendTarget PeerPath::target(TimePoint now, std::optional<Endpoint> relay_endpoint) const {
  if (direct_fresh(now)) return {*heard_at_, false};
  if (plan_.relay && relay_endpoint) return {*relay_endpoint, true};
  if (heard_at_) return {*heard_at_, false};
  if (!plan_.address_works && !plan_.candidates.empty()) return {plan_.candidates.front(), false};
  return {plan_.address, false};
}

std::vector<Endpoint> PeerPath::initiation_endpoints() const {
  std::vector<Endpoint> out;
  auto add = [&](const Endpoint& e) {
    if (e.port == 0 || out.size() >= kMaxTargets) return;
    if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
  };
  if (heard_at_) add(*heard_at_);
  if (plan_.address_works) add(plan_.address);
  for (const Endpoint& c : plan_.candidates) add(c);
  return out;
}

std::vector<Endpoint> PeerPath::take_punch(TimePoint now) {
  const bool fresh = direct_fresh(now);
  if (was_fresh_ && !fresh) {  // the direct path just died: try to get it back quickly
    punch_backoff_ = kFirstPunchBackoff;
    next_punch_ = now;
  }
  was_fresh_ = fresh;
  if (fresh || !plan_.punch || !plan_.relay || now < next_punch_) {
    std::vector<Endpoint> out;
    out.swap(fresh_candidates_);
    if (out.size() > kMaxTargets) out.resize(kMaxTargets);
    return out;
  }
  fresh_candidates_.clear();
  next_punch_ = now + punch_backoff_;
  punch_backoff_ = std::min(2 * punch_backoff_, kLastPunchBackoff);
  return initiation_endpoints();
}

PathDue PeerPath::poll(TimePoint now) {
  PathDue due;
  due.direct_lost = take_direct_lost(now);
  due.keepalive = take_keepalive(now);
  due.punch = take_punch(now);
  return due;
}

bool PeerPath::take_keepalive(TimePoint now) {
  if (!plan_.keepalive || now < next_keepalive_) return false;
  next_keepalive_ = now + keepalive_;
  return true;
}

PathKind PeerPath::kind(TimePoint now) const {
  const bool relayed_lately =
      heard_relayed_at_ != kTimeNever && now - heard_relayed_at_ < stale_after();
  if (!direct_fresh(now) && plan_.relay) {
    return relayed_lately ? PathKind::kRelayed : PathKind::kUnknown;
  }
  if (!heard_at_) return relayed_lately ? PathKind::kRelayed : PathKind::kUnknown;
  return *heard_at_ == plan_.address ? PathKind::kDirect : PathKind::kPunched;
}

}  // namespace shoal::udp
