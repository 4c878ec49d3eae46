#include "agent/faults.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace shoal::agent {

Faults::Faults(boost::asio::io_context& io, Install install)
    : timer_(io), install_(std::move(install)) {}

Faults::~Faults() {
  timer_.cancel();
  if (!installed_) return;
  if (Status s = install_({}); !s.ok())
    spdlog::warn("could not remove the fault table (its rules expire on their own): {}",
                 s.to_string());
}

Result<uint64_t> Faults::add(Fault fault) {
  if (faults_.size() >= kMaxFaults)
    return Status::unavailable(std::to_string(kMaxFaults) +
                               " faults are on already; clear some first");
  fault.id = next_id_++;
  faults_.push_back(std::move(fault));
  if (Status s = install_now(); !s.ok()) {
    faults_.pop_back();
    (void)install_now();  // back to the rules that were on
    return s;
  }
  arm();
  return faults_.back().id;
}

Result<size_t> Faults::clear(uint64_t id) {
  const auto before = faults_;
  std::erase_if(faults_, [&](const Fault& f) { return id == 0 || f.id == id; });
  const size_t ended = before.size() - faults_.size();
  if (ended == 0) return ended;
  if (Status s = install_now(); !s.ok()) {
    faults_ = before;
    return s;
  }
  arm();
  return ended;
}

Status Faults::install_now() {
  const auto now = Clock::now();
  std::vector<backends::FaultRule> rules;
  for (const Fault& f : faults_)
    if (!f.is_clock())
      rules.push_back({f.id, f.loss_percent, f.inbound, f.outbound, f.targets,
                       std::chrono::ceil<std::chrono::milliseconds>(f.expires - now)});
  // A clock fault alone needs no table (nor nft on the host).
  if (rules.empty() && !installed_) return {};
  Status s = install_(rules);
  if (s.ok()) installed_ = !rules.empty();
  return s;
}

std::chrono::milliseconds Faults::clock_offset() const {
  std::chrono::milliseconds sum{0};
  for (const Fault& f : faults_) sum += f.clock_offset;
  return sum;
}

void Faults::arm() {
  timer_.cancel();
  if (faults_.empty()) return;
  const auto first = std::min_element(faults_.begin(), faults_.end(), [](auto& a, auto& b) {
                       return a.expires < b.expires;
                     })->expires;
  timer_.expires_at(first);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) expire();
  });
}

void Faults::expire() {
  const auto now = Clock::now();
  for (const Fault& f : faults_)
    if (f.expires <= now) spdlog::info("fault {} expired", f.id);
  std::erase_if(faults_, [&](const Fault& f) { return f.expires <= now; });
  // The kernel dropped the expired elements already; this removes their rules and sets.
  if (Status s = install_now(); !s.ok())
    spdlog::warn("could not rewrite the fault table after an expiry: {}", s.to_string());
  arm();
}

}  // namespace shoal::agent
