// datapath_install_bench: how fast the vxlan backend puts a large table into the kernel.
// In a network namespace of its own (unshare; root), on a veth underlay, with a synthetic
// lease table of PEERS (default 1,000) peers:
//   install_s.peersN           s   one reconcile from nothing: device, N routes, N neighbours,
//                                  N FDB entries
//   noop_reconcile_ms.peersN   ms  a reconcile when nothing changed (the median of 20): what
//                                  the periodic check and every event cost
//   repair_ms.peersN           ms  a reconcile that puts back one route deleted by hand
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backends/kernel_datapath.h"
#include "bench/figure.h"
#include "common/rng.h"
#include "node/datapath_plan.h"

using namespace shoal;
using shoal::bench::figure;
using shoal::bench::wall_seconds;

int main() {
  if (::geteuid() != 0) {
    std::printf("# SKIP datapath_install_bench: needs root\n");
    return 77;
  }
  if (::unshare(CLONE_NEWNET) != 0) {
    std::printf("# cannot make a network namespace: %s\n", std::strerror(errno));
    return 1;
  }
  const char* env = std::getenv("PEERS");
  const int peers = env ? std::max(1, std::atoi(env)) : 1000;
  if (std::system(
          "ip link set lo up && ip link add u0 type veth peer name u0peer && "
          "ip addr add 192.0.2.1/24 dev u0 && ip link set u0 up && ip link set u0peer up") != 0) {
    std::printf("# cannot make the underlay\n");
    return 1;
  }

  // A table of `peers` peers in 100.64.0.0/10, /24 each, underlays spread over 192.0.2.0/24.
  using namespace std::chrono;
  const WallTime now{milliseconds(1767225600000)};
  lease::Table table(hours(1));
  Rng rng(1);
  NodeId self;
  for (int i = 0; i <= peers; ++i) {
    lease::NodeRecord r;
    r.id = NodeId::random(rng);
    if (i == 0) self = r.id;
    r.version = 1;
    r.name = "h" + std::to_string(i);
    r.underlay = IpAddress::v4(192, 0, 2, static_cast<uint8_t>(1 + i % 250));
    const node::Mac mac{0x02,
                        0x5e,
                        0,
                        static_cast<uint8_t>(i >> 16),
                        static_cast<uint8_t>(i >> 8),
                        static_cast<uint8_t>(i)};
    r.backend_data = node::encode_backend_data({mac, {}});
    const uint32_t base = (100u << 24) | (64u << 16);
    r.claims.push_back(
        {*Cidr::make(IpAddress::v4(base + (static_cast<uint32_t>(i) << 8)), 24), HlcStamp{i, 0}});
    r.renewed_at = now;
    table.merge(r);
  }
  auto opened = backends::Netlink::open();
  if (!opened) {
    std::printf("# %s\n", opened.error().to_string().c_str());
    return 1;
  }
  auto& netlink = **opened;
  backends::KernelDatapath datapath(netlink, node::Mac{0x02, 0x5e, 0, 0, 0, 0});
  // Each reconcile reads the host's links and addresses once, as the agent's does.
  auto host = [&] {
    auto read = datapath.read_host();
    return read ? std::move(read).value() : backends::HostLinks{};
  };
  auto gathered = datapath.gather_facts(IpAddress::v4(192, 0, 2, 1), host());
  if (!gathered) {
    std::printf("# %s\n", gathered.error().to_string().c_str());
    return 1;
  }
  const auto facts = *gathered;
  const auto owners = table.owners(now);

  double t0 = wall_seconds();
  const auto plan = node::plan(table, owners, self, now, facts, {});
  const double plan_s = wall_seconds() - t0;
  t0 = wall_seconds();
  auto result = datapath.reconcile(plan, facts, host());
  const double install_s = wall_seconds() - t0;
  std::printf("# plan of %zu routes in %.3f ms; install: %zu changes, %zu errors%s%s\n",
              plan.routes.size(), plan_s * 1e3, result.changes(), result.errors,
              result.first_errors.empty() ? "" : ", the first: ",
              result.first_errors.empty() ? "" : result.first_errors.front().to_string().c_str());
  if (result.errors > 0 || plan.routes.size() != static_cast<size_t>(peers)) return 1;
  const std::string suffix = ".peers" + std::to_string(peers);
  figure("install_s" + suffix, install_s, "s");

  std::vector<double> noop;
  for (int i = 0; i < 20; ++i) {
    t0 = wall_seconds();
    const auto again = node::plan(table, owners, self, now, facts, {});
    result = datapath.reconcile(again, facts, host());
    noop.push_back((wall_seconds() - t0) * 1e3);
    if (result.changes() != 0) {
      std::printf("# a no-op reconcile changed %zu objects\n", result.changes());
      return 1;
    }
  }
  std::sort(noop.begin(), noop.end());
  figure("noop_reconcile_ms" + suffix, noop[noop.size() / 2], "ms");

  if (std::system("ip route del 100.64.1.0/24") != 0) return 1;
  t0 = wall_seconds();
  result = datapath.reconcile(node::plan(table, owners, self, now, facts, {}), facts, host());
  figure("repair_ms" + suffix, (wall_seconds() - t0) * 1e3, "ms");
  return result.drift_repaired == 1 ? 0 : 1;
}
