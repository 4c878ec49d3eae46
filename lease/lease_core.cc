#include "lease/lease_core.h"

#include <algorithm>
#include <utility>

#include "common/byte_order.h"
#include "common/hash.h"
#include "common/take_front.h"
#include "lease/allocator.h"
#include "proto/shoal.pb.h"

namespace shoal::lease {
namespace {

// `next` is `before` renewed: the same claims, addresses and data, only a newer version and
// stamp. Whether it counts is the same as before, so the owners stay as they are.
bool renews(const NodeRecord& before, const NodeRecord& next) {
  return next.renewed_at >= before.renewed_at && next.version > before.version && !next.released &&
         !before.released && content_of(next) == content_of(before);
}

// Summed (mod 2^64) over the entries, each FNV-1a over its bytes then splitmix64's finaliser:
// the map's order does not matter, and a subnet moved to another owner changes the sum.
uint64_t hash_of(const Owners& owners) {
  uint64_t sum = 0;
  for (const auto& [subnet, node] : owners) {
    const uint64_t h = fnv1a(kFnvOffset ^ subnet.prefix(), subnet.network().view());
    sum += finalise(fnv1a(h, node.view()));
  }
  return sum;
}

template <typename Message>
Bytes serialize(const Message& m) {
  Bytes out(m.ByteSizeLong());
  m.SerializeWithCachedSizesToArray(out.data());
  return out;
}

void to_proto(const Eviction& e, proto::Eviction& out) {
  out.set_node(std::string(as_chars(e.id.view())));
  out.set_up_to_version(e.up_to_version);
  out.set_evicted_at_ms(e.evicted_at.time_since_epoch().count());
}

std::optional<Eviction> from_proto(const proto::Eviction& in) {
  auto id = NodeId::from_bytes(as_bytes(in.node()));
  if (!id || in.up_to_version() == 0) return std::nullopt;
  return Eviction{*id, in.up_to_version(), WallTime(std::chrono::milliseconds(in.evicted_at_ms()))};
}

}  // namespace

LeaseCore::LeaseCore(LeaseConfig config, LocalLease self, StoredLeases stored, TimePoint now,
                     WallTime wall)
    : config_(std::move(config)),
      self_(std::move(self)),
      table_(config_.ttl),
      started_(now),
      allocation_delay_(config_.allocation_spread.count() > 0
                            ? Duration(static_cast<int64_t>(std::hash<NodeId>()(self_.id) %
                                                            config_.allocation_spread.count()))
                            : Duration::zero()),
      now_(now),
      wall_(wall),
      recompute_at_(now),
      next_housekeeping_(now + config_.housekeeping),
      next_sync_(now + config_.sync_interval_busy),
      next_digest_sync_(now) {
  busy_until_ = now + config_.sync_busy_hold;  // a member that just started has most to learn
  for (const NodeRecord& r : stored.records) table_.merge(r);
  for (const Eviction& e : stored.evictions) table_.merge(e);
  own_.id = self_.id;
  bool dropped_claims = false;
  if (stored.own) {
    // A restart: keep our claims (and so our subnet) and continue above our old version.
    // After a leave there is nothing to keep: we claim afresh.
    own_ = *stored.own;
    // A claim that expired while we were down is not revived: others may have handed the
    // subnet to a newcomer meanwhile, and our old claim stamp would win it back from them.
    // We claim afresh, with a fresh stamp, and get it back only if nobody holds it now.
    dropped_claims = own_.released || table_.expired(own_, wall);
    if (dropped_claims) own_.claims.clear();
    own_.released = false;
    durable_version_ = own_.version;
    table_.merge(own_);
    for (const Claim& c : own_.claims) hlc_.observe(c.claimed_at, wall);
  }
  if (const NodeRecord* seen = table_.find(self_.id); seen && seen->version > own_.version) {
    adopt_own_from_peer(*seen, wall);  // publishes
  } else if (stored.own && !own_.claims.empty()) {
    publish(wall);  // back again: renew at once, above every version peers have seen of us
    // Our own unexpired claim needs no sync wait and no settle window: nobody could take
    // it while it was valid. It is ready as soon as it is durable and the owners say so.
    resumed_ = true;
    mark_dirty(now);
  } else if (dropped_claims) {
    // The record changed (its claims are gone), so it takes a new version at once: peers hold
    // the old content under the old version, and one version must never name two contents.
    publish(wall);
  }
  for (const auto& [id, r] : table_.records())
    for (const Claim& c : r.claims) hlc_.observe(c.claimed_at, wall);
}

std::optional<Cidr> LeaseCore::claimed_subnet() const {
  if (own_.claims.empty() || own_.released) return std::nullopt;
  return own_.claims.front().subnet;
}

// --- own record ------------------------------------------------------------------------

void LeaseCore::publish(WallTime wall) {
  const NodeRecord* seen = table_.find(self_.id);
  own_.version = std::max(own_.version, seen ? seen->version : 0) + 1;
  own_.name = self_.name;
  own_.underlay = self_.underlay;
  own_.site = self_.site;
  own_.backend_data = self_.backend_data;
  own_.renewed_at = std::max(wall, own_.renewed_at);
  to_persist_.push_back(own_);
  awaiting_durability_.push_back(own_);
}

void LeaseCore::persisted(uint64_t version) {
  durable_version_ = std::max(durable_version_, version);
  // Only now may others hear of it.
  while (!awaiting_durability_.empty() && awaiting_durability_.front().version <= version) {
    NodeRecord record = std::move(awaiting_durability_.front());
    awaiting_durability_.pop_front();
    const bool renewal = only_renews(table_.find(self_.id), record, wall_);
    if (table_.merge(record) != Table::Merge::kUnchanged) {
      queue_broadcast(record);
      if (!renewal) mark_dirty(now_);
    }
  }
}

void LeaseCore::adopt_own_from_peer(const NodeRecord& record, WallTime wall) {
  // Peers hold a newer record of ours than we do: we were restored from an old database,
  // or lost it. Its claims are ours; take them back and publish above that version.
  // (Whether we are released is this life's decision, not an earlier life's.)
  // An expired copy is not revived either (see the constructor).
  if (!released_ && (own_.claims.empty() || record.version > own_.version)) {
    own_.claims =
        record.released || table_.expired(record, wall) ? std::vector<Claim>{} : record.claims;
  }
  // A subnet we no longer claim is not ready either: say so now (subnet.env goes), rather
  // than keep naming it while the fresh claim settles elsewhere.
  if (ready_ && std::none_of(own_.claims.begin(), own_.claims.end(),
                             [&](const Claim& c) { return c.subnet == *ready_; })) {
    events_.push_back({LeaseEvent::Kind::kSubnetLost, self_.id, *ready_, self_.underlay, {}});
    ready_.reset();
  }
  own_.released = released_;
  own_.version = std::max(own_.version, record.version);
  publish(wall);
}

void LeaseCore::release(TimePoint now, WallTime wall) {
  now_ = now;
  released_ = true;
  own_.released = true;
  if (ready_) {
    events_.push_back({LeaseEvent::Kind::kSubnetLost, self_.id, *ready_, self_.underlay, {}});
    ready_.reset();
  }
  publish(wall);
}

bool LeaseCore::evict(const NodeId& node, WallTime wall) {
  const NodeRecord* r = table_.find(node);
  if (!r || node == self_.id) return false;
  const Eviction e{node, r->version, wall};
  return merge_eviction(e, true);
}

void LeaseCore::member_up(const NodeId& id) {
  if (id != self_.id && members_.insert(id).second) pick_stale_ = true;
}

void LeaseCore::member_down(const NodeId& id) {
  if (members_.erase(id) > 0) pick_stale_ = true;
}

// --- merging ---------------------------------------------------------------------------

bool LeaseCore::merge_record(const NodeRecord& record, WallTime wall, bool gossip_on) {
  for (const Claim& c : record.claims) hlc_.observe(c.claimed_at, wall);
  if (record.id == self_.id) {
    if (record.version > own_.version ||
        (record.version == own_.version && record != own_ && supersedes(record, own_)))
      adopt_own_from_peer(record, wall);
    return false;
  }
  // A renewal of a record that counts changes nobody's subnet: it needs no O(table)
  // recompute and no busy syncing. With every host renewing each ttl/2, recomputing on each
  // one cost every host O(hosts^2) per TTL, and syncing at the busy pace kept every host busy
  // all the time at 1,000 hosts. Expiry still comes in with housekeeping's recompute, and a
  // renewal a peer missed still reaches it: its table hash differs at the next probe ack.
  const bool renewal = only_renews(table_.find(record.id), record, wall);
  if (table_.merge(record) == Table::Merge::kUnchanged) return false;
  if (gossip_on) queue_broadcast(record);
  if (!renewal) mark_dirty(now_);
  return true;
}

bool LeaseCore::only_renews(const NodeRecord* before, const NodeRecord& after,
                            WallTime wall) const {
  return before && renews(*before, after) && table_.valid(*before, wall);
}

bool LeaseCore::merge_eviction(const Eviction& eviction, bool gossip_on) {
  if (eviction.id == self_.id) {
    // Someone forgot us while we live: step above the eviction with a new version.
    if (!table_.merge(eviction)) return false;
    own_.version = std::max(own_.version, eviction.up_to_version);
    publish(wall_);
    return true;
  }
  if (!table_.merge(eviction)) return false;
  if (gossip_on) queue_broadcast(eviction);
  mark_dirty(now_);
  return true;
}

void LeaseCore::handle_update(TimePoint now, WallTime wall, ByteView bytes) {
  now_ = now;
  wall_ = wall;
  proto::LeaseUpdate update;
  if (bytes.size() > config_.max_update_bytes ||
      !update.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    rejected_++;
    return;
  }
  if (update.has_record()) {
    auto record = from_proto(update.record(), config_.limits);
    if (!record) {
      rejected_++;
      return;
    }
    merge_record(*record, wall, /*gossip_on=*/true);
  } else if (update.has_eviction()) {
    auto eviction = from_proto(update.eviction());
    if (!eviction) {
      rejected_++;
      return;
    }
    merge_eviction(*eviction, true);
  } else {
    rejected_++;
  }
}

void LeaseCore::queue_broadcast(const NodeRecord& record) {
  proto::LeaseUpdate update;
  lease::to_proto(record, *update.mutable_record());
  broadcasts_.push_back({record.id, serialize(update)});
}

void LeaseCore::queue_broadcast(const Eviction& eviction) {
  proto::LeaseUpdate update;
  to_proto(eviction, *update.mutable_eviction());
  broadcasts_.push_back({eviction.id, serialize(update)});
}

void LeaseCore::mark_dirty(TimePoint now, Cause cause) {
  if (!dirty_) recompute_at_ = now + config_.recompute_delay;
  dirty_ = true;
  if (cause == Cause::kEntryChanged) {
    busy_until_ = now + config_.sync_busy_hold;
    next_sync_ = std::min(next_sync_, now + config_.sync_interval_busy);
  }
}

// --- anti-entropy ----------------------------------------------------------------------

Bytes LeaseCore::sync_open() const {
  proto::LeaseSync sync;
  sync.set_has_hash(true);
  sync.set_table_hash(table_.hash());
  sync.set_reads_buckets(true);
  return serialize(sync);
}

namespace {

void add_digest(const Table& table, const Table::Buckets& covered, proto::LeaseSync& out) {
  out.set_has_digest(true);
  if (!covered.all()) out.set_digest_buckets(covered.to_ullong());
  for (const auto& [id, version] : table.digest(covered)) {
    auto* d = out.add_digest();
    d->set_node(std::string(as_chars(id.view())));
    d->set_version(version);
  }
}

}  // namespace

std::optional<Bytes> LeaseCore::sync_step(TimePoint now, WallTime wall, ByteView state,
                                          uint32_t round) {
  now_ = now;
  wall_ = wall;
  proto::LeaseSync in;
  if (!in.ParseFromArray(state.data(), static_cast<int>(state.size()))) {
    rejected_++;
    return std::nullopt;
  }
  // What a sync brings is gossiped on, like memberlist does, except during our very first
  // sync: a newcomer re-gossiping the whole table it was just sent would be old news to
  // everyone (N newcomers, N^2 messages). After a partition heals, this is what carries each
  // side's records across quickly.
  const bool gossip_on = synced_;
  for (const auto& r : in.records()) {
    if (auto record = from_proto(r, config_.limits)) {
      merge_record(*record, wall_, gossip_on);
    } else {
      rejected_++;
    }
  }
  for (const auto& e : in.evictions()) {
    if (auto eviction = from_proto(e)) merge_eviction(*eviction, gossip_on);
  }
  const bool equal = in.has_hash() && in.table_hash() == table_.hash();
  // Equal hashes count as a sync on both sides: the member answering the opener of a
  // cluster's first exchanges (a seed) would otherwise wait out initial_sync_wait.
  if (!synced_ && (in.records_size() > 0 || in.evictions_size() > 0 || equal)) {
    synced_ = true;
    synced_at_ = now_;
  }

  proto::LeaseSync out;
  if (in.has_hash()) {
    if (equal) {
      if (round >= 1) return std::nullopt;  // the peer confirmed: nothing to do
      out.set_has_hash(true);               // tell the opener we agree
      out.set_table_hash(table_.hash());
      return serialize(out);
    }
    // We differ: say what we hold, bucket by bucket first if the table is large.
    if (in.reads_buckets() && table_.records().size() >= config_.bucket_sync_from) {
      for (uint64_t h : table_.bucket_hashes()) out.add_bucket_hashes(h);
    } else {
      add_digest(table_, Table::all_buckets(), out);
    }
    return serialize(out);
  }
  if (in.bucket_hashes_size() > 0) {
    if (static_cast<size_t>(in.bucket_hashes_size()) != Table::kBuckets) {
      rejected_++;
      return std::nullopt;
    }
    Table::Buckets differ;
    for (size_t b = 0; b < Table::kBuckets; ++b)
      differ[b] = in.bucket_hashes(static_cast<int>(b)) != table_.bucket_hashes()[b];
    if (differ.none()) return std::nullopt;  // we converged while the hashes were on their way
    add_digest(table_, differ, out);
    out.set_want_digest(true);
    return serialize(out);
  }
  if (in.has_digest()) {
    const Table::Buckets covered =
        in.digest_buckets() == 0 ? Table::all_buckets() : Table::Buckets(in.digest_buckets());
    Digest theirs;
    theirs.reserve(in.digest_size());
    for (const auto& d : in.digest())
      if (auto id = NodeId::from_bytes(as_bytes(d.node()))) theirs.emplace_back(*id, d.version());
    for (const NodeRecord* r : table_.newer_than(theirs, covered))
      lease::to_proto(*r, *out.add_records());
    for (const Eviction* e : table_.evictions_in(covered)) to_proto(*e, *out.add_evictions());
    // The first digest we answer (a full one in round 1, or one that asks): send ours of the
    // same buckets too, so the peer can send what we lack.
    if (round <= 1 || in.want_digest()) add_digest(table_, covered, out);
    if (out.records_size() == 0 && out.evictions_size() == 0 && !out.has_digest())
      return std::nullopt;
    return serialize(out);
  }
  return std::nullopt;
}

// --- time ------------------------------------------------------------------------------

void LeaseCore::recompute(WallTime wall) {
  dirty_ = false;
  pick_stale_ = true;
  owners_ = table_.owners(wall);
  owners_hash_ = hash_of(owners_);
  // The peers are updated in place. Rebuilding the map copied every peer's backend data
  // each time, O(hosts) allocations at every host per recompute (a third of recompute's
  // time in the simulator at 600 hosts), where most recomputes change a peer or two.
  // A peer's subnet is its first in address order. Events go out as before: removals first
  // (a subnet that moved is withdrawn before it is routed to its new owner), then additions
  // and changes, each in node order.
  const uint64_t pass = ++recompute_pass_;
  size_t changed = 0;
  for (const auto& [subnet, node] : owners_) {
    if (node == self_.id) continue;
    auto [it, fresh] = peers_.try_emplace(node);
    Peer& peer = it->second;
    if (peer.pass == pass) continue;
    peer.pass = pass;
    const NodeRecord* r = table_.find(node);
    if (!fresh && peer.view.subnet == subnet && peer.view.underlay == r->underlay &&
        peer.view.backend_data == r->backend_data)
      continue;
    peer.change = fresh ? Peer::Change::kAdded : Peer::Change::kChanged;
    ++changed;
    peer.view = PeerView{subnet, r->underlay, r->backend_data};
  }
  for (auto it = peers_.begin(); it != peers_.end();) {
    if (it->second.pass == pass) {
      ++it;
      continue;
    }
    const PeerView& gone = it->second.view;
    events_.push_back({LeaseEvent::Kind::kPeerRemoved, it->first, gone.subnet, gone.underlay, {}});
    it = peers_.erase(it);
  }
  for (auto it = peers_.begin(); changed > 0 && it != peers_.end(); ++it) {
    auto& [node, peer] = *it;
    if (peer.change == Peer::Change::kNone) continue;
    --changed;
    const auto kind = peer.change == Peer::Change::kAdded ? LeaseEvent::Kind::kPeerAdded
                                                          : LeaseEvent::Kind::kPeerChanged;
    events_.push_back({kind, node, peer.view.subnet, peer.view.underlay, peer.view.backend_data});
    peer.change = Peer::Change::kNone;
  }
}

void LeaseCore::allocate(TimePoint now, WallTime wall) {
  if (released_ || config_.planted_never_claim) return;  // the plant: LeaseConfig, tests only
  if (resumed_ && !ready_ && awaiting_durability_.empty()) {
    if (auto claim = claimed_subnet()) {
      auto owner = owners_.find(*claim);
      if (owner != owners_.end() && owner->second == self_.id &&
          config_.network.in_pool(*claim, self_.site)) {
        resumed_ = false;
        claimed_since_ = now;
        ready_ = *claim;
        events_.push_back(
            {LeaseEvent::Kind::kSubnetReady, self_.id, *claim, self_.underlay, self_.backend_data});
        return;
      }
    }
  }
  if (!synced_ && now >= started_ + config_.initial_sync_wait) {
    synced_ = true;  // nobody answered: we may be the first; go ahead with what we know
    synced_at_ = started_ + config_.initial_sync_wait;
  }
  if (!synced_ && now < started_ + config_.initial_sync_wait) return;  // learn the table first
  if (own_.claims.empty() && now < synced_at_ + allocation_delay_) return;
  if (!awaiting_durability_.empty()) return;  // our latest claim is not even announced yet

  if (auto claim = claimed_subnet()) {
    pool_exhausted_ = false;
    auto owner = owners_.find(*claim);
    const bool in_pool = config_.network.in_pool(*claim, self_.site);
    if (owner != owners_.end() && owner->second == self_.id && in_pool) {
      if (claimed_since_ == kTimeNever) claimed_since_ = now;
      if (!ready_ && now >= claimed_since_ + config_.settle) {
        ready_ = *claim;
        events_.push_back(
            {LeaseEvent::Kind::kSubnetReady, self_.id, *claim, self_.underlay, self_.backend_data});
      }
      return;
    }
    if (owner == owners_.end() && in_pool) return;           // our record is not valid yet: wait
    if (config_.planted_keep_lost_subnet && ready_) return;  // LeaseConfig: tests only
    // Lost it to an earlier claim (or it left our pool): drop it and claim another.
    reallocations_++;
    if (ready_) {
      events_.push_back({LeaseEvent::Kind::kSubnetLost, self_.id, *ready_, self_.underlay, {}});
      ready_.reset();
    }
    own_.claims.clear();
  }
  // Made for each pick and dropped: the pool of a /10 cut into /24s is 16,384 subnets,
  // 290 KB a host kept for the rare moment it picks (37 % of the simulator's memory at 300
  // hosts), while a pick already walks every claim in the table.
  if (pool_exhausted_ && !pick_stale_ && now < pick_retry_at_) return;  // nothing new to try
  const std::vector<Cidr> pool = config_.network.candidates(self_.site);
  std::vector<NodeId> unclaimed;
  for (const NodeId& id : members_) {
    const NodeRecord* r = table_.find(id);
    if (!r || r->claims.empty() || !table_.valid(*r, wall)) unclaimed.push_back(id);
  }
  auto subnet = pick_subnet(self_.id, pool, table_, wall, unclaimed);
  pool_exhausted_ = !subnet;
  pick_stale_ = false;
  pick_retry_at_ = now + std::chrono::seconds(1);
  if (!subnet) return;  // the pool is full; a change, or a second, tries again
  own_.claims = {Claim{*subnet, hlc_.now(wall)}};
  own_.released = false;  // a node that left once and came back claims afresh
  claimed_since_ = now;
  publish(wall);
}

void LeaseCore::handle_timeout(TimePoint now, WallTime wall) {
  now_ = now;
  wall_ = wall;
  if (now >= next_housekeeping_) {
    next_housekeeping_ = now + config_.housekeeping;
    if (!released_ && !own_.claims.empty() && wall >= own_.renewed_at + config_.renew_after)
      publish(wall);  // renew long before the TTL runs out
    table_.collect_garbage(wall, config_.gc_grace);
    mark_dirty(now, Cause::kTimePassed);  // expiry changes owners as time passes
  }
  if (now >= next_sync_) {
    next_sync_ = now + (now < busy_until_ ? config_.sync_interval_busy : config_.sync_interval);
    sync_requested_ = true;
  }
  if (dirty_ && now >= recompute_at_) recompute(wall);
  allocate(now, wall);
}

bool LeaseCore::take_sync_request() { return std::exchange(sync_requested_, false); }

Bytes LeaseCore::digest() const {
  Bytes out(8);
  const uint64_t hash = table_.content_hash();
  put_le64(out.data(), hash);
  return out;
}

bool LeaseCore::wants_sync_after(TimePoint now, ByteView digest) {
  const Bytes ours = this->digest();
  if (std::equal(digest.begin(), digest.end(), ours.begin(), ours.end())) return false;
  if (now < next_digest_sync_) return false;
  next_digest_sync_ = now + config_.sync_interval_busy;
  digest_syncs_++;
  return true;
}

TimePoint LeaseCore::next_timeout() const {
  // Only instants still ahead count: a deadline that passed while we wait on something
  // else (a sync, durability, a recompute) must not make the driver spin.
  TimePoint t = std::min(next_housekeeping_, next_sync_);
  auto consider = [&](TimePoint candidate) {
    if (candidate > now_) t = std::min(t, candidate);
  };
  if (dirty_) t = std::min(t, std::max(recompute_at_, now_));
  if (!released_) {
    if (!synced_) consider(started_ + config_.initial_sync_wait);
    if (own_.claims.empty())
      consider((synced_ ? synced_at_ : started_ + config_.initial_sync_wait) + allocation_delay_);
    if (claimed_since_ != kTimeNever && !ready_) consider(claimed_since_ + config_.settle);
  }
  return t;
}

std::optional<NodeRecord> LeaseCore::poll_persist() { return take_front(to_persist_); }

std::optional<LeaseCore::Broadcast> LeaseCore::poll_broadcast() { return take_front(broadcasts_); }

std::optional<LeaseEvent> LeaseCore::poll_event() { return take_front(events_); }

}  // namespace shoal::lease
