#include "lease/allocator.h"

#include <algorithm>

namespace shoal::lease {
namespace {

uint64_t score(const NodeId& node, const Cidr& subnet) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (uint8_t b : node.bytes()) h = (h ^ b) * 0x100000001b3ULL;
  for (uint8_t b : subnet.network().view()) h = (h ^ b) * 0x100000001b3ULL;
  h = (h ^ subnet.prefix()) * 0x100000001b3ULL;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;  // FNV alone mixes its last bytes poorly
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

}  // namespace

std::vector<Cidr> rendezvous_order(const NodeId& node, std::vector<Cidr> candidates) {
  std::vector<std::pair<uint64_t, Cidr>> scored;
  scored.reserve(candidates.size());
  for (const Cidr& c : candidates) scored.emplace_back(score(node, c), c);
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  for (size_t i = 0; i < scored.size(); ++i) candidates[i] = scored[i].second;
  return candidates;
}

std::optional<Cidr> pick_subnet(const NodeId& node, const std::vector<Cidr>& order,
                                const Table& table, WallTime now) {
  // Any valid claim by another node blocks a subnet, not only the winning one: stepping
  // onto a contested subnet would only make one more loser.
  std::vector<Cidr> taken;
  bool mixed_lengths = false;
  const uint8_t length = order.empty() ? 0 : order.front().prefix();
  for (const auto& [id, record] : table.records()) {
    if (id == node || !table.valid(record, now)) continue;
    for (const Claim& c : record.claims) {
      taken.push_back(c.subnet);
      mixed_lengths |= c.subnet.prefix() != length;
    }
  }
  std::sort(taken.begin(), taken.end());
  for (const Cidr& c : order) {
    // Same-length prefixes overlap only when equal; claims of another length (a peer with
    // another SubnetLen) need the full comparison.
    if (std::binary_search(taken.begin(), taken.end(), c)) continue;
    if (mixed_lengths &&
        std::any_of(taken.begin(), taken.end(), [&](const Cidr& t) { return t.overlaps(c); }))
      continue;
    return c;
  }
  return std::nullopt;
}

}  // namespace shoal::lease
