#include "backends/udp/peers.h"

#include <algorithm>

#include "backends/udp/udp_socket.h"

namespace shoal::udp {

PeerTable::PeerTable(std::vector<Peer> peers, std::vector<Route> routes)
    : peers_(std::move(peers)), routes_(std::move(routes)) {
  std::sort(routes_.begin(), routes_.end(),
            [](const Route& a, const Route& b) { return a.network < b.network; });
  for (uint32_t i = 0; i < peers_.size(); ++i) {
    Peer& p = peers_[i];
    p.address_length = to_sockaddr(p.endpoint, p.address);
    by_endpoint_.emplace_back(p.endpoint, i);
    by_owner_.emplace_back(p.state->owner, i);
  }
  std::sort(by_endpoint_.begin(), by_endpoint_.end());
  std::sort(by_owner_.begin(), by_owner_.end());
}

const Peer* PeerTable::route(uint32_t ipv4) const {
  // The last subnet starting at or below the address; subnets never overlap, so it is the
  // only one that can hold it.
  auto it = std::upper_bound(routes_.begin(), routes_.end(), ipv4,
                             [](uint32_t a, const Route& r) { return a < r.network; });
  if (it == routes_.begin()) return nullptr;
  --it;
  if ((ipv4 & it->mask) != it->network) return nullptr;
  return &peers_[it->peer];
}

const Peer* PeerTable::at(const Endpoint& endpoint) const {
  auto it = std::lower_bound(by_endpoint_.begin(), by_endpoint_.end(), endpoint,
                             [](const auto& entry, const Endpoint& e) { return entry.first < e; });
  if (it == by_endpoint_.end() || !(it->first == endpoint)) return nullptr;
  return &peers_[it->second];
}

const Peer* PeerTable::with_key(const crypto::PublicKey& key) const {
  for (const Peer& p : peers_) {
    if (p.state->key == key) return &p;
  }
  return nullptr;
}

const Peer* PeerTable::with_owner(const NodeId& owner) const {
  auto it = std::lower_bound(by_owner_.begin(), by_owner_.end(), owner,
                             [](const auto& entry, const NodeId& id) { return entry.first < id; });
  if (it == by_owner_.end() || !(it->first == owner)) return nullptr;
  return &peers_[it->second];
}

Reclaimer::Reclaimer(int workers) : seen_(static_cast<size_t>(workers)) {
  for (auto& s : seen_) s.store(0);
}

Reclaimer::~Reclaimer() {
  for (auto& [epoch, free] : retired_) free();
}

void Reclaimer::quiescent(int worker) {
  seen_[static_cast<size_t>(worker)].store(epoch_.load(std::memory_order_acquire),
                                           std::memory_order_release);
}

void Reclaimer::retire(std::function<void()> what) {
  std::lock_guard lock(mutex_);
  retired_.emplace_back(epoch_.fetch_add(1, std::memory_order_acq_rel), std::move(what));
}

void Reclaimer::collect() {
  uint64_t oldest = UINT64_MAX;
  for (const auto& s : seen_) oldest = std::min(oldest, s.load(std::memory_order_acquire));
  std::vector<std::function<void()>> due;
  {
    std::lock_guard lock(mutex_);
    auto keep = std::partition(retired_.begin(), retired_.end(),
                               [&](const auto& r) { return r.first >= oldest; });
    for (auto it = keep; it != retired_.end(); ++it) due.push_back(std::move(it->second));
    retired_.erase(keep, retired_.end());
  }
  for (auto& free : due) free();
}

}  // namespace shoal::udp
