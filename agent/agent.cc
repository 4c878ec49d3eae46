#include "agent/agent.h"

#include <spdlog/spdlog.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <optional>

#include "agent/agent_impl.h"
#include "agent/agent_metrics.h"
#include "agent/asio.h"
#include "agent/gossip_transport.h"
#include "agent/metrics_server.h"
#include "common/rng.h"
#include "common/subnet_env.h"
#include "crypto/identity.h"
#include "crypto/keyring.h"
#include "crypto/sodium_init.h"
#include "gossip/membership.h"
#include "node/backend_data.h"
#include "node/nat_view.h"
#include "node/node.h"
#include "proto/shoal.pb.h"
#include "protocol/sealed_frames.h"
#include "store/local_state.h"
#include "store/store.h"

namespace shoal::agent {

namespace {
// The store key of the cluster keyring version this host applied last (a proto::ClusterKeys
// without the keyring: the keys themselves live only in KeyFile).
constexpr const char* kKeysVersionKey = "cluster_keys_version";
}  // namespace

Status Agent::Impl::init() {
  if (!crypto::init()) return Status::unsupported("libsodium cannot be initialised");
  // The store: identity, our record, the table, known peers.
  std::error_code ec;
  std::filesystem::create_directories(config_.data_dir, ec);
  if (ec)
    return Status::io_error("cannot create data directory " + config_.data_dir + ": " +
                            ec.message());
  auto opened = store::Store::open(config_.data_dir + "/shoal.db");
  if (!opened) return opened.error();
  store_ = std::move(opened).value();
  Rng rng(static_cast<uint64_t>(SteadyClock::now().time_since_epoch().count()) ^ ::getpid());
  auto local = store::load_local_state(
      *store_, rng, static_cast<uint64_t>(wall().time_since_epoch().count() / 1000));
  if (!local) return local.error().prefixed("cannot start (this host's identity is kept)");
  id_ = local->id;
  vtep_mac_ = local->vtep_mac;
  // The identity keypair (for the encrypted tunnel): made once, kept in the store.
  if (!local->identity_secret.empty()) {
    auto restored = crypto::Identity::from_secret(local->identity_secret);
    if (!restored)
      return restored.error().reworded(store_->path() + ": the stored identity key is damaged (" +
                                       restored.error().message() +
                                       "). Restore a backup, or move the file away to start "
                                       "afresh");
    identity_ = std::move(restored).value();
  } else {
    identity_ = crypto::Identity::generate();
    if (Status put = store::save_identity(*store_, identity_->secret()); !put.ok()) return put;
    spdlog::info("made this node's identity key {}", identity_->public_key_base64());
  }

  if (!config_.key_file.empty()) {
    auto loaded = crypto::Keyring::load(config_.key_file);
    if (!loaded) return loaded.error();
    keyring_ = std::move(loaded).value();
  }

  if (config_.advertise) {
    advertise_ = {*config_.advertise, config_.bind.port};
  } else if (config_.bind.address != IpAddress()) {
    advertise_ = config_.bind;
  } else {
    return Status::invalid_argument("Bind is " + config_.bind.to_string() +
                                    ": set Advertise (--advertise) to the address other hosts "
                                    "reach this one at");
  }

  // Gossip's sockets: one UDP socket and one TCP listener on the same address and port.
  auto transport = GossipTransport::open(
      io_, config_.bind, frames_, config_.gossip, counters_,
      {[this](const Endpoint& from, const Bytes& packet) {
         node_->handle_packet(now(), wall(), from, packet);
       },
       [this](const Endpoint& from, gossip::StreamId stream, const Bytes& message) {
         node_->handle_stream(now(), wall(), from, stream, message);
       },
       [this] { drive(); }});
  if (!transport) return transport.error();
  transport_ = std::move(transport).value();

  // The cores.
  gossip::Config gossip = config_.gossip;
  gossip.max_packet_bytes -= frames_.datagram_overhead();
  const uint64_t incarnation = local->incarnation;  // above anything we said before

  lease::LeaseConfig lease_config;
  lease_config.network = *config_.network;
  lease_config.ttl = config_.lease_ttl;
  lease_config.renew_after = config_.lease_ttl / 2;
  // Peers need our vxlan device's MAC only when vxlan carries traffic.
  const BackendType carrier = config_.backend.type == BackendType::kAuto
                                  ? config_.backend.fallback.value_or(BackendType::kVxlan)
                                  : config_.backend.type;
  const bool publishes_mac = carrier != BackendType::kUdp;
  const auto pub = identity_->public_key();
  auto loaded = store_->load_leases();
  if (!loaded) return loaded.error().prefixed("cannot start: the lease table is unreadable");
  if (loaded->skipped)
    spdlog::warn("{}: skipped {} unreadable lease rows", store_->path(), loaded->skipped);
  node::NodeConfig node_config{
      gossip,
      gossip::LocalNode{
          id_, config_.name, advertise_, {}, incarnation, config_.public_address, config_.relay},
      rng.next(),
      node::LeaseSetup{
          lease_config,
          lease::LocalLease{
              id_, config_.name, advertise_.address, config_.site,
              node::encode_backend_data({publishes_mac ? std::optional(vtep_mac_) : std::nullopt,
                                         Bytes(pub.begin(), pub.end())})},
          std::move(loaded->leases)},
      std::nullopt};
  if (!config_.key_file.empty()) {
    auto read = store_->get(kKeysVersionKey);
    if (!read) return read.error();
    if (const auto& held = *read) {
      proto::ClusterKeys version;
      const auto damaged = [&](std::string_view why) {
        return Status::corruption(store_->path() + ": the stored cluster keyring version is " +
                                  "damaged (" + std::string(why) +
                                  "). Restore a backup, or move the file away to start afresh");
      };
      if (!version.ParseFromArray(held->data(), static_cast<int>(held->size())))
        return damaged(node::to_string(node::DropReason::kMalformed));
      auto value = node::from_proto(version);
      if (!value) return damaged(node::to_string(value.error()));
      value->keyring = keyring_.file_text();  // what this host holds now, as of that version
      node_config.keys = std::move(value).value();
    }
  }
  node_ = std::make_unique<node::Node>(std::move(node_config), now(), wall());
  core_ = &node_->membership();
  lease_ = node_->leases();
  {
    auto started = AgentDatapath::start(io_, config_, *lease_, id_, advertise_.address, vtep_mac_,
                                        *identity_, [this] { return wall(); });
    if (!started) return started.error();
    datapath_ = std::move(started).value();
    datapath_->set_nat_view([this] { return node::nat_view(*core_, now()); });
    datapath_->set_on_reconciled([this] { publish_subnet_if_applied(); });
  }
  metrics_ = std::make_unique<AgentMetrics>(*core_, *lease_, counters_, datapath_.get());
  if (config_.metrics_addr) {
    auto started =
        MetricsServer::start(io_, *config_.metrics_addr, [this] { return metrics_->render(); });
    if (!started) return started.error();
    metrics_server_ = std::move(started).value();
  }
  if (config_.allow_faults) {
    // A killed agent's faults end on their own (kernel timeouts); a restart starts clean.
    if (Status s = backends::remove_faults(); !s.ok())
      return Status::io_error("AllowFaults: cannot prepare the fault table: " + s.to_string());
    faults_ = std::make_unique<Faults>(io_);
    spdlog::warn(
        "AllowFaults is on: `shoal fault` may drop or lose this host's traffic (for tests only)");
  }
  control_ = std::make_unique<ControlHandler>(AgentView{
      config_, id_, *core_, *lease_, datapath_.get(), keyring_, frames_.encrypted(),
      [this] {
        return std::chrono::duration_cast<std::chrono::seconds>(SteadyClock::now() - started_);
      },
      [this] { asio::post(io_, [this] { shutdown(true); }); },
      [this](const NodeId& node) {
        if (!node_->evict(now(), wall(), node)) return false;
        drive();
        return true;
      },
      [this] { return publish_keys(); }, [this] { return node_->keys_version(); }, faults_.get()});
  auto control =
      ControlServer::start(io_, config_.control_socket,
                           [this](const proto::ControlRequest& r, const ControlCaller& caller) {
                             counters_.control_requests++;
                             return control_->handle(r, caller);
                           });
  if (!control) return control.error();
  control_server_ = std::move(control).value();
  return {};
}

int Agent::Impl::run() {
  spdlog::info("shoal agent {} ({}) listening on {} (udp+tcp), advertising {}", config_.name,
               id_.short_hex(), config_.bind.to_string(), advertise_.to_string());
  if (frames_.encrypted()) {
    spdlog::info("gossip is encrypted: {} key(s) from {}", keyring_.size(), config_.key_file);
  } else {
    spdlog::warn(
        "NO CLUSTER KEY: gossip runs in PLAINTEXT, anyone who can reach {} can join "
        "and read it. Make a key with `shoal keygen` and set KeyFile (--key-file).",
        config_.bind.to_string());
  }
  for (const auto& w : config_.warnings) spdlog::warn("config: {}", w);

  std::vector<Endpoint> seeds;
  for (const auto& s : config_.seeds)
    if (s != advertise_) seeds.push_back(s);
  if (seeds.empty()) {
    if (auto peers = store_->load_peers(); peers) {
      seeds = std::move(peers).value();
    } else {
      spdlog::error("no seed given, and the peers we knew cannot be read: {}",
                    peers.error().to_string());
    }
    if (!seeds.empty())
      spdlog::info("no seed given: rejoining through {} remembered peer(s)", seeds.size());
  }
  if (!seeds.empty()) {
    std::string list;
    for (const auto& s : seeds) list += (list.empty() ? "" : ", ") + s.to_string();
    spdlog::info("joining through {}", list);
    node_->join(now(), wall(), seeds);
  } else {
    spdlog::info("no seeds and no remembered peers: starting a new cluster");
  }

  signals_.async_wait([this](const ErrorCode& ec, int signal) {
    if (ec) return;
    spdlog::info("{}: stopping; the lease is kept, a restart gets the same subnet",
                 signal == SIGINT ? "SIGINT" : "SIGTERM");
    shutdown(false);
  });
  watch_reload_signal();
  arm_watchdog();
  transport_->start();
  next_save_ = now() + std::chrono::seconds(30);
  drive();
  io_.run();
  return 0;
}

void Agent::Impl::drive() {
  if (driving_ || phase_ == Phase::kStopped)
    return;  // re-entered from a callback: the outer loop continues
  driving_ = true;
  for (int round = 0; round < 1000; ++round) {
    const TimePoint t = now();
    if (t >= node_->next_timeout()) node_->handle_timeout(t, wall());
    persist_own_record();
    bool work = false;
    while (auto e = node_->poll_event()) {
      on_gossip_event(*e);
      work = true;
    }
    while (auto e = node_->poll_lease_event()) {
      on_lease_event(*e);
      work = true;
    }
    while (auto keys = node_->poll_keys()) {  // before transmits: they seal with the new keys
      adopt_keys(*keys);
      work = true;
    }
    while (auto tx = node_->poll_transmit()) {
      transport_->send(std::move(*tx));
      work = true;
    }
    if (!work && now() < node_->next_timeout()) break;
  }
  if (lease_->pool_exhausted() != said_pool_exhausted_) {
    said_pool_exhausted_ = lease_->pool_exhausted();
    if (said_pool_exhausted_) {
      remove_subnet_env();
      spdlog::error(
          "NO SUBNET: every subnet of the pool{} is held by another host; this host "
          "carries no pods until one frees up (widen Network or SubnetMin..SubnetMax, "
          "or `shoal forget` a dead host)",
          config_.site.empty() ? "" : " of site " + config_.site);
    } else {
      spdlog::info("a subnet of the pool is free again: claiming it");
    }
  }
  if (now() >= next_save_) {
    save_table();
    next_save_ = now() + std::chrono::seconds(30);
  }
  if (now() >= next_path_tick_) {
    tick_paths();
    next_path_tick_ = now() + std::chrono::seconds(1);
  }
  if (status_changed_) tell_systemd_status();
  driving_ = false;
  if (departing() && ((core_->leave_announced() &&
                       (phase_ != Phase::kReleasing || core_->pending_broadcasts() == 0)) ||
                      now() >= depart_by_)) {
    finish_departure();
    return;
  }
  arm_timer(std::min({node_->next_timeout(), next_save_, next_path_tick_, depart_by_}));
}

void Agent::Impl::tick_paths() {
  datapath_->tick();
  std::vector<Endpoint> reflexive = datapath_->tunnel_reflexive();
  // The same endpoints in another order say nothing new. Behind a symmetric NAT each peer
  // sees its own port and the newest comes first, so the order turned with every keepalive
  // and each turn was an alive of ours gossiped to the whole cluster. A remap brings a new
  // endpoint, which still goes out at once.
  auto sorted = [](std::vector<Endpoint> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  if (sorted(reflexive) == sorted(published_reflexive_)) return;
  std::string list;
  for (const auto& e : reflexive) list += (list.empty() ? "" : ", ") + e.to_string();
  spdlog::info("udp tunnel: peers outside our NAT reach it at {}", list.empty() ? "none" : list);
  published_reflexive_ = std::move(reflexive);
  publish_meta();
}

void Agent::Impl::publish_meta() {
  core_->set_meta(now(), node::encode_member_meta({published_reflexive_, node_->keys_version()}));
}

std::optional<node::KeysVersion> Agent::Impl::publish_keys() {
  std::string text = keyring_.file_text();
  const auto version = node_->publish_keys(now(), wall(), text);
  explicit_bzero(text.data(), text.size());
  if (!version) return std::nullopt;
  remember_keys_version(*version);
  publish_meta();
  asio::post(io_, [this] { drive(); });  // the broadcast goes out now, not at the next tick
  return version;
}

void Agent::Impl::adopt_keys(const node::KeysValue& value) {
  if (config_.key_file.empty()) {
    spdlog::warn("a peer sent cluster keyring {}, but this agent runs without KeyFile: ignored",
                 value.version.to_string());
    return;
  }
  auto parsed = crypto::Keyring::parse(value.keyring);
  if (!parsed) {
    spdlog::error("cluster keyring {} from a peer does not parse ({}); keeping ours",
                  value.version.to_string(), parsed.error().to_string());
    return;
  }
  keyring_ = std::move(parsed).value();  // frames_ seals what goes out next with it
  if (const Status saved = keyring_.save(config_.key_file); !saved.ok())
    spdlog::error("applied cluster keyring {} but could not save it: {}", value.version.to_string(),
                  saved.to_string());
  remember_keys_version(value.version);
  publish_meta();
  spdlog::info("applied cluster keyring {} (changed on {}): {} key(s), sealing with {}",
               value.version.to_string(), value.version.origin.short_hex(), keyring_.size(),
               crypto::key_id_hex(*keyring_.primary()));
}

void Agent::Impl::remember_keys_version(const node::KeysVersion& version) {
  proto::ClusterKeys stored;
  node::to_proto(version, stored);
  const std::string bytes = stored.SerializeAsString();
  if (const Status put = store_->put(kKeysVersionKey, as_bytes(bytes)); !put.ok())
    spdlog::error("could not store the cluster keyring version: {}", put.to_string());
}

void Agent::Impl::remove_subnet_env() {
  std::error_code ignored;
  std::filesystem::remove(config_.subnet_file, ignored);
}

void Agent::Impl::persist_own_record() {
  while (auto record = node_->poll_persist()) {
    // A record that did not reach the disk is never announced: a crash could otherwise make
    // us forget a claim others have seen. The next change (at the latest the renewal)
    // publishes a newer one.
    if (const Status saved = store_->save_own(*record); !saved.ok()) {
      spdlog::error("could not make our lease record durable, so it is not announced: {}",
                    saved.to_string());
      continue;
    }
    node_->persisted(now(), wall(), record->version);
  }
}

void Agent::Impl::arm_timer(TimePoint at) {
  const auto delay = std::max(Duration::zero(), at - now());
  timer_.expires_after(delay);
  timer_.async_wait([this](const ErrorCode& ec) {
    if (!ec) drive();
  });
}

void Agent::Impl::on_gossip_event(const gossip::Event& e) {
  if (e.kind == gossip::Event::Kind::kUserMessage) return;
  // A member's endpoints, relay or liveness feed the tunnel's paths (node/nat_view.h).
  datapath_->request_reconcile();
  status_changed_ = true;
  const auto& m = e.member;
  switch (e.kind) {
    case gossip::Event::Kind::kDead:
    case gossip::Event::Kind::kSuspect:
      spdlog::warn("member {} ({}, {}) is {}", m.name, m.id.short_hex(), m.address.to_string(),
                   gossip::to_string(e.kind));
      break;
    default:
      spdlog::info("member {} ({}, {}): {}", m.name, m.id.short_hex(), m.address.to_string(),
                   gossip::to_string(e.kind));
  }
}

void Agent::Impl::on_lease_event(const lease::LeaseEvent& e) {
  using Kind = lease::LeaseEvent::Kind;
  datapath_->request_reconcile();  // the plan is recomputed from the whole table
  status_changed_ = true;
  switch (e.kind) {
    case Kind::kSubnetReady:
      // subnet.env waits for the reconcile just requested (publish_subnet_if_applied).
      subnet_to_publish_ = e.subnet;
      break;
    case Kind::kSubnetLost: {
      subnet_to_publish_.reset();
      if (phase_ == Phase::kReleasing) break;  // we gave it up ourselves (shoal leave)
      remove_subnet_env();  // in the same step: it never names a subnet that is not ours
      spdlog::warn("we lost subnet {} to an earlier claim; removed {} and claiming another",
                   e.subnet.to_string(), config_.subnet_file);
      break;
    }
    case Kind::kPeerAdded:
      spdlog::info("peer {} holds {} via {}", e.node.short_hex(), e.subnet.to_string(),
                   e.underlay.to_string());
      break;
    case Kind::kPeerChanged:
      spdlog::info("peer {} now holds {} via {}", e.node.short_hex(), e.subnet.to_string(),
                   e.underlay.to_string());
      break;
    case Kind::kPeerRemoved:
      spdlog::info("peer {} no longer holds {}", e.node.short_hex(), e.subnet.to_string());
      break;
  }
}

void Agent::Impl::publish_subnet_if_applied() {
  if (!subnet_to_publish_ || datapath_->applied_subnet() != subnet_to_publish_) return;
  const Cidr subnet = *subnet_to_publish_;
  subnet_to_publish_.reset();
  const Status written = write_subnet_env(config_.subnet_file, config_.network->network(), subnet,
                                          datapath_->pod_mtu(), config_.ip_masq);
  if (written.ok()) {
    spdlog::info("our subnet {} is ready; wrote {}", subnet.to_string(), config_.subnet_file);
    systemd_.ready();  // containers may start: their network is there
    status_changed_ = true;
  } else {
    spdlog::error("our subnet {} is ready but subnet.env could not be written: {}",
                  subnet.to_string(), written.to_string());
  }
}

void Agent::Impl::save_table() {
  std::vector<lease::NodeRecord> records;
  for (const auto& [id, r] : lease_->table().records())
    if (id != id_) records.push_back(r);
  std::vector<lease::Eviction> evictions;
  for (const auto& [id, e] : lease_->table().evictions()) evictions.push_back(e);
  if (const Status saved = store_->save_table(records, evictions); !saved.ok())
    spdlog::error("{}", saved.to_string());
  std::vector<Endpoint> peers;
  for (const auto& m : core_->members())
    if (m.id != id_ && m.is_alive_or_suspect()) peers.push_back(m.address);
  if (!peers.empty())
    if (const Status saved = store_->save_peers(peers); !saved.ok())
      spdlog::error("{}", saved.to_string());
}

void Agent::Impl::shutdown(bool release) {
  if (phase_ != Phase::kRunning) return;
  phase_ = release ? Phase::kReleasing : Phase::kDeparting;
  systemd_.stopping();
  // Test faults end with the agent, before it says goodbye through them.
  if (faults_) (void)faults_->clear(0);
  // A plain stop keeps the kernel state: pods keep talking while the agent restarts.
  if (release)
    datapath_->remove_all();
  else
    datapath_->stop();
  if (release) remove_subnet_env();  // the subnet is not ours any more
  // Tell the others we go, so they need not detect it; give it a bounded moment to leave.
  node_->leave(now(), wall(), release);
  depart_by_ = now() + std::chrono::seconds(2);
  drive();
}

void Agent::Impl::finish_departure() {
  save_table();
  const bool released = phase_ == Phase::kReleasing;
  phase_ = Phase::kStopped;
  timer_.cancel();
  signals_.cancel();
  reload_signals_.cancel();
  watchdog_timer_.cancel();
  transport_->close();
  metrics_server_.reset();
  control_server_.reset();  // removes the socket file
  io_.stop();
  spdlog::info(released ? "left the cluster; subnet released" : "stopped");
}

void Agent::Impl::tell_systemd_status() {
  status_changed_ = false;
  if (!systemd_.enabled()) return;
  size_t alive = 0;
  for (const auto& m : core_->members()) alive += m.is_alive_or_suspect() ? 1 : 0;
  const auto subnet = lease_->ready_subnet();
  systemd_.status(std::to_string(alive) + " member(s) alive; subnet " +
                  (subnet ? subnet->to_string() : std::string("not yet")) + "; backend " +
                  std::string(to_string(config_.backend.type)));
}

void Agent::Impl::arm_watchdog() {
  const auto period = systemd_.watchdog_period();
  if (!period) return;
  // Pinged from the loop itself: a loop that stops turning stops the pings, and systemd
  // restarts the agent (WatchdogSec in the unit).
  systemd_.watchdog();
  watchdog_timer_.expires_after(*period);
  watchdog_timer_.async_wait([this](const ErrorCode& ec) {
    if (!ec) arm_watchdog();
  });
}

void Agent::Impl::watch_reload_signal() {
  reload_signals_.async_wait([this](const ErrorCode& ec, int) {
    if (ec) return;
    reload_key_file();
    watch_reload_signal();
  });
}

void Agent::Impl::reload_key_file() {
  if (config_.key_file.empty()) {
    spdlog::info("SIGHUP: no KeyFile is set, so there is nothing to reload");
    return;
  }
  systemd_.reloading();
  auto loaded = crypto::Keyring::load(config_.key_file);
  if (!loaded) {
    spdlog::error("SIGHUP: kept the {} key(s) in use: {}", keyring_.size(),
                  loaded.error().to_string());
  } else {
    keyring_ = std::move(loaded).value();  // frames_ and the control handler see it at once
    spdlog::info("SIGHUP: re-read {}: {} key(s), primary {}", config_.key_file, keyring_.size(),
                 crypto::key_id_hex(*keyring_.primary()));
  }
  systemd_.reloaded();
}

// --- Agent -----------------------------------------------------------------------------

const char* shoal_version() { return SHOAL_VERSION; }

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Agent::~Agent() = default;

Result<std::unique_ptr<Agent>> Agent::create(AgentConfig config) {
  auto impl = std::make_unique<Impl>(std::move(config));
  if (Status started = impl->init(); !started.ok()) return started;
  return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

int Agent::run() { return impl_->run(); }

}  // namespace shoal::agent
