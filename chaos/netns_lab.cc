// The how of netns_lab.h, with iproute2 and nftables, the tools a person would use by hand:
// one `ip -batch` per namespace keeps set-up at a few processes per host.
#include "chaos/netns_lab.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "common/subprocess.h"

namespace shoal::chaos {
namespace {

Status failed(const std::vector<std::string>& argv, const Result<ProcessOutput>& ran) {
  std::string command;
  for (const auto& a : argv) command += (command.empty() ? "" : " ") + a;
  if (!ran.ok()) return Status::io_error(command + ": " + ran.error().message());
  std::string said = ran->output;
  while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
  return Status::io_error(command + " failed (exit " + std::to_string(ran->exit_code) +
                          "): " + said.substr(0, 500));
}

Status run(const std::vector<std::string>& argv, const std::string& input = "") {
  ProcessOptions options;
  options.input = input;
  options.capture_stderr = true;
  options.timeout = std::chrono::seconds(20);
  auto ran = run_process(argv, options);
  if (!ran.ok() || ran->exit_code != 0) return failed(argv, ran);
  return {};
}

}  // namespace

NetnsLab::NetnsLab(NetnsLab&& other) noexcept
    : prefix_(std::move(other.prefix_)),
      hosts_(other.hosts_),
      pods_(other.pods_),
      made_(std::exchange(other.made_, {})),
      pod_subnet_(std::move(other.pod_subnet_)),
      mbit_(std::move(other.mbit_)) {}

Result<NetnsLab> NetnsLab::create(std::string prefix, size_t hosts, size_t pods_per_host) {
  if (hosts == 0 || hosts > kMaxLabHosts)
    return Status::invalid_argument("namespaces hold 1 to " + std::to_string(kMaxLabHosts) +
                                    " hosts, not " + std::to_string(hosts) +
                                    " (the simulator, --sim, runs more)");
  if (pods_per_host > kMaxLabPodsPerHost)
    return Status::invalid_argument("at most " + std::to_string(kMaxLabPodsPerHost) +
                                    " pods per host on namespaces");
  NetnsLab lab(std::move(prefix), hosts, pods_per_host);
  if (Status s = lab.build(); !s.ok()) return s;  // the destructor removes what was made
  return lab;
}

std::string NetnsLab::host_ns(uint32_t h) const { return prefix_ + "-h" + std::to_string(h + 1); }
std::string NetnsLab::pod_ns(uint32_t h, uint32_t j) const {
  return host_ns(h) + "-p" + std::to_string(j + 1);
}
std::string NetnsLab::host_address(uint32_t h) const { return "192.0.2." + std::to_string(11 + h); }

std::string NetnsLab::pod_address(const Cidr& subnet, uint32_t j) {
  auto a = subnet.address_at(2 + j);
  return a ? a->to_string() : "";
}

Status NetnsLab::add_namespace(const std::string& name) {
  made_.push_back(name);  // before: a half-made one is removed too
  return run({"ip", "netns", "add", name});
}

Status NetnsLab::batch(const std::string& ns, const std::string& commands) {
  return run({"ip", "-n", ns, "-batch", "-"}, commands);
}

Result<std::string> NetnsLab::exec_in(const std::string& ns, const std::vector<std::string>& argv) {
  std::vector<std::string> full = {"ip", "netns", "exec", ns};
  full.insert(full.end(), argv.begin(), argv.end());
  ProcessOptions options;
  options.capture_stderr = true;
  options.timeout = std::chrono::seconds(20);
  auto ran = run_process(full, options);
  if (!ran.ok() || ran->exit_code != 0) return failed(full, ran);
  return std::move(ran->output);
}

Status NetnsLab::build() {
  const std::string sw = prefix_ + "-sw";
  if (Status s = add_namespace(sw); !s.ok()) return s;
  if (Status s = batch(sw, "link set lo up\nlink add br0 type bridge\nlink set br0 up\n"); !s.ok())
    return s;
  for (uint32_t h = 0; h < hosts_; ++h) {
    const std::string ns = host_ns(h), port = "h" + std::to_string(h + 1);
    if (Status s = add_namespace(ns); !s.ok()) return s;
    std::string commands = "link set lo up\nlink add u0 type veth peer name " + port + " netns " +
                           sw + "\naddr add " + host_address(h) +
                           "/24 dev u0\nlink set u0 up\nlink add cni0 type bridge\n"
                           "link set cni0 up\n";
    for (uint32_t j = 0; j < pods_; ++j) {
      const std::string pod = pod_ns(h, j), veth = "vp" + std::to_string(j + 1);
      if (Status s = add_namespace(pod); !s.ok()) return s;
      commands += "link add " + veth + " type veth peer name eth0 netns " + pod + "\nlink set " +
                  veth + " master cni0 up\n";
    }
    if (Status s = batch(ns, commands); !s.ok()) return s;
    if (Status s = batch(sw, "link set " + port + " master br0 up\n"); !s.ok()) return s;
    for (uint32_t j = 0; j < pods_; ++j)
      if (Status s = batch(pod_ns(h, j), "link set lo up\nlink set eth0 up\n"); !s.ok()) return s;
    // Forwarding for the pods; no IPv6, so only what the agents send crosses the underlay.
    auto sysctl = exec_in(
        ns, {"sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.disable_ipv6=1"});
    if (!sysctl.ok()) return sysctl.error();
  }
  return set_links({});
}

Status NetnsLab::set_links(const Links& links) {
  // The whole table each time: a fault's end is the table without it, never a stale rule.
  std::string rules =
      "table bridge chaos\ndelete table bridge chaos\n"
      "table bridge chaos {\n chain links {\n"
      "  type filter hook forward priority -10; policy accept;\n";
  for (const auto& [from, to] : links.cut)
    rules += "  iifname \"h" + std::to_string(from + 1) + "\" oifname \"h" +
             std::to_string(to + 1) + "\" drop\n";
  for (uint32_t h = 0; h < links.loss.size(); ++h) {
    const auto per_10k = static_cast<int>(links.loss[h] * 10000 + 0.5);
    if (per_10k <= 0) continue;
    const std::string coin =
        per_10k >= 10000 ? "" : " numgen random mod 10000 < " + std::to_string(per_10k);
    const std::string port = "\"h" + std::to_string(h + 1) + "\"";
    rules += "  iifname " + port + coin + " drop\n  oifname " + port + coin + " drop\n";
  }
  rules += " }\n}\n";
  return run({"ip", "netns", "exec", prefix_ + "-sw", "nft", "-f", "-"}, rules);
}

Status NetnsLab::set_bandwidth(uint32_t h, double mbit) {
  if (mbit_[h] == mbit) return {};
  const std::string port = "h" + std::to_string(h + 1);
  for (const auto& [ns, dev] :
       {std::pair{prefix_ + "-sw", port}, std::pair{host_ns(h), std::string("u0")}}) {
    std::vector<std::string> argv = {"tc", "-n", ns, "qdisc"};
    if (mbit > 0) {
      // A burst of 10 ms at the rate (at least two full frames) keeps tbf accurate at low
      // rates without starving TCP at high ones.
      const auto kbit = static_cast<int64_t>(mbit * 1000);
      const int64_t burst = std::max<int64_t>(3200, kbit * 1000 / 8 / 100);
      argv.insert(argv.end(),
                  {"replace", "dev", dev, "root", "tbf", "rate", std::to_string(kbit) + "kbit",
                   "burst", std::to_string(burst), "latency", "100ms"});
    } else {
      argv.insert(argv.end(), {"del", "dev", dev, "root"});
    }
    if (Status s = run(argv); !s.ok()) return s;
  }
  mbit_[h] = mbit;
  return {};
}

Status NetnsLab::address_pods(uint32_t h, const Cidr& subnet) {
  auto gateway = subnet.address_at(1);
  if (!gateway) return Status::invalid_argument("no room for pods in " + subnet.to_string());
  const std::string len = "/" + std::to_string(subnet.prefix());
  if (Status s = batch(host_ns(h), "addr flush dev cni0\naddr add " + gateway->to_string() + len +
                                       " dev cni0\n");
      !s.ok())
    return s;
  for (uint32_t j = 0; j < pods_; ++j) {
    const std::string address = pod_address(subnet, j);
    if (address.empty())
      return Status::invalid_argument("no room for pods in " + subnet.to_string());
    if (Status s = batch(pod_ns(h, j), "addr flush dev eth0\naddr add " + address + len +
                                           " dev eth0\nroute replace default via " +
                                           gateway->to_string() + "\n");
        !s.ok())
      return s;
  }
  pod_subnet_[h] = subnet;
  return {};
}

void NetnsLab::teardown() {
  // Last made first: pods, then hosts, then the switch. Deleting a namespace takes its
  // devices and nft rules with it; a veth goes with either end.
  while (!made_.empty()) {
    (void)run({"ip", "netns", "delete", made_.back()});
    made_.pop_back();
  }
}

}  // namespace shoal::chaos
