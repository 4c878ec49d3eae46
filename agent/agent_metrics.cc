#include "agent/agent_metrics.h"

#include <algorithm>
#include <array>

#include "common/path_kind.h"

namespace shoal::agent {
namespace {

// Counters only grow; the sources already hold the totals, so add what is new.
void catch_up(Counter& counter, uint64_t total) {
  if (total > counter.value()) counter.inc(total - counter.value());
}

}  // namespace

AgentMetrics::AgentMetrics(const gossip::Membership& core, const lease::LeaseCore& lease,
                           const TransportCounters& transport, const AgentDatapath* datapath)
    : core_(core), lease_(lease), transport_(transport), datapath_(datapath) {
  for (auto state : {gossip::MemberState::kAlive, gossip::MemberState::kSuspect,
                     gossip::MemberState::kDead, gossip::MemberState::kLeft}) {
    metrics_.gauge_fn("shoal_members", "Members by state, as this agent sees them.",
                      {{"state", std::string(gossip::to_string(state))}},
                      [this, state] { return double(core_.count(state)); });
  }
  metrics_.gauge_fn("shoal_leases", "Subnets with a valid owner in the lease table.", {},
                    [this] { return double(lease_.owners().size()); });
  metrics_.gauge_fn("shoal_subnet_ready", "1 once this host's subnet has settled.", {},
                    [this] { return lease_.ready_subnet() ? 1.0 : 0.0; });
  metrics_.gauge_fn("shoal_subnet_pool_exhausted",
                    "1 while this host holds no subnet because every subnet of its pool is held.",
                    {}, [this] { return lease_.pool_exhausted() ? 1.0 : 0.0; });
  metrics_.gauge_fn("shoal_health_score", "Lifeguard's local health score (0 is healthy).", {},
                    [this] { return double(core_.health_score()); });
  for (auto kind : {gossip::PathKind::kUnknown, gossip::PathKind::kDirect,
                    gossip::PathKind::kPunched, gossip::PathKind::kRelayed}) {
    metrics_.gauge_fn("shoal_gossip_peers", "Live members by how gossip reaches them (NATs).",
                      {{"path", std::string(gossip::to_string(kind))}}, [this, kind] {
                        double n = 0;
                        for (const auto& m : core_.members())
                          n += m.id != core_.id() && m.state == gossip::MemberState::kAlive &&
                               gossip::path_kind(m.path, m.address) == kind;
                        return n;
                      });
  }
  if (datapath_ == nullptr) return;
  for (auto path : {node::Path::kHostGw, node::Path::kVxlan, node::Path::kUdp}) {
    metrics_.gauge_fn("shoal_datapath_peers", "Peer subnets routed, by path.",
                      {{"path", std::string(node::to_string(path))}},
                      [this, path] { return double(datapath_->plan().count(path)); });
  }
  for (int i = 0; i < node::kSkipReasonCount; ++i) {
    const auto reason = static_cast<node::SkipReason>(i);
    metrics_.gauge_fn(
        "shoal_datapath_peers_skipped", "Peer subnets not routed, by reason.",
        {{"reason", std::string(node::to_string(reason))}}, [this, reason] {
          const auto& skipped = datapath_->plan().skipped;
          return double(std::count_if(skipped.begin(), skipped.end(),
                                      [&](const auto& s) { return s.reason == reason; }));
        });
  }
  metrics_.gauge_fn("shoal_datapath_pod_mtu", "The MTU pods get (subnet.env's FLANNEL_MTU).", {},
                    [this] { return double(datapath_->pod_mtu()); });
}

void AgentMetrics::refresh() {
  const auto& s = core_.stats();
  auto c = [&](const char* name, const char* help, uint64_t total, MetricLabels labels = {}) {
    catch_up(metrics_.counter(name, help, std::move(labels)), total);
  };
  c("shoal_packets_in_total", "Gossip datagrams received.", transport_.datagrams_in);
  c("shoal_packets_out_total", "Gossip datagrams sent.", transport_.datagrams_out);
  const char* dropped_help = "Input refused, by reason, before or inside the gossip core.";
  for (size_t i = 1; i < transport_.dropped.size(); ++i)
    c("shoal_packets_dropped_total", dropped_help, transport_.dropped[i],
      {{"reason", std::string(to_string(static_cast<protocol::DropReason>(i)))}});
  c("shoal_packets_dropped_total", dropped_help, s.dropped_malformed, {{"reason", "malformed"}});
  c("shoal_packets_dropped_total", dropped_help, s.dropped_invalid, {{"reason", "invalid"}});
  c("shoal_packets_dropped_total", dropped_help, s.dropped_bad_version,
    {{"reason", "bad_wire_version"}});
  c("shoal_packets_dropped_total", dropped_help, s.dropped_oversized, {{"reason", "oversized"}});
  c("shoal_packets_dropped_total", dropped_help,
    s.dropped_empty + s.dropped_unknown + s.dropped_wrong_target + s.dropped_stray_ack,
    {{"reason", "unexpected"}});
  c("shoal_packets_newer_version_total",
    "Messages written at a wire version above ours, read best-effort (a rolling upgrade).",
    s.newer_version_in);
  c("shoal_streams_total", "Streams (TCP) accepted and opened.", transport_.streams_accepted,
    {{"direction", "in"}});
  c("shoal_streams_total", "Streams (TCP) accepted and opened.", transport_.streams_opened,
    {{"direction", "out"}});
  c("shoal_streams_refused_total",
    "Incoming streams closed at once: over the cap in total or from one address.",
    transport_.streams_refused);
  c("shoal_streams_shed_total",
    "Unauthenticated streams closed, greediest first, to keep their buffered bytes in budget.",
    transport_.streams_shed);
  c("shoal_accept_fd_exhausted_total",
    "Times accepting a stream failed because the process ran out of file descriptors.",
    transport_.accept_errors);
  c("shoal_probes_total", "Probes started.", s.probes);
  c("shoal_probes_failed_total", "Probes that got no ack, direct or indirect.", s.probes_failed);
  c("shoal_probes_rescued_by_stream_total", "Probes only the TCP fallback answered.",
    s.probes_rescued_by_stream);
  c("shoal_suspicions_total", "Members we started to suspect.", s.suspicions_started);
  c("shoal_refutations_total", "Times we refuted a suspicion of ourselves.", s.refutations);
  c("shoal_stale_accusations_total",
    "Accusations of us we had already refuted, answered by announcing our alive again.",
    s.stale_accusations);
  c("shoal_suspicion_rechecks_total", "Probes of a member still suspected at half its timeout.",
    s.suspicion_rechecks);
  c("shoal_probe_last_looks_total",
    "Stretched probes that pinged their target once more before accusing it.", s.probe_last_looks);
  c("shoal_probes_outrun_total",
    "Failed probes not turned into an accusation: the target refuted or readvertised while "
    "the probe waited.",
    s.probes_outrun);
  c("shoal_suspicion_reminders_total",
    "Accusations sent again to a member still suspected at half the minimum timeout.",
    s.suspicion_reminders);
  c("shoal_accusations_through_relays_total",
    "Relays asked to tell a member behind NAT, which we have no path to, that we hold it "
    "suspect or dead, so that it refutes.",
    s.accusations_through_relays);
  c("shoal_doubts_answered_total",
    "Questions about a member we know alive at a newer incarnation, answered in our ack.",
    s.doubts_answered);
  c("shoal_declared_dead_total", "Members we declared dead.", s.declared_dead);
  c("shoal_push_pulls_total", "Full anti-entropy exchanges started.", s.push_pulls_started);
  c("shoal_lease_syncs_total", "Lease-only anti-entropy exchanges started.", s.state_syncs_started);
  c("shoal_lease_reallocations_total", "Claims this host lost and replaced.",
    lease_.reallocations());
  c("shoal_lease_updates_rejected_total", "Lease updates refused as malformed.",
    lease_.rejected_updates());
  c("shoal_control_requests_total", "Control socket requests served.", transport_.control_requests);
  c("shoal_punch_attempts_total", "Probes sent to every endpoint of a member we could not reach.",
    s.punch_attempts);
  c("shoal_punches_total", "Paths proven on an endpoint other than the member's address.",
    s.punches);
  c("shoal_punch_acks_sent_total", "Acks sent straight to a prober a helper named (our half).",
    s.punch_acks_sent);
  c("shoal_path_moves_total", "Times a member's proven endpoint moved (its NAT remapped).",
    s.path_moves);
  c("shoal_endpoint_changes_total", "Times our own candidates or NAT verdict changed.",
    s.endpoint_changes);
  c("shoal_hint_checks_total",
    "Pings to a member's new endpoint after it pinged us from there while its old one worked.",
    s.hint_checks);
  c("shoal_relayed_probes_total", "Indirect probes this host ran for others (relay load).",
    s.relayed_probes);
  c("shoal_keepalives_total", "Pings to our relays, holding our NAT mapping open.",
    s.mapping_refreshes);
  c("shoal_keepalive_bytes_total", "Bytes of those pings.", s.mapping_refresh_bytes);
  if (datapath_ == nullptr) return;
  const DatapathCounters& d = datapath_->counters();
  c("shoal_datapath_reconciles_total", "Datapath reconciles run.", d.reconciles);
  const char* changes_help = "Kernel objects the datapath added or removed, by kind.";
  for (int i = 0; i < backends::kObjectKinds; ++i) {
    const std::string kind(backends::to_string(static_cast<backends::ObjectKind>(i)));
    c("shoal_datapath_changes_total", changes_help, d.added[i], {{"kind", kind}, {"op", "add"}});
    c("shoal_datapath_changes_total", changes_help, d.removed[i],
      {{"kind", kind}, {"op", "remove"}});
  }
  c("shoal_datapath_drift_repaired_total",
    "Kernel objects that were in place, went missing, and were put back.", d.drift_repaired);
  c("shoal_datapath_netlink_errors_total", "Netlink requests that failed.", d.netlink_errors);
  c("shoal_datapath_resyncs_total", "Full resyncs because kernel events were lost (ENOBUFS).",
    d.resyncs_after_lost_events);
  const auto tunnel = datapath_->tunnel_status();
  if (!tunnel) return;
  const udp::TunnelCounters& t = tunnel->counters;
  c("shoal_tunnel_packets_total", "Pod packets the udp tunnel carried, by direction.", t.tx_packets,
    {{"direction", "out"}});
  c("shoal_tunnel_packets_total", "Pod packets the udp tunnel carried, by direction.", t.rx_packets,
    {{"direction", "in"}});
  c("shoal_tunnel_bytes_total", "Bytes of pod packets the udp tunnel carried, by direction.",
    t.tx_bytes, {{"direction", "out"}});
  c("shoal_tunnel_bytes_total", "Bytes of pod packets the udp tunnel carried, by direction.",
    t.rx_bytes, {{"direction", "in"}});
  c("shoal_tunnel_handshakes_total", "udp tunnel handshakes: initiations sent, sessions made.",
    t.handshakes_sent, {{"event", "initiated"}});
  c("shoal_tunnel_handshakes_total", "udp tunnel handshakes: initiations sent, sessions made.",
    t.handshakes_done, {{"event", "completed"}});
  for (size_t i = 0; i < udp::kDropReasons; ++i)
    c("shoal_tunnel_dropped_total", "Packets the udp tunnel dropped, by reason.", t.dropped[i],
      {{"reason", std::string(udp::to_string(static_cast<udp::DropReason>(i)))}});
  c("shoal_tunnel_relayed_bytes_total", "Bytes of sealed tunnel datagrams relayed for others.",
    t.relayed_bytes);
  c("shoal_tunnel_relayed_packets_total", "Sealed tunnel datagrams relayed for others.",
    t.relayed_packets);
  c("shoal_tunnel_roams_total",
    "Times a peer's tunnel endpoint moved (its NAT remapped), on authenticated packets only.",
    tunnel->roams);
  c("shoal_tunnel_punches_total", "Datagrams sent to punch a hole to a peer's candidates.",
    tunnel->punches_sent);
  c("shoal_tunnel_keepalives_total", "Keepalives sent to hold a NAT's tunnel mapping open.",
    tunnel->keepalives_sent);
  std::array<uint64_t, 4> by_kind{};
  for (const udp::TunnelPath& path : tunnel->paths) ++by_kind.at(static_cast<size_t>(path.kind));
  for (size_t i = 0; i < by_kind.size(); ++i)
    metrics_
        .gauge("shoal_tunnel_peers", "Tunnel peers by the path their traffic takes now.",
               {{"path", std::string(to_string(static_cast<PathKind>(i)))}})
        .set(double(by_kind[i]));
  const std::pair<const char*, uint64_t> calls[] = {{"tun_read", t.tun_reads},
                                                    {"tun_write", t.tun_writes},
                                                    {"sendmmsg", t.send_calls},
                                                    {"recvmmsg", t.receive_calls}};
  for (const auto& [call, count] : calls)
    c("shoal_tunnel_syscalls_total",
      "The udp tunnel's system calls, by kind (batching shows here).", count, {{"call", call}});
}

std::string AgentMetrics::render() {
  refresh();
  return metrics_.render();
}

}  // namespace shoal::agent
