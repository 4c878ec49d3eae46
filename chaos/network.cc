#include "chaos/network.h"

#include <algorithm>

namespace shoal::chaos {

void Network::set_node_loss(NodeIndex node, double probability) {
  if (node_loss_.size() <= node) node_loss_.resize(node + 1, 0.0);
  node_loss_[node] = probability;
}

void Network::set_node_delay(NodeIndex node, Duration delay) {
  if (node_delay_.size() <= node) node_delay_.resize(node + 1, Duration::zero());
  node_delay_[node] = delay;
}

void Network::partition(const std::vector<std::vector<NodeIndex>>& groups) {
  group_.clear();
  for (size_t g = 0; g < groups.size(); ++g) {
    for (NodeIndex n : groups[g]) {
      if (group_.size() <= n) group_.resize(n + 1, 0);
      group_[n] = static_cast<int>(g);
    }
  }
}

void Network::heal() {
  loss_ = 0;
  node_loss_.clear();
  node_delay_.clear();
  group_.clear();
  blocked_.clear();
  cuts_.clear();
  link_losses_.clear();
}

uint64_t Network::add_cut(Cut cut) {
  cuts_.emplace_back(next_cut_, std::move(cut));
  return next_cut_++;
}

void Network::remove_cut(uint64_t id) {
  std::erase_if(cuts_, [id](const auto& c) { return c.first == id; });
}

uint64_t Network::add_link_loss(Cut between, double probability) {
  link_losses_.push_back({next_cut_, std::move(between), probability});
  return next_cut_++;
}

void Network::remove_link_loss(uint64_t id) {
  std::erase_if(link_losses_, [id](const LinkLoss& l) { return l.id == id; });
}

bool Network::reachable(NodeIndex from, NodeIndex to) const {
  if (at_or(group_, from, 0) != at_or(group_, to, 0)) return false;
  for (const auto& [id, cut] : cuts_)
    if (cut(from, to)) return false;
  return blocked_.empty() || !blocked_.count({from, to});
}

double Network::link_loss(NodeIndex from, NodeIndex to) const {
  // Independent losses compose: the message survives only if it survives each of them.
  double keep = (1 - loss_) * (1 - at_or(node_loss_, from, 0.0)) * (1 - at_or(node_loss_, to, 0.0));
  for (const LinkLoss& l : link_losses_)
    if (l.between(from, to)) keep *= 1 - l.probability;
  return 1 - keep;
}

Duration Network::latency(NodeIndex from, NodeIndex to, Rng& rng) const {
  const auto span = static_cast<uint64_t>((latency_max_ - latency_min_).count()) + 1;
  return latency_min_ + Duration(rng.below(span)) + at_or(node_delay_, from, Duration::zero()) +
         at_or(node_delay_, to, Duration::zero());
}

std::optional<Duration> Network::datagram(NodeIndex from, NodeIndex to, Rng& rng) const {
  if (!reachable(from, to)) return std::nullopt;
  if (rng.chance(link_loss(from, to))) return std::nullopt;
  return latency(from, to, rng);
}

std::optional<Duration> Network::stream(NodeIndex from, NodeIndex to, Rng& rng) const {
  if (!reachable(from, to) || !reachable(to, from)) return std::nullopt;
  Duration delay = latency(from, to, rng);
  // TCP resends a lost segment after an RTO (Linux: 200 ms minimum, doubling); after six
  // losses in a row the connection is given up.
  Duration rto = 200ms;
  const double loss = link_loss(from, to);
  for (int attempt = 0; rng.chance(loss); ++attempt) {
    if (attempt == 6) return std::nullopt;
    delay += rto;
    rto *= 2;
  }
  return delay;
}

}  // namespace shoal::chaos
