#include "chaos/agent_sampler.h"

#include <algorithm>

namespace shoal::chaos {

AgentSampler::AgentSampler(std::vector<std::string> names, Read read)
    : names_(std::move(names)), read_(std::move(read)), members_(names_.size()) {
  for (uint32_t h = 0; h < names_.size(); ++h) index_[names_[h]] = h;
}

std::optional<uint32_t> AgentSampler::host_of(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

void AgentSampler::read(const std::vector<bool>& up) {
  views_.assign(names_.size(), HostView{});
  for (uint32_t h = 0; h < names_.size(); ++h) {
    if (!up[h]) continue;
    HostView& v = views_[h];
    v.up = true;
    const Answers answers = read_(h);
    std::map<std::string, std::string> seen;
    if (answers.members)
      for (const auto& m : answers.members->members()) {
        seen[m.name()] = m.state();
        v.alive += m.state() == "alive";
        v.suspect += m.state() == "suspect";
      }
    members_[h] = std::move(seen);
    if (answers.leases) {
      std::vector<std::string> owners;
      for (const auto& l : answers.leases->leases()) {
        owners.push_back(l.node() + " " + l.subnet());
        if (l.own() && l.ready()) v.ready_subnet = Cidr::parse(l.subnet());
      }
      std::sort(owners.begin(), owners.end());
      std::string all;
      for (const auto& o : owners) all += o + "\n";
      v.owners_key = std::hash<std::string>{}(all);
      v.owned = owners.size();
    } else {
      v.owners_key = 0x5eed0000ULL + h;  // unread: agrees with nobody
    }
  }
}

void AgentSampler::sample(double t, Judge& judge, const std::vector<bool>& up,
                          const std::vector<bool>& reachable) {
  const auto before = members_;
  read(up);
  for (uint32_t o = 0; o < names_.size(); ++o)
    for (const auto& [name, state] : members_[o]) {
      if (state != "dead") continue;
      auto was = before[o].find(name);
      if (was != before[o].end() && was->second == "dead") continue;
      if (before[o].empty()) continue;  // a restarted observer's first look
      if (auto s = host_of(name)) judge.death(t, o, *s, reachable[*s]);
    }
  judge.sample(t, views_, member_problem());
}

MemberProblem AgentSampler::member_problem() const {
  return [this](uint32_t h, const std::vector<uint32_t>& up) {
    const auto& seen = members_[h];
    if (seen.empty()) return host_name(h) + " does not answer on its control socket";
    std::string problem =
        first_member_problem(h, up, [&](uint32_t other) -> std::optional<std::string> {
          auto it = seen.find(names_[other]);
          if (it == seen.end()) return std::nullopt;
          return it->second;
        });
    if (!problem.empty()) return problem;
    for (const auto& [name, state] : seen) {
      const auto other = host_of(name);
      if (state == "alive" && (!other || std::find(up.begin(), up.end(), *other) == up.end()))
        return host_name(h) + " still sees " + name + " alive, which is down or frozen";
    }
    return host_name(h) + " sees members that are not up";
  };
}

}  // namespace shoal::chaos
