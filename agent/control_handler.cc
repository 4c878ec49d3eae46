#include "agent/control_handler.h"

#include <spdlog/spdlog.h>

#include "agent/agent.h"
#include "crypto/key.h"

namespace shoal::agent {

proto::ControlResponse ControlHandler::refuse(std::string why) {
  proto::ControlResponse r;
  r.set_error(std::move(why));
  return r;
}

namespace {

std::string hex_id(const NodeId& id) { return id.hex(); }

}  // namespace

namespace {

// Where this host stands across NATs, as it advertises it (docs/sites.md).
std::string nat_summary(const gossip::Member& self) {
  if (self.symmetric_nat) return "behind a symmetric NAT: peers reach this host through relays";
  if (!self.candidates.empty()) {
    std::string text = "reachable at";
    for (const Endpoint& c : self.candidates) text += " " + c.to_string();
    return text + (self.relay ? "; relaying" : "");
  }
  if (self.relay) return "public: peers reach " + self.address.to_string() + "; relaying";
  return "not known yet (no peer has answered from outside this host's network)";
}

}  // namespace

proto::ControlResponse ControlHandler::handle(const proto::ControlRequest& request,
                                              const ControlCaller& caller) {
  proto::ControlResponse out;
  const gossip::Membership& members = view_.members;
  const lease::LeaseCore& leases = view_.leases;
  const AgentDatapath* datapath = view_.datapath;
  const AgentConfig& config = view_.config;
  const NodeId& self = view_.id;
  crypto::Keyring& keyring = view_.keyring;
  using R = proto::ControlRequest;
  switch (request.request_case()) {
    case R::kMembers:
      for (const auto& m : members.members()) {
        auto* info = out.add_members();
        info->set_name(m.name);
        info->set_id(hex_id(m.id));
        info->set_address(m.address.to_string());
        info->set_state(std::string(gossip::to_string(m.state)));
        info->set_incarnation(m.incarnation);
        if (m.id == members.id()) continue;
        info->set_path(std::string(gossip::to_string(gossip::path_kind(m.path, m.address))));
        info->set_endpoint(m.path.reach.to_string());
      }
      return out;

    case R::kLeases: {
      const auto ttl = leases.table().ttl();
      for (const auto& [subnet, node] : leases.owners()) {
        const lease::NodeRecord* r = leases.table().find(node);
        if (!r) continue;
        auto* info = out.add_leases();
        info->set_node(r->name);
        info->set_id(hex_id(node));
        info->set_subnet(subnet.to_string());
        info->set_underlay(r->underlay.to_string());
        for (const auto& c : r->claims)
          if (c.subnet == subnet) info->set_claimed_at_ms(c.claimed_at.wall_ms);
        info->set_renewed_at_ms(r->renewed_at.time_since_epoch().count());
        info->set_expires_at_ms((r->renewed_at + ttl).time_since_epoch().count());
        info->set_own(node == self);
        info->set_ready(node != self || leases.ready_subnet() == subnet);
        if (datapath && node != self) {
          info->set_path(datapath->path_to(subnet));
          info->set_endpoint(datapath->endpoint_of(subnet));
        }
      }
      return out;
    }

    case R::kStatus: {
      auto* s = out.mutable_status();
      s->set_name(config.name);
      s->set_id(hex_id(self));
      s->set_version(shoal_version());
      s->set_bind(config.bind.to_string());
      if (auto claimed = leases.claimed_subnet()) s->set_subnet(claimed->to_string());
      s->set_subnet_ready(leases.ready_subnet().has_value());
      if (!leases.claimed_subnet())
        s->set_no_subnet_reason(leases.pool_exhausted()
                                    ? "pool exhausted: every subnet is held by another host"
                                    : "learning the lease table before claiming");
      s->set_network(config.network->network().to_string());
      s->set_backend(std::string(to_string(config.backend.type)));
      s->set_encrypted(view_.encrypted);
      s->set_key_count(static_cast<uint32_t>(keyring.size()));
      s->set_members_alive(static_cast<uint32_t>(members.count(gossip::MemberState::kAlive)));
      s->set_members_suspect(static_cast<uint32_t>(members.count(gossip::MemberState::kSuspect)));
      s->set_members_dead(static_cast<uint32_t>(members.count(gossip::MemberState::kDead)));
      s->set_members_left(static_cast<uint32_t>(members.count(gossip::MemberState::kLeft)));
      s->set_lease_count(static_cast<uint32_t>(leases.owners().size()));
      s->set_nat(nat_summary(members.self()));
      s->set_uptime_s(static_cast<uint64_t>(view_.uptime().count()));
      s->set_data_dir(config.data_dir);
      if (datapath) {
        const auto& plan = datapath->plan();
        s->set_datapath_device(datapath->device());
        s->set_peers_installed(static_cast<uint32_t>(plan.routes.size()));
        s->set_peers_skipped(static_cast<uint32_t>(plan.skipped.size()));
        for (const auto& skipped : plan.skipped)
          s->add_skipped_peers(skipped.name + " " + skipped.subnet.to_string() + " " +
                               std::string(node::to_string(skipped.reason)));
        s->set_pod_mtu(datapath->pod_mtu());
        s->set_datapath_error(datapath->last_error());
        s->set_reconciles(datapath->counters().reconciles);
        s->set_drift_repaired(datapath->counters().drift_repaired);
        if (const auto tunnel = datapath->tunnel_status()) {
          s->set_tunnel_offloads("tun: " + tunnel->tun.describe() +
                                 "; udp: " + tunnel->udp.describe());
          s->set_tunnel_cipher(tunnel->cipher);
          s->set_tunnel_sessions(static_cast<uint32_t>(tunnel->sessions));
          s->set_tunnel_packets_out(tunnel->counters.tx_packets);
          s->set_tunnel_packets_in(tunnel->counters.rx_packets);
          for (size_t i = 0; i < shoal::udp::kDropReasons; ++i) {
            if (tunnel->counters.dropped[i] == 0) continue;
            s->add_tunnel_drops(
                std::string(shoal::udp::to_string(static_cast<shoal::udp::DropReason>(i))) + " " +
                std::to_string(tunnel->counters.dropped[i]));
          }
        }
      }
      return out;
    }

    case R::kLeave: {
      const auto subnet = leases.claimed_subnet();
      spdlog::info("shoal leave: releasing {} and leaving the cluster",
                   subnet ? subnet->to_string() : "no subnet");
      out.set_message("leaving: released " + (subnet ? subnet->to_string() : "no subnet") +
                      ", telling the cluster, then stopping");
      view_.leave();  // after this answer is written; the loop runs until the leave is out
      return out;
    }

    case R::kForget: {
      const std::string& who = request.forget().node();
      std::vector<NodeId> matches;
      for (const auto& [id, r] : leases.table().records())
        if (r.name == who || id.hex().starts_with(who)) matches.push_back(id);
      if (matches.empty())
        return refuse("no node named or with an id starting '" + who + "' in the lease table");
      if (matches.size() > 1)
        return refuse("'" + who + "' matches " + std::to_string(matches.size()) +
                      " nodes; give more of the id");
      if (matches[0] == self)
        return refuse("this is the agent's own node; use `shoal leave` instead");
      if (auto* m = members.find(matches[0]); m && m->state == gossip::MemberState::kAlive)
        return refuse(m->name +
                      " is alive; forget is for dead nodes (it would claim again at once)");
      if (!view_.evict(matches[0])) return refuse("nothing to evict for '" + who + "'");
      spdlog::warn("shoal forget: evicted {} ({}); its subnet is free", who,
                   matches[0].short_hex());
      out.set_message("evicted " + who + " (" + matches[0].hex() + "); its subnet is free");
      return out;
    }

    case R::kKeysList:
    case R::kKeyInstall:
    case R::kKeyUse:
    case R::kKeyRemove:
      return handle_keys(request);
    case R::kFaultAdd:
    case R::kFaultClear:
    case R::kFaultList:
      return handle_faults(request, caller);
    case R::REQUEST_NOT_SET:
      return refuse("empty request");
  }
  return out;
}

}  // namespace shoal::agent
