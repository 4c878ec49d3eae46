// scripts/bench lease_sim: the lease table. Prints `figure <name> <value> <unit>` lines.
//
// placed_agreed.n<N>      s  from the (common) start until every member owns a subnet and
//                            all owner maps agree, N members starting at once via 3 seeds
// ready_agreed.n<N>       s  the same, and every claim has also stood its settle window
//                            (the moment each host would write subnet.env)
// reallocations_pct.n<N>  %  members that had to give up a claim and pick again
// sync_bytes.converged    B  one lease anti-entropy exchange between two converged members
// sync_bytes.new.n<N>     B  the same between a new member and a converged one
// renew_ms               ms  SQLite cost of one renewal (own record, fsync included)
// load_5000_ms           ms  opening a store with 5,000 records and building the table
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/figure.h"
#include "chaos/lease_cluster.h"
#include "common/rng.h"
#include "store/store.h"

using namespace shoal;
using shoal::bench::figure;
using namespace shoal::chaos;

namespace {

lease::LeaseConfig config() {
  lease::LeaseConfig c;
  c.network = lease::NetworkConfig::make(lease::NetworkSpec{"100.64.0.0/10", 24}).value();
  return c;
}

// Runs a whole sync between two cores (as gossip's push-pull would) and counts its bytes.
size_t sync_bytes(lease::LeaseCore& a, lease::LeaseCore& b, TimePoint now, WallTime wall) {
  Bytes message = a.sync_open();
  size_t total = message.size();
  lease::LeaseCore* side[2] = {&b, &a};
  for (uint32_t round = 0; round < 8; ++round) {
    auto answer = side[round % 2]->sync_step(now, wall, message, round);
    if (!answer) break;
    total += answer->size();
    message = std::move(*answer);
  }
  return total;
}

void placement(size_t n, uint64_t seed) {
  const std::string tag = ".n" + std::to_string(n);
  LeaseCluster c(seed, n, config());
  for (NodeIndex i = 0; i < n; ++i) c.start(i, {0, 1, 2});
  const double wall0 = bench::wall_seconds();
  // Two instants: every member owns its claim in every owner map (the claims have agreed),
  // and, later, every claim has stood its settle window too (subnet.env would be written).
  double owned_at = -1;
  const bool ok = c.sim().run_until(
      [&] {
        if (owned_at < 0 && c.placed_and_agreed(LeaseCluster::Require::kOwned).empty())
          owned_at = to_seconds(c.sim().now());
        return owned_at >= 0 && c.placed_and_agreed().empty();
      },
      kTimeZero + 300s, 100ms);
  std::printf("# n=%zu: %s at %.1f simulated s (%.1f s wall)\n", n,
              ok ? "placed and agreed" : "NOT placed", to_seconds(c.sim().now()),
              bench::wall_seconds() - wall0);
  if (owned_at >= 0) figure("placed_agreed" + tag, owned_at, "s");
  if (ok) figure("ready_agreed" + tag, to_seconds(c.sim().now()), "s");
  figure("reallocations_pct" + tag, 100.0 * double(c.reallocations()) / double(n), "%");

  // Two converged members, then a newcomer with an empty table.
  c.sim().run_for(5s);
  // Copies: a sync merges into both sides, and the cluster's own cores stay untouched.
  lease::LeaseCore a = *c.lease(3);
  lease::LeaseCore b = *c.lease(4);
  figure("sync_bytes.converged" + tag, double(sync_bytes(a, b, c.sim().now(), c.sim().wall(3))),
         "B");
  Rng rng(seed);
  lease::LeaseCore fresh(config(),
                         {NodeId::random(rng), "new", IpAddress::v4(192, 0, 2, 250), "", {}}, {},
                         c.sim().now(), c.sim().wall(3));
  figure("sync_bytes.new" + tag, double(sync_bytes(fresh, a, c.sim().now(), c.sim().wall(3))), "B");
}

void storage() {
  char tmpl[] = "/tmp/shoal-bench-XXXXXX";
  const std::filesystem::path dir = ::mkdtemp(tmpl);
  struct Cleanup {
    std::filesystem::path p;
    ~Cleanup() { std::filesystem::remove_all(p); }
  } cleanup{dir};
  Rng rng(9);
  auto make = [&](uint64_t version) {
    lease::NodeRecord r;
    r.id = NodeId::random(rng);
    r.version = version;
    r.name = "host-" + std::to_string(version);
    r.underlay = IpAddress::v4(192, 0, 2, 1);
    r.claims = {{*Cidr::parse("100.64.7.0/24"), {1767225600000, 0}}};
    r.renewed_at = WallTime(std::chrono::milliseconds(1767225600000));
    return r;
  };
  {
    auto opened = store::Store::open((dir / "renew.db").string());
    if (!opened) {
      std::printf("# %s\n", opened.error().to_string().c_str());
      return;
    }
    auto& s = **opened;
    lease::NodeRecord own = make(1);
    constexpr int kRenewals = 50;
    const double t0 = bench::wall_seconds();
    for (int i = 0; i < kRenewals; ++i) {
      own.version++;
      if (const Status saved = s.save_own(own); !saved.ok())
        std::printf("# %s\n", saved.to_string().c_str());
    }
    figure("renew_ms", (bench::wall_seconds() - t0) * 1000.0 / kRenewals, "ms");
  }
  {
    const std::string path = (dir / "load.db").string();
    {
      auto opened = store::Store::open(path);
      std::vector<lease::NodeRecord> records;
      for (int i = 0; i < 5000; ++i) records.push_back(make(1 + i));
      if (!opened || !opened.value()->save_table(records, {}).ok()) return;
    }
    const double t0 = bench::wall_seconds();
    auto opened = store::Store::open(path);
    if (!opened) return;
    auto stored = opened.value()->load_leases();
    if (!stored) return;
    lease::LeaseCore core(
        config(), {NodeId::random(rng), "me", IpAddress::v4(192, 0, 2, 2), "", {}},
        std::move(stored->leases), kTimeZero, WallTime(std::chrono::milliseconds(1767225600000)));
    figure("load_5000_ms", (bench::wall_seconds() - t0) * 1000.0, "ms");
    std::printf("# loaded %zu records\n", core.table().records().size());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes = {100, 1000};
  if (argc > 1) {
    sizes.clear();
    for (int i = 1; i < argc; ++i) sizes.push_back(std::strtoul(argv[i], nullptr, 10));
  }
  const uint64_t seed =
      std::getenv("SHOAL_SEED") ? std::strtoull(std::getenv("SHOAL_SEED"), nullptr, 10) : 1;
  std::printf(
      "# lease_sim: lan gossip, 100.64.0.0/10 in /24s, all members start at t=0, seed %llu\n",
      static_cast<unsigned long long>(seed));
  std::printf("# target: 1,000 placed and agreed within 5 s of the start, < 1%% re-allocations\n");
  storage();
  for (size_t n : sizes) placement(n, seed);
  return 0;
}
