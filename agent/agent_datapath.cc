#include "agent/agent_datapath.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "backends/masquerade.h"

namespace shoal::agent {
namespace {

constexpr auto kPeriodic = std::chrono::seconds(10);
// Lease events come in bursts (a sync brings many records): one reconcile for the burst.
constexpr auto kDebounce = std::chrono::milliseconds(50);

node::DatapathMode mode_of(BackendType type) {
  switch (type) {
    case BackendType::kHostGw:
      return node::DatapathMode::kHostGw;
    case BackendType::kAuto:
      return node::DatapathMode::kAuto;
    case BackendType::kUdp:
      return node::DatapathMode::kUdp;
    default:
      return node::DatapathMode::kVxlan;
  }
}

// "2 routes, 2 neighbours" from per-kind counts.
std::string describe(const std::array<size_t, backends::kObjectKinds>& counts) {
  std::string out;
  for (int i = 0; i < backends::kObjectKinds; ++i) {
    if (counts[i] == 0) continue;
    if (!out.empty()) out += ", ";
    out += std::to_string(counts[i]) + " " +
           std::string(to_string(static_cast<backends::ObjectKind>(i)));
  }
  return out.empty() ? "nothing" : out;
}

}  // namespace

AgentDatapath::AgentDatapath(asio::io_context& io, const AgentConfig& config,
                             const lease::LeaseCore& lease, const NodeId& self,
                             const IpAddress& underlay, WallClock wall)
    : io_(io), config_(config), lease_(lease), self_(self), underlay_(underlay), wall_(wall) {
  plan_config_.mode = mode_of(config.backend.type);
  plan_config_.vni = config.backend.effective_vni;
  plan_config_.port = config.backend.effective_port;
  plan_config_.mtu = config.mtu;
  plan_config_.encrypt = config.backend.effective_encrypt;
  plan_config_.network = config.network->network();
  if (config.backend.fallback == BackendType::kUdp) plan_config_.fallback = node::Path::kUdp;
}

AgentDatapath::~AgentDatapath() { stop(); }

Result<std::unique_ptr<AgentDatapath>> AgentDatapath::start(
    asio::io_context& io, const AgentConfig& config, const lease::LeaseCore& lease,
    const NodeId& self, const IpAddress& underlay, const node::Mac& vtep_mac,
    const crypto::Identity& identity, WallClock wall) {
  std::unique_ptr<AgentDatapath> d(new AgentDatapath(io, config, lease, self, underlay, wall));
  auto opened = backends::Netlink::open();
  if (!opened) return opened.error();
  d->netlink_ = std::move(opened).value();
  d->kernel_ = std::make_unique<backends::KernelDatapath>(*d->netlink_, vtep_mac,
                                                          config.backend.tx_checksum_offload);
  auto host = d->kernel_->read_host();
  if (!host) return host.error().prefixed("datapath");
  auto facts = d->kernel_->gather_facts(underlay, *host);
  if (!facts) return facts.error().prefixed("datapath");
  d->facts_ = *facts;
  d->compute_plan(d->facts_);
  spdlog::info("datapath: backend {}, underlay {} on {} (MTU {}), pods get MTU {}",
               to_string(d->plan_config_.mode), underlay.to_string(), d->facts_.underlay_device,
               d->facts_.underlay_mtu, d->plan_.pod_mtu);

  if (d->plan_config_.carrier() == node::Path::kUdp) {
    // The tunnel makes the TUN device, so it starts before the first reconcile.
    udp::TunnelConfig tunnel;
    tunnel.device = node::kTunDeviceName;
    tunnel.bind = {underlay, config.backend.effective_port};
    tunnel.encrypt = config.backend.effective_encrypt;
    tunnel.rekey_after = config.backend.rekey_after;
    tunnel.self = self;
    tunnel.keepalive = config.keepalive;
    tunnel.relay = config.relay;
    tunnel.relay_max_mbps = config.relay_max_mbps;
    auto started = udp::Tunnel::start(tunnel, identity);
    if (!started) return started.error().prefixed("udp tunnel");
    d->tunnel_ = std::move(started).value();
    const udp::TunnelStatus status = d->tunnel_->status();
    spdlog::info("udp tunnel: {} on {}, port {}; TUN offloads: {}; UDP: {}; cipher {}",
                 config.backend.effective_encrypt ? "encrypted" : "plaintext (Encrypt false)",
                 d->tunnel_->device(), config.backend.effective_port, status.tun.describe(),
                 status.udp.describe(), status.cipher);
    if (config.backend.effective_encrypt && config.key_file.empty())
      spdlog::warn(
          "udp tunnel: traffic is encrypted but gossip is not (no KeyFile): an attacker "
          "on the underlay could forge a peer's lease and its tunnel key");
  }
  bool turned_on = false;
  if (const Status on = backends::enable_forwarding(turned_on); !on.ok()) {
    spdlog::error("datapath: IPv4 forwarding is needed to route pod traffic: {}", on.to_string());
  } else if (turned_on) {
    spdlog::info("datapath: turned on IPv4 forwarding (net.ipv4.ip_forward=1)");
  }

  auto monitor = backends::NetlinkMonitor::open();
  if (!monitor) {
    spdlog::warn("datapath: {}; repairs wait for the periodic check", monitor.error().to_string());
  } else {
    d->monitor_ = std::move(monitor).value();
    d->events_.emplace(io, d->monitor_->fd());
    d->watch_events();
  }
  d->arm_periodic();
  d->request_reconcile();  // at start: also removes what an earlier run left behind
  return d;
}

void AgentDatapath::stop() {
  stopped_ = true;
  soon_.cancel();
  periodic_.cancel();
  if (events_) {
    events_->cancel();
    events_->release();  // the fd belongs to the monitor's libnl socket
    events_.reset();
  }
}

void AgentDatapath::compute_plan(const node::LocalFacts& facts) {
  node::LocalFacts with_nat = facts;
  if (nat_view_) nat_ = nat_view_();
  with_nat.behind_nat = nat_.behind_nat;
  plan_ = node::plan(lease_.table(), lease_.owners(), self_, wall_(), with_nat, plan_config_);
}

void AgentDatapath::request_reconcile() {
  if (scheduled_ || stopped_) return;
  scheduled_ = true;
  soon_.expires_after(kDebounce);
  soon_.async_wait([this](const boost::system::error_code& ec) {
    scheduled_ = false;
    if (!ec && !stopped_) reconcile();
  });
}

void AgentDatapath::arm_periodic() {
  periodic_.expires_after(kPeriodic);
  periodic_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    reconcile();
    arm_periodic();
  });
}

void AgentDatapath::watch_events() {
  events_->async_wait(
      asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
        if (ec || stopped_) return;
        const auto seen = monitor_->drain(kernel_->vxlan_index(), kernel_->underlay_index(),
                                          backends::kRouteProtocol);
        if (seen.lost) {
          ++counters_.resyncs_after_lost_events;
          spdlog::warn("datapath: kernel events were lost (ENOBUFS); full resync");
        }
        if (!seen.error.ok()) spdlog::warn("datapath: {}", seen.error.to_string());
        if (seen.relevant) request_reconcile();
        watch_events();
      });
}

void AgentDatapath::reconcile() {
  ++counters_.reconciles;
  // One read of the links and addresses serves the facts and the reconcile.
  auto host = kernel_->read_host();
  Result<node::LocalFacts> facts =
      host ? kernel_->gather_facts(underlay_, *host) : Result<node::LocalFacts>(host.error());
  if (!facts) {
    const std::string error = facts.error().to_string();
    if (last_error_ != error) spdlog::error("datapath: {}", error);
    last_error_ = error;
    ++counters_.netlink_errors;
    return;
  }
  facts_ = *facts;
  compute_plan(facts_);
  if (tunnel_) update_tunnel();
  const backends::ReconcileResult result = kernel_->reconcile(plan_, facts_, *host);
  for (int i = 0; i < backends::kObjectKinds; ++i) {
    counters_.added[i] += result.added[i];
    counters_.removed[i] += result.removed[i];
  }
  counters_.drift_repaired += result.drift_repaired;
  counters_.netlink_errors += result.errors;

  const std::string error =
      result.first_errors.empty() ? "" : result.first_errors.front().to_string();
  if (!error.empty() && error != last_error_) {
    spdlog::error("datapath: {} error(s) in reconcile, the first: {}", result.errors, error);
  } else if (error.empty() && !last_error_.empty()) {
    spdlog::info("datapath: reconcile succeeded again");
  }
  last_error_ = error;
  if (result.drift_repaired > 0) {
    spdlog::warn("datapath: put back {} object(s) someone removed", result.drift_repaired);
  }
  if (result.changes() > 0) {
    spdlog::info("datapath: added {}; removed {} ({} peer(s) routed)", describe(result.added),
                 describe(result.removed), plan_.routes.size());
  }
  std::string skips;
  for (const auto& s : plan_.skipped)
    skips +=
        " " + s.name + " " + s.subnet.to_string() + " (" + std::string(to_string(s.reason)) + ")";
  if (skips != logged_skips_ && !skips.empty()) spdlog::warn("datapath: not routing{}", skips);
  logged_skips_ = skips;
  update_masquerade();
  applied_subnet_ = lease_.ready_subnet();
  if (on_reconciled_) on_reconciled_();
}

void AgentDatapath::update_tunnel() {
  std::vector<udp::TunnelPeer> peers;
  for (const node::PeerRoute& r : plan_.routes) {
    if (r.path != node::Path::kUdp) continue;
    udp::TunnelPeer peer;
    peer.owner = r.owner;
    peer.name = r.name;
    peer.subnet = r.subnet;
    peer.endpoint = {r.underlay, plan_config_.port};
    peer.public_key = r.tunnel_key;
    if (auto it = nat_.peers.find(r.owner); it != nat_.peers.end()) {
      peer.candidates = it->second.tunnel_candidates;
      peer.relay = it->second.relay;
      peer.punch = it->second.punch;
      peer.keepalive = it->second.keepalive;
      peer.address_works = it->second.address_works;
    }
    // A lease that names our own address is another site's host reusing our LAN range
    // (gossip may not know it yet): whatever goes there comes back to us.
    if (r.underlay == underlay_) peer.address_works = false;
    peers.push_back(std::move(peer));
  }
  // ICMP errors come from the overlay network's own address (198.18.0.0 for 198.18.0.0/16):
  // no host holds it (a local source would be dropped as a martian when the reply comes out
  // of the TUN), and the route back to it is the TUN's own, so even strict reverse-path
  // filtering lets the reply through. Not when that address falls in our own subnet.
  std::optional<IpAddress> router = plan_config_.network.network();
  if (const auto own = lease_.claimed_subnet(); own && own->contains(*router)) router.reset();
  tunnel_->set_peers(peers, router);
}

void AgentDatapath::tick() {
  if (tunnel_) tunnel_->tick();
}

std::vector<Endpoint> AgentDatapath::tunnel_reflexive() const {
  if (!tunnel_) return {};
  return tunnel_->reflexive();
}

std::optional<udp::TunnelStatus> AgentDatapath::tunnel_status() const {
  if (!tunnel_) return std::nullopt;
  return tunnel_->status();
}

void AgentDatapath::update_masquerade() {
  if (!config_.ip_masq) return;
  const auto subnet = lease_.ready_subnet();
  if (!subnet || subnet == masqueraded_) return;
  if (const Status installed = backends::install_masquerade(config_.network->network(), *subnet);
      !installed.ok()) {
    spdlog::error("datapath: IPMasq: {}", installed.to_string());
    return;
  }
  spdlog::info("datapath: IPMasq on: pod traffic leaving {} is masqueraded (nftables table ip {})",
               config_.network->network().to_string(), backends::kNftTable);
  masqueraded_ = subnet;
}

void AgentDatapath::remove_all() {
  stop();
  if (tunnel_) {
    tunnel_.reset();
    if (const Status removed = udp::remove_tun(node::kTunDeviceName); !removed.ok())
      spdlog::error("datapath: {}", removed.to_string());
  }
  if (const Status removed = kernel_->remove_all(plan_config_.vni); !removed.ok()) {
    spdlog::error("datapath: could not remove everything: {}", removed.to_string());
  } else {
    spdlog::info("datapath: removed shoal's routes and devices");
  }
  if (config_.ip_masq) {
    if (const Status removed = backends::remove_masquerade(); !removed.ok())
      spdlog::error("datapath: {}", removed.to_string());
  }
}

std::string AgentDatapath::device() const {
  if (plan_.vxlan) return plan_.vxlan->name;
  if (plan_.tun) return plan_.tun->name;
  return facts_.underlay_device;
}

std::string AgentDatapath::endpoint_of(const Cidr& subnet) const {
  for (const auto& r : plan_.routes) {
    if (r.subnet != subnet || r.path != node::Path::kUdp || !tunnel_) continue;
    const auto path = tunnel_->path(r.owner);
    if (!path) return "";
    if (path->via_relay) {
      const auto relay = nat_.peers.find(r.owner);
      return relay == nat_.peers.end() || !relay->second.relay
                 ? "via relay"
                 : "via " + relay->second.relay->short_hex();
    }
    return path->endpoint ? path->endpoint->to_string() : "";
  }
  return "";
}

std::string AgentDatapath::path_to(const Cidr& subnet) const {
  for (const auto& r : plan_.routes) {
    if (r.subnet != subnet) continue;
    std::string path(to_string(r.path));
    if (r.path == node::Path::kUdp && tunnel_)
      if (const auto tunnel_path = tunnel_->path(r.owner))
        path += "/" + std::string(udp::to_string(tunnel_path->kind));
    return path;
  }
  for (const auto& s : plan_.skipped)
    if (s.subnet == subnet) return "skipped: " + std::string(to_string(s.reason));
  return "";
}

}  // namespace shoal::agent
