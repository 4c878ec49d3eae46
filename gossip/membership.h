// Membership is one member's view of the cluster: SWIM failure detection with Lifeguard's
// refinements, infection-style dissemination, and push-pull anti-entropy.
//
// It is a sans-IO state machine (the quinn-proto shape). It never opens a socket, reads a
// clock, sleeps or starts a thread: the driver (the agent, or the simulator in chaos/)
// hands it packets, stream messages and the time, and carries out what it asks for:
//
//   handle_packet / handle_stream / handle_timeout   <- input
//   poll_transmit / poll_event                       -> output
//   next_timeout                                     -> when to call handle_timeout again
//
// Promises: input bytes are untrusted and never make it throw or misbehave (they are
// dropped and counted in stats()); the same inputs and seed give the same outputs.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/bytes.h"
#include "common/endpoint.h"
#include "common/flat_map.h"
#include "common/node_id.h"
#include "common/rng.h"
#include "common/time.h"
#include "gossip/awareness.h"
#include "gossip/broadcast_queue.h"
#include "gossip/config.h"
#include "gossip/delegate.h"
#include "gossip/event.h"
#include "gossip/member.h"
#include "gossip/reflexive.h"
#include "gossip/stats.h"
#include "gossip/suspicion.h"
#include "gossip/transmit.h"

namespace shoal::proto {
class Ack;
class Envelope;
class Alive;
class Suspect;
class Dead;
class Ping;
class PushPull;
class Update;
}  // namespace shoal::proto

namespace shoal::gossip {

struct LocalNode {
  NodeId id;
  std::string name;
  Endpoint address;  // where the others reach us (datagrams and streams)
  Bytes meta;
  uint64_t incarnation = 0;  // a restarted member may start above what it used before
  // A port forward to us, advertised as a candidate (Config key PublicAddress).
  std::optional<Endpoint> public_address = std::nullopt;
  bool relay_allowed = true;  // false: never relay for others (Config key Relay)
};

class Membership {
 public:
  // `config` must validate(); `seed` seeds the core's randomness (probe order, fanout).
  Membership(Config config, LocalNode self, uint64_t seed, TimePoint now);
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // --- input ---
  void handle_packet(TimePoint now, const Endpoint& from, ByteView packet);
  void handle_stream(TimePoint now, const Endpoint& from, StreamId stream, ByteView message);
  void handle_timeout(TimePoint now);

  // --- output ---
  std::optional<Transmit> poll_transmit();
  std::optional<Event> poll_event();
  TimePoint next_timeout() const;

  // --- commands ---
  // Push-pulls with each seed (join = true). Seeds are remembered: while we know no other
  // live member, we keep trying them every push-pull interval.
  void join(TimePoint now, std::vector<Endpoint> seeds);
  // Announces that we leave on purpose. We stop probing and keep answering; the driver
  // may stop us once leave_announced().
  void leave(TimePoint now);
  bool leave_announced() const { return leaving_ && leave_gossiped_; }
  void set_meta(TimePoint now, Bytes meta);
  // Gossips another module's update. A later update about the same node id replaces one
  // still queued; with no id, updates never replace each other.
  void broadcast_user(std::optional<NodeId> about, Bytes data);
  // Exchanges only the state delegate's state (no member lists) with one random live
  // member: cheap anti-entropy for the layer above, at whatever pace it needs.
  void sync_state(TimePoint now);
  // Not owned; may be null. Receives push-pull state (see delegate.h).
  void set_state_delegate(StateDelegate* delegate) { delegate_ = delegate; }

  // --- queries ---
  const NodeId& id() const { return self().id; }
  const Member& self() const { return entries_[0].member; }
  const Member* find(const NodeId& id) const;
  std::vector<Member> members() const;  // self included
  size_t size() const { return entries_.size(); }
  size_t count(MemberState state) const;
  int health_score() const { return awareness_.score(); }
  // Where the others see us from (server-reflexive address, NAT verdict).
  const ReflexiveTracker& reflexive() const { return reflexive_; }
  // The members `member` keeps its NAT mapping open to, which probe it through others:
  // up to Config::relays_per_member live relaying members, picked by rendezvous hashing so
  // that every member computes the same set and the load spreads evenly.
  std::vector<NodeId> relays_for(const NodeId& member) const;
  size_t pending_broadcasts() const { return broadcasts_.size() + user_broadcasts_.size(); }
  const Stats& stats() const { return stats_; }
  const Config& config() const { return config_; }
  // The wire version we write at now: the cluster version (the rule: gossip/wire.h).
  uint8_t wire_version() const;
  // For tests: whether what is kept beside the entries (the index by id, the counts by
  // state and by version, the held lists, the relay candidates) agrees with them. Empty
  // when it does, else the first disagreement. O(n).
  std::string audit() const;

 private:
  struct Entry {
    Member member;
    std::unique_ptr<Suspicion> suspicion;  // set while suspect
    TimePoint known_since;                 // when we first heard of it
    bool answered = false;  // it ever acked a probe of ours, directly or through a helper
    // While we hold it dead: no push-pull because it spoke to us before this (see
    // handle_envelope: a dead member that sends us a packet is alive somewhere).
    TimePoint revive_sync_after = kTimeZero;
    uint32_t held_slot = 0;  // its place in held_ while suspect or dead
  };
  struct Probe {
    NodeId target;
    uint32_t seq;
    TimePoint ack_deadline;  // then ask others
    TimePoint round_end;     // then suspect
    bool indirect_sent = false;
    // Lifeguard stretched this probe, so its pings are seconds old at the round's end: one
    // more direct ping before we accuse (see advance_probe).
    bool stretched = false;
    bool last_look_sent = false;
    // The target's incarnation when the probe started. Higher at the round's end: it refuted
    // or readvertised meanwhile, newer news than our silence (see advance_probe).
    uint64_t incarnation = 0;
    int expected_nacks = 0;
    int nacks = 0;
    // Who we asked to probe for us: only they may answer in the target's stead. (Sequence
    // numbers are small and every member counts its own, so an ack that matches one by
    // chance, say a punch sent to a LAN address that another site's member also holds, must
    // not pass for the answer.)
    std::vector<NodeId> helpers = {};
  };
  // A ping whose direct ack may still prove a path after liveness no longer waits on it: a
  // probe answered through a helper (the punched ack comes after), or a mapping refresh.
  struct PathCheck {
    NodeId target;
    TimePoint until;
  };
  struct Relay {  // an indirect probe we run for someone else
    uint32_t origin_seq;
    Endpoint origin;
    bool want_nack;
    TimePoint deadline;
    NodeId target;  // only its ack is passed on
  };

  // membership.cc: dispatch and plumbing.
  void handle_envelope(TimePoint now, const Endpoint& from, const proto::Envelope& envelope,
                       std::optional<StreamId> stream);
  void handle_updates(TimePoint now, const proto::Envelope& envelope);
  void count_drop(int reason);  // a wire.h DropReason
  // Keeps state_counts_ true: +1 when an entry enters `state`, -1 when it leaves it.
  void counted(MemberState state, int delta);
  Entry* find_entry(const NodeId& id);
  // piggyback = false: no queued updates ride along (a datagram likely to go nowhere).
  void send_datagram(const Endpoint& to, proto::Envelope& envelope,
                     const std::vector<Bytes>& leading_updates = {}, bool piggyback = true);
  void send_stream(const Endpoint& to, std::optional<StreamId> stream, bool close,
                   proto::Envelope& envelope);
  void emit(Event::Kind kind, const Member& member, Bytes data = {});
  // Up to k distinct random members other than us and `exclude` that pass `eligible`.
  using Eligible = bool (*)(const Member&, TimePoint now, Duration dead_window);
  std::vector<const Entry*> random_members(size_t k, const NodeId& exclude, Eligible eligible,
                                           TimePoint now);
  // A random member we hold in `state` (kSuspect or kDead), other than `exclude`: O(1).
  const Entry* random_held(MemberState state, const NodeId& exclude);
  // Keeps held_ true when the entry at `pos` goes from state `from` to `to`.
  void track_held(size_t pos, MemberState from, MemberState to);

  // membership_state.cc: the SWIM state rules.
  void on_alive(TimePoint now, const proto::Alive& alive, bool bootstrap);
  void on_suspect(TimePoint now, const proto::Suspect& suspect);
  void on_dead(TimePoint now, const proto::Dead& dead);
  void answer_accusation(TimePoint now, uint64_t accused_incarnation);
  void refute(TimePoint now, uint64_t accused_incarnation);
  void expire_suspicions(TimePoint now);
  void queue_update(const NodeId& about, const proto::Update& update);
  proto::Update alive_update(const Member& m) const;
  proto::Update suspect_update(const Member& m, const NodeId& from) const;
  proto::Update dead_update(const Member& m, const NodeId& from) const;
  void set_state(TimePoint now, Entry& e, MemberState state);
  // Keeps live_by_max_version_ true: +1 when another member becomes alive or suspect (or
  // reads a new range while it is), -1 when it stops.
  void count_live_version(const Member& m, int delta);
  void remove_suspicion(Entry& e);

  // membership_probe.cc: the failure detector.
  void start_probe(TimePoint now);
  void advance_probe(TimePoint now);
  void on_ping(TimePoint now, const Endpoint& from, const proto::Envelope& envelope,
               std::optional<StreamId> stream);
  void check_hint(TimePoint now, Entry& sender, const Endpoint& from);
  // A question a ping asks (Ping.doubts): is this member still at this incarnation?
  struct Doubt {
    NodeId node;
    uint64_t incarnation;
  };
  std::vector<Doubt> doubts(const NodeId& target);
  std::vector<Bytes> answer_doubts(const proto::Ping& ping);
  void on_indirect_ping(TimePoint now, const Endpoint& from, const proto::Envelope& envelope);
  void on_ack(TimePoint now, const Endpoint& from, const proto::Envelope& envelope,
              bool via_stream);
  void on_nack(const proto::Envelope& envelope);
  void expire_relays(TimePoint now);
  Entry* suspicion_to_recheck(TimePoint now);
  void remind_suspects(TimePoint now);
  // Asks a relay of `e`, a member behind NAT that we hold suspect or dead, to ping it with
  // our accusation, so it refutes if alive. False when no relay of it is in reach.
  bool accuse_through_relay(TimePoint now, const Entry& e);
  void ask_doubts(TimePoint now);
  // Whether a member has been suspect to us for two probe intervals or more.
  bool holds_old_suspicion(TimePoint now) const;
  const Entry* next_probe_target(TimePoint now);
  void reap_and_reshuffle(TimePoint now);

  // membership_paths.cc: reaching members across NATs.
  void ping_paths(Entry& target, uint32_t seq, std::vector<Bytes> leading = {},
                  const std::vector<Doubt>& doubts = {});
  // An ack with `seq` from `target` may still prove a path for a probe interval (bounded).
  void expect_path_check(uint32_t seq, const NodeId& target, TimePoint now);
  // A ping outside the probe rounds (a punch, a keepalive, a reminder, doubts): a fresh seq
  // whose ack may prove a path, and no probe waits on it.
  void ping_outside_probe(TimePoint now, Entry& target, std::vector<Bytes> leading = {},
                          const std::vector<Doubt>& doubts = {});
  void prove_path(TimePoint now, Entry& e, const Endpoint& from, const proto::Ack& ack);
  void refresh_mappings(TimePoint now);
  // One more ping to every endpoint of a member whose probe only a helper answered.
  void follow_up_punch(TimePoint now, Entry& target);
  // Pings our relays within a probe interval, when we are behind NAT (a remap is likely).
  void refresh_soon(TimePoint now);
  bool anchors_exist() const;  // seeds or relays: whose word makes us public
  void readvertise_self(TimePoint now);
  std::vector<const Entry*> helpers_for(TimePoint now, const Member& target);
  // Alive and MemberState carry the same NAT fields.
  template <typename Message>
  static void write_nat_fields(const Member& m, Message& out);
  static void read_nat_fields(const proto::Alive& in, Member& m);

  // membership_sync.cc: dissemination and anti-entropy.
  void sync_state_with(const Endpoint& peer);
  void gossip(TimePoint now);
  void push_pull(TimePoint now, const Endpoint& to, bool join);
  void write_local_members(TimePoint now, proto::PushPull& state) const;
  void on_push_pull(TimePoint now, const Endpoint& from, const proto::Envelope& envelope,
                    std::optional<StreamId> stream);
  void merge_remote_members(TimePoint now, const NodeId& sender, const proto::PushPull& state);
  void periodic_push_pull(TimePoint now);
  void reconnect(TimePoint now);
  // Why a member is alive to us again (note_revival): it joined, it came back from the dead
  // or from a suspicion shared by many members or at a new address (a heal), or it refuted
  // a suspicion few others shared (loss: not the start of a heal).
  enum class Revival { kJoin, kReturn, kLoneSuspicion };
  // A member we held dead or suspect is alive again, or one we had never heard of is.
  // Several in a burst mean a partition healed or a cluster is starting: a push-pull with a
  // random member each half probe interval while they keep coming, and one more once they
  // stopped (see membership_sync.cc).
  void note_revival(TimePoint now, Revival why);
  // Whether a suspect refuting now was one of few members held suspect together.
  bool suspicion_is_lone() const;
  void heal_sync(TimePoint now);

  Config config_;
  Rng rng_;
  Awareness awareness_;
  // Membership updates go first, the layer above's (leases) fill what room is left, as in
  // memberlist: a burst of lease records must not delay the news of who joined or died.
  BroadcastQueue broadcasts_;
  BroadcastQueue user_broadcasts_;
  StateDelegate* delegate_ = nullptr;

  std::vector<Entry> entries_;            // entries_[0] is ourselves, always
  std::array<size_t, 4> state_counts_{};  // entries_ by MemberState: count() is O(1)
  FlatMap<NodeId, uint32_t> index_;       // position in entries_, by id
  // Positions in entries_ of the members held suspect ([0]) and dead ([1]). doubts() and
  // reconnect() pick one at random each probe interval; random draws over all entries cost
  // up to 3n when few are (11 % of gossip_sim's time at 2,000 members, with one dead).
  std::array<std::vector<uint32_t>, 2> held_;
  // relays_for()'s candidates: the entries that advertise relaying, alive or not, with
  // their id's hash half of the rendezvous weight. Ranking them reads this array where
  // walking entries_ read cache lines of every entry (11 % of gossip_sim's time at 2,000
  // members under 25 % loss, from the helpers of indirect probes). Built again lazily after
  // an entry is added or reaped or its relay flag changes (relay_candidates_stale_).
  struct RelayCandidate {
    uint64_t mixed_id;
    uint32_t pos;  // in entries_
  };
  mutable std::vector<RelayCandidate> relay_candidates_;
  mutable bool relay_candidates_stale_ = true;
  std::vector<NodeId> probe_order_;
  size_t probe_pos_ = 0;

  uint32_t next_seq_ = 0;
  std::optional<Probe> probe_;
  std::map<uint32_t, Relay> relays_;
  std::set<std::pair<TimePoint, uint32_t>> relay_deadlines_;
  std::set<std::pair<TimePoint, NodeId>> suspicion_deadlines_;

  ReflexiveTracker reflexive_;
  std::map<uint32_t, PathCheck> path_checks_;  // by seq; bounded (membership_paths.cc)
  std::optional<Endpoint> public_address_;
  bool relay_allowed_ = true;

  TimePoint next_probe_, next_gossip_, next_push_pull_, next_reconnect_, next_refresh_;
  TimePoint next_doubts_ = kTimeZero;    // ask_doubts(): each probe interval, unscaled
  TimePoint heal_sync_at_ = kTimeNever;  // note_revival's push-pull, when one is due
  TimePoint last_revival_ = kTimeNever;
  size_t revivals_ = 0;  // in the current burst
  size_t heal_syncs_in_burst_ = 0;
  bool revived_since_heal_sync_ = false;
  bool joins_in_burst_ = false;
  TimePoint last_refresh_;
  // When a datagram last came unasked (not an ack or nack) from outside our NAT, from a
  // member that sees us at another address than ours (behind a symmetric NAT, from one of
  // own_relays_ only): behind NAT, a silence from outside means our router may have
  // forgotten our mapping.
  TimePoint last_outside_in_ = kTimeNever;
  // relays_for(id()) at our last mapping refresh: the members our keepalives go to.
  std::vector<NodeId> own_relays_;
  std::vector<Endpoint> seeds_;
  bool leaving_ = false;
  bool leave_gossiped_ = false;

  // The other members alive or suspect, by the highest wire version each reads: the lowest
  // present is what wire_version() writes. Walking entries_ for it instead, after every
  // change of state, cost 17 % of gossip_sim's time at 2,000 members under 25 % loss, where
  // states change all the time.
  std::array<uint32_t, 256> live_by_max_version_{};
  // wire_version(), computed again only after live_by_max_version_ changed.
  mutable uint8_t wire_version_ = 0;
  mutable bool wire_version_stale_ = true;

  std::deque<Transmit> transmits_;
  std::deque<Event> events_;
  Stats stats_;
};

}  // namespace shoal::gossip
