// Faults: the test-only faults this agent has on (`shoal fault`, only with AllowFaults). A
// network fault drops or loses packets to and from peers (see backends/faults.h for what it
// does in the kernel); a clock fault moves the wall clock this agent reads (clock_offset()).
// It keeps what was asked and what it resolved to, installs the kernel table after every
// change, and ends each fault when it expires (its own timer; for network faults the kernel's
// element timeouts end them too if the agent dies, and a clock fault dies with the process).
//
// Promises: at most kMaxFaults at once; a fault never outlives its expiry; a failed install
// leaves the list as it was before the change and says why; the destructor removes the table
// if this object installed one. Runs on the agent's event loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "agent/asio.h"
#include "backends/faults.h"
#include "common/cidr.h"
#include "common/status.h"

namespace shoal::agent {

class Faults {
 public:
  using Clock = std::chrono::steady_clock;
  using Install = std::function<Status(const std::vector<backends::FaultRule>&)>;
  static constexpr size_t kMaxFaults = 32;

  struct Fault {
    uint64_t id = 0;  // given by add()
    uint32_t loss_percent = 100;
    bool inbound = true, outbound = true;
    std::vector<std::string> peers;  // as asked, for people
    std::vector<Cidr> targets;
    std::chrono::milliseconds clock_offset{0};  // nonzero: a clock fault, with no targets
    Clock::time_point expires;
    bool is_clock() const { return clock_offset.count() != 0; }
  };

  // `install` puts rules in the kernel (backends::install_faults; tests pass their own).
  explicit Faults(boost::asio::io_context& io, Install install = backends::install_faults);
  ~Faults();
  Faults(const Faults&) = delete;
  Faults& operator=(const Faults&) = delete;

  // The new fault's id, or why it is not on (the limit, or what the kernel said).
  Result<uint64_t> add(Fault fault);
  // Ends fault `id`, or every fault for 0: how many ended, or why the kernel refused.
  Result<size_t> clear(uint64_t id);
  const std::vector<Fault>& list() const { return faults_; }
  // How far the clock faults now on move the wall clock: their sum, 0 when there are none.
  std::chrono::milliseconds clock_offset() const;

 private:
  Status install_now();
  void arm();
  void expire();

  boost::asio::steady_timer timer_;
  Install install_;
  std::vector<Fault> faults_;
  uint64_t next_id_ = 1;
  bool installed_ = false;  // the table is ours to remove
};

}  // namespace shoal::agent
