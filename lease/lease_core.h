// LeaseCore is one node's side of the lease table: it holds the node's copy of the table,
// claims a subnet for the node, keeps it (renewal), gives it up (release), and tells the
// layer above what changed. Sans-IO like the gossip core; it rides on gossip:
//
//   gossip user messages  -> handle_update()     poll_broadcast() -> Membership::broadcast_user
//   gossip push-pull      -> sync_open() / sync_step() (hash, then digest, then only what
//                            differs), wired to gossip::StateDelegate by the driver
//   the store             <- poll_persist()      persisted(version) once it is on disk
//
// Promises: our own record is never announced (broadcast or synced) before the driver said
// it is durable, so a crash cannot make us forget a claim that others have seen; our own
// version never goes backwards, even after a restore from an old database (we adopt and
// overtake any higher version of ours that peers hold); a claim of ours that expired (we
// were down longer than the TTL) is never revived, from our store or from a peer's copy: we
// claim afresh, so a live newcomer that took the subnet meanwhile keeps it; untrusted bytes
// never throw. docs/leases.md tells how these rules play out case by case (restarts,
// expiry, a partition longer than the TTL).
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "common/hlc.h"
#include "common/node_id.h"
#include "common/time.h"
#include "lease/network_config.h"
#include "lease/node_record.h"
#include "lease/table.h"

namespace shoal::lease {

struct LeaseConfig {
  NetworkConfig network;
  std::chrono::milliseconds ttl = std::chrono::hours(24);  // like flannel's leases
  std::chrono::milliseconds renew_after = std::chrono::hours(12);
  Duration settle = 2s;             // a new claim must stand this long before it is ready
  Duration initial_sync_wait = 3s;  // without any sync by then, allocate anyway
  // After syncing, wait a delay in [0, allocation_spread) fixed by the node id before
  // picking: hosts started together then claim one after another and see each other's
  // claims, instead of all picking blind at the same instant.
  Duration allocation_spread = 1s;
  Duration recompute_delay = 100ms;  // batch table changes before recomputing owners
  Duration housekeeping = 10s;       // renewal, expiry and garbage collection checks
  // Lease-only anti-entropy exchanges with a random member. Every probe ack carries the
  // table's content hash (digest()), and a differing hash starts an exchange with that
  // member at once (at most one per sync_interval_busy), so agreeing tables cost nothing but
  // 10 bytes an ack; this slow timer is the backstop, and what spreads a renewal that gossip
  // missed (renewals leave the content hash as it is). While our table keeps changing we sync every
  // sync_interval_busy: when many hosts claim at once, gossip's piggyback budget is the
  // bottleneck (every record is re-sent about mult*log(n) times by every host), and
  // pairwise deltas spread the table in log(n) rounds.
  Duration sync_interval = 30s;
  Duration sync_interval_busy = 250ms;
  // ... and for this long after the last change: the last records of a burst are the ones
  // a few members still miss, and the busy pace is what fetches them.
  Duration sync_busy_hold = 2s;
  std::chrono::milliseconds gc_grace = std::chrono::hours(24);
  RecordLimits limits;
  size_t max_update_bytes = 4096;
  // From this many records on, a sync compares bucket hashes before digests (lease/table.h),
  // so that it costs O(buckets + what differs) instead of O(table). Below, one full digest
  // is smaller than the extra round trip.
  size_t bucket_sync_from = 64;
  // A planted bug, for the chaos harness to show that its overlap check fails when it
  // should: a host that loses its subnet to an earlier claim keeps routing it. Never set
  // outside tests (the agent has no way to).
  bool planted_keep_lost_subnet = false;
  // Another, for its owners_agree check: no host ever claims a subnet, though the pool has
  // room. The owner maps agree (all empty) and the members too; only the check's rule that
  // a host waits without a subnet only while the pool is full can catch it.
  bool planted_never_claim = false;
};

struct LocalLease {
  NodeId id;
  std::string name;
  IpAddress underlay;
  std::string site;
  Bytes backend_data;
};

// What the store held at start.
struct StoredLeases {
  std::optional<NodeRecord> own;
  std::vector<NodeRecord> records;
  std::vector<Eviction> evictions;
};

struct LeaseEvent {
  enum class Kind : uint8_t {
    kSubnetReady,  // our claim settled: write subnet.env
    kSubnetLost,   // another node won our subnet; a new claim follows
    kPeerAdded,    // a peer owns a subnet now
    kPeerChanged,  // its subnet, underlay or backend data changed
    kPeerRemoved,  // it no longer owns one (released, evicted, expired, lost)
  };
  Kind kind;
  NodeId node;
  Cidr subnet;
  IpAddress underlay;
  Bytes backend_data;
};

class LeaseCore {
 public:
  LeaseCore(LeaseConfig config, LocalLease self, StoredLeases stored, TimePoint now, WallTime wall);

  // --- input ---
  void handle_update(TimePoint now, WallTime wall, ByteView bytes);
  void handle_timeout(TimePoint now, WallTime wall);
  // The store made our own record durable up to `version`.
  void persisted(uint64_t version);
  // Gives our subnet up at once (shoal leave).
  void release(TimePoint now, WallTime wall);
  // Voids `node`'s records up to the version we hold (shoal forget NODE).
  bool evict(const NodeId& node, WallTime wall);
  // Membership as gossip sees it: `up` for a member that is alive or suspect, `down` once
  // it is dead or left. Used only to keep out of the way of members that have not claimed
  // yet (see lease/allocator.h); ownership never depends on liveness.
  void member_up(const NodeId& id);
  void member_down(const NodeId& id);

  // --- anti-entropy, carried by gossip's push-pull ---
  // The opening message of a sync we start.
  Bytes sync_open() const;
  // Merges what the peer sent in round `round` and returns our answer, or nullopt when the
  // exchange is complete. Converged peers stop after two table hashes.
  std::optional<Bytes> sync_step(TimePoint now, WallTime wall, ByteView message, uint32_t round);

  // --- output ---
  std::optional<NodeRecord> poll_persist();
  struct Broadcast {
    NodeId about;
    Bytes update;  // an encoded proto::LeaseUpdate
  };
  std::optional<Broadcast> poll_broadcast();
  std::optional<LeaseEvent> poll_event();
  // True once per sync_interval: the driver should start a sync (Membership::sync_state).
  bool take_sync_request();
  // The table's content hash (Table::content_hash(): renewals leave it as it is), as probe
  // acks carry it (8 bytes, little-endian).
  Bytes digest() const;
  // A peer acked with `digest`: true when it differs from ours and no digest-triggered
  // sync started in the last sync_interval_busy (the driver then syncs with that peer).
  bool wants_sync_after(TimePoint now, ByteView digest);
  uint64_t digest_syncs() const { return digest_syncs_; }
  TimePoint next_timeout() const;

  // --- queries ---
  std::optional<Cidr> ready_subnet() const { return ready_; }
  std::optional<Cidr> claimed_subnet() const;
  const NodeRecord& own() const { return own_; }
  const Table& table() const { return table_; }
  const Owners& owners() const { return owners_; }
  // Order-independent hash of owners(): equal maps give equal hashes, different ones (almost
  // surely) different hashes. Unlike table().hash() it ignores renewals, so two hosts that
  // route alike compare equal in O(1) while a renewal is still spreading.
  uint64_t owners_hash() const { return owners_hash_; }
  uint64_t reallocations() const { return reallocations_; }
  // True while we hold no claim because every subnet of our pool is validly held by others
  // (or our site's pool is empty); we claim as soon as one frees up.
  bool pool_exhausted() const { return pool_exhausted_; }
  uint64_t rejected_updates() const { return rejected_; }

 private:
  struct PeerView {
    Cidr subnet;
    IpAddress underlay;
    Bytes backend_data;
  };
  // A peer as recompute() last saw it, updated in place: which pass last found it among the
  // owners, and what that pass has to report about it.
  struct Peer {
    PeerView view;
    uint64_t pass = 0;
    enum class Change : uint8_t { kNone, kAdded, kChanged } change = Change::kNone;
  };

  void publish(WallTime wall);
  bool merge_record(const NodeRecord& record, WallTime wall, bool gossip_on);
  bool merge_eviction(const Eviction& eviction, bool gossip_on);
  void adopt_own_from_peer(const NodeRecord& record, WallTime wall);
  void recompute(WallTime wall);
  void allocate(TimePoint now, WallTime wall);
  void queue_broadcast(const NodeRecord& record);
  void queue_broadcast(const Eviction& eviction);
  // Why the owners must be recomputed: an entry changed (so the table is busy, and the
  // next sync comes sooner), or only time passed (expiry). A record that only renews one
  // that counts needs neither: see merge_record.
  enum class Cause : uint8_t { kEntryChanged, kTimePassed };
  void mark_dirty(TimePoint now, Cause cause = Cause::kEntryChanged);
  // True when `after` only renews `before`, a record that still counts.
  bool only_renews(const NodeRecord* before, const NodeRecord& after, WallTime wall) const;

  LeaseConfig config_;
  LocalLease self_;
  Table table_;
  Hlc hlc_;
  NodeRecord own_;
  uint64_t durable_version_ = 0;
  std::deque<NodeRecord> to_persist_;
  std::deque<NodeRecord> awaiting_durability_;

  TimePoint started_;
  Duration allocation_delay_;
  bool pool_exhausted_ = false;
  // With the pool full, a pick is tried again once something it reads moved (the table, by a
  // recompute; the members), and at most once a second besides, for leases that expire as
  // time passes. Trying at every timeout scanned the pool for every member without a subnet,
  // at every tick: 94 % of a 200-host full-pool simulation.
  bool pick_stale_ = true;
  TimePoint pick_retry_at_;
  bool resumed_ = false;  // restarted holding an unexpired claim: ready without settling
  TimePoint now_;         // the latest time we were given, for callbacks that carry none
  WallTime wall_;
  bool synced_ = false;
  TimePoint synced_at_;
  bool released_ = false;
  TimePoint claimed_since_ = kTimeNever;
  std::optional<Cidr> ready_;
  bool dirty_ = true;
  TimePoint recompute_at_;
  TimePoint next_housekeeping_;
  TimePoint next_sync_;
  TimePoint next_digest_sync_;  // no digest-triggered sync before then
  bool sync_requested_ = false;
  uint64_t digest_syncs_ = 0;
  TimePoint busy_until_;  // sync every sync_interval_busy until then
  Owners owners_;
  uint64_t owners_hash_ = 0;
  std::set<NodeId> members_;
  std::map<NodeId, Peer> peers_;
  uint64_t recompute_pass_ = 0;
  uint64_t reallocations_ = 0;
  uint64_t rejected_ = 0;

  std::deque<Broadcast> broadcasts_;
  std::deque<LeaseEvent> events_;
};

}  // namespace shoal::lease
