// AgentSampler reads real agents for the judge, in every mode that runs them (namespaces, a
// real cluster): each host's answers to `members` and `leases` (what `shoal ... --json`
// prints, fetched however the mode reaches the host) become the judge's HostViews. It keeps
// each host's last view of the members, so that a death is seen as a member turning dead
// between two samples, and so that a disagreement can be named ("h4 sees h7 suspect").
//
// Hosts that do not answer count as not agreeing, never as down: only the mode knows whether
// a host is up (running, not frozen).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "chaos/judge.h"
#include "proto/control.pb.h"

namespace shoal::chaos {

class AgentSampler {
 public:
  // A host's answers; nullopt for one it did not give (or gave with an error).
  struct Answers {
    std::optional<proto::ControlResponse> members, leases;
  };
  using Read = std::function<Answers(uint32_t host)>;

  // `names[h]`: host h's member name, as the agents list it.
  AgentSampler(std::vector<std::string> names, Read read);

  // Reads every host that is up; the others get an empty view.
  void read(const std::vector<bool>& up);
  // read(), then tells the judge of every member that turned dead since the last sample
  // (`reachable[h]`: host h was running and not frozen) and gives it the sample.
  void sample(double t, Judge& judge, const std::vector<bool>& up,
              const std::vector<bool>& reachable);
  // Host h starts again: its first look is not compared with its last.
  void restarted(uint32_t h) { members_[h].clear(); }

  const std::vector<HostView>& views() const { return views_; }
  MemberProblem member_problem() const;

 private:
  std::optional<uint32_t> host_of(const std::string& name) const;

  std::vector<std::string> names_;
  std::map<std::string, uint32_t> index_;
  Read read_;
  std::vector<HostView> views_;
  std::vector<std::map<std::string, std::string>> members_;  // per host: name -> state
};

}  // namespace shoal::chaos
