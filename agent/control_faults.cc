// The fault requests: `shoal fault drop|loss|clock|clear|list` (agent/faults.h). Off unless the
// config has AllowFaults, and then only for a client the kernel says runs as root or as the
// agent's own user: a fault cuts this host off from its peers, so it is as privileged as
// stopping the agent.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "agent/control_handler.h"
#include "common/time.h"

namespace shoal::agent {
namespace {

std::string direction_of(const Faults::Fault& f) {
  if (f.is_clock()) return "";
  if (f.inbound && f.outbound) return "both";
  return f.inbound ? "in" : "out";
}

void list_faults(const Faults& faults, proto::ControlResponse& out) {
  const auto now = Faults::Clock::now();
  for (const Faults::Fault& f : faults.list()) {
    auto* info = out.add_faults();
    info->set_id(f.id);
    info->set_loss_percent(f.loss_percent);
    info->set_direction(direction_of(f));
    info->set_clock_offset_ms(f.clock_offset.count());
    for (const auto& p : f.peers) info->add_peers(p);
    for (const auto& t : f.targets) info->add_targets(t.to_string());
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(f.expires - now);
    info->set_expires_in_ms(static_cast<uint64_t>(std::max<int64_t>(0, left.count())));
  }
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& i : items) text += (text.empty() ? "" : ", ") + i;
  return text;
}

}  // namespace

Result<std::vector<Cidr>> ControlHandler::fault_targets(const std::string& peer) const {
  if (auto cidr = Cidr::parse(peer)) return std::vector<Cidr>{*cidr};
  if (auto ip = IpAddress::parse(peer))
    return std::vector<Cidr>{*Cidr::make(*ip, ip->is_v4() ? 32 : 128)};
  std::vector<const gossip::Member*> matches;
  const auto all = view_.members.members();
  for (const auto& m : all)
    if (m.id != view_.id && (m.name == peer || m.id.hex().starts_with(peer))) matches.push_back(&m);
  if (matches.empty())
    return Status::not_found("no other member is named, or has an id starting, '" + peer +
                             "'; give a member, an address or a CIDR");
  if (matches.size() > 1)
    return Status::invalid_argument("'" + peer + "' matches " + std::to_string(matches.size()) +
                                    " members; give more of the id");
  const gossip::Member& m = *matches[0];
  std::vector<Cidr> targets;
  auto add = [&](const IpAddress& ip) {
    const Cidr host = *Cidr::make(ip, ip.is_v4() ? 32 : 128);
    if (std::find(targets.begin(), targets.end(), host) == targets.end()) targets.push_back(host);
  };
  add(m.address.address);  // gossip, and vxlan or the tunnel to its underlay
  for (const Endpoint& c : m.candidates) add(c.address);  // where its NAT lets peers in
  if (auto it = view_.leases.table().records().find(m.id);
      it != view_.leases.table().records().end()) {
    add(it->second.underlay);
    for (const auto& claim : it->second.claims) targets.push_back(claim.subnet);  // host-gw
  }
  return targets;
}

proto::ControlResponse ControlHandler::handle_faults(const proto::ControlRequest& request,
                                                     const ControlCaller& caller) {
  if (!view_.faults)
    return refuse(
        "faults are off on this agent; they are for test clusters only: set AllowFaults "
        "(--allow-faults true) and restart it");
  if (!caller.known || (caller.uid != 0 && caller.uid != ::geteuid()))
    return refuse("faults are only for root or the agent's own user; uid " +
                  (caller.known ? std::to_string(caller.uid) : std::string("unknown")) +
                  " may not");
  Faults& faults = *view_.faults;
  proto::ControlResponse out;
  if (request.has_fault_add()) {
    const auto& add = request.fault_add();
    Faults::Fault f;
    f.expires = Faults::Clock::now() + std::chrono::seconds(add.seconds());
    std::string what;
    if (add.clock_offset_ms() != 0) {
      f.clock_offset = std::chrono::milliseconds(add.clock_offset_ms());
      f.loss_percent = 0;
      f.inbound = f.outbound = false;
      what = "this host's wall clock moved " + signed_seconds(f.clock_offset) + " for " +
             std::to_string(add.seconds()) + " s";
    } else {
      f.loss_percent = add.loss_percent() == 0 ? 100 : add.loss_percent();
      f.inbound = !add.outbound_only();
      f.outbound = !add.inbound_only();
      for (const auto& peer : add.peers()) {
        auto targets = fault_targets(peer);
        if (!targets) return refuse(targets.error().message());
        f.peers.push_back(peer);
        for (const Cidr& t : *targets)
          if (std::find(f.targets.begin(), f.targets.end(), t) == f.targets.end())
            f.targets.push_back(t);
      }
      what = (f.loss_percent >= 100 ? std::string("dropping")
                                    : "losing " + std::to_string(f.loss_percent) + " % of") +
             " packets " +
             (f.inbound && f.outbound ? "to and from"
              : f.inbound             ? "from"
                                      : "to") +
             " " + joined(f.peers) + " for " + std::to_string(add.seconds()) + " s";
    }
    const bool clock = f.is_clock();
    auto id = faults.add(std::move(f));
    if (!id) return refuse("fault not added: " + id.error().message());
    // Clock faults add up, so the log says where the clock stands now.
    spdlog::warn("shoal fault {}: {}{} (uid {})", *id, what,
                 clock ? ", now " + signed_seconds(faults.clock_offset()) + " in all" : "",
                 caller.uid);
    out.set_message("fault " + std::to_string(*id) + ": " + what);
  } else if (request.has_fault_clear()) {
    const uint64_t id = request.fault_clear().id();
    auto ended = faults.clear(id);
    if (!ended) return refuse("faults not cleared: " + ended.error().message());
    if (id != 0 && *ended == 0) return refuse("no fault " + std::to_string(id) + " is on");
    if (*ended > 0) spdlog::warn("shoal fault: cleared {} fault(s) (uid {})", *ended, caller.uid);
    out.set_message("cleared " + std::to_string(*ended) + " fault(s)");
  }
  list_faults(faults, out);
  return out;
}

}  // namespace shoal::agent
