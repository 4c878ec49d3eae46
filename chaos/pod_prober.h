// Probes pod-to-pod reachability for shoal-chaos: every pod pings every pod on other hosts,
// in rounds, from one raw ICMP socket per pod opened inside the pod's namespace. No process
// per ping: a round of 90 pairs costs 90 small datagrams, so it can run four times a second.
//
// A round is start_round(), then poll() until the next round begins; a pair counts as reached
// when its echo reply for this round came back. Pods without an address yet are not counted.
// Replies are matched by the ICMP id (the prober's pod index) and sequence (the round), so a late
// reply never counts for a newer round.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/status.h"

namespace shoal::chaos {

class PodProber {
 public:
  struct Pod {
    std::string ns;       // its network namespace
    std::string address;  // its IPv4 address, "" while it has none
    uint32_t host = 0;    // pods of one host do not probe each other
    std::string name;     // "h2p1", for the report
  };

  // Opens one socket per pod (root only: raw sockets, setns).
  static Result<PodProber> open(std::vector<Pod> pods);

  // Pod i's address changed (its host was given a new subnet).
  void set_address(size_t pod, std::string address) { pods_[pod].address = std::move(address); }

  // Ends the round in flight (its result: `reached` of `probed`, and one pair that missed)
  // and sends the next one's echo requests.
  struct Round {
    size_t reached = 0, probed = 0;
    std::string first_miss;                             // "h1p1 -> h3p1 (100.64.3.2)"
    std::chrono::steady_clock::time_point last_answer;  // when the round's last reply came
  };
  Round start_round();
  // Reads replies for up to `wait`.
  void poll(std::chrono::milliseconds wait);

 private:
  explicit PodProber(std::vector<Pod> pods) : pods_(std::move(pods)) {}
  Round tally() const;

  std::vector<Pod> pods_;
  std::vector<Fd> sockets_;
  uint16_t round_ = 0;
  bool in_flight_ = false;
  std::vector<std::vector<bool>> answered_;  // [from][to], this round
  std::vector<std::vector<bool>> asked_;
  std::chrono::steady_clock::time_point last_answer_;
};

}  // namespace shoal::chaos
