// The how of netns_lab.h, with iproute2 and nftables, the tools a person would use by hand:
// one `ip -batch` per namespace keeps set-up at a few processes per host.
#include "chaos/netns_lab.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "chaos/nat_router_rules.h"
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
      topology_(std::move(other.topology_)),
      made_(std::exchange(other.made_, {})),
      pod_subnet_(std::move(other.pod_subnet_)),
      mbit_(std::move(other.mbit_)),
      nat_resets_(std::move(other.nat_resets_)) {}

Result<NetnsLab> NetnsLab::create(std::string prefix, LabTopology topology) {
  const size_t hosts = topology.hosts;
  if (hosts == 0 || hosts > kMaxLabHosts)
    return Status::invalid_argument("namespaces hold 1 to " + std::to_string(kMaxLabHosts) +
                                    " hosts, not " + std::to_string(hosts) +
                                    " (the simulator, --sim, runs more)");
  if (topology.pods_per_host > kMaxLabPodsPerHost)
    return Status::invalid_argument("at most " + std::to_string(kMaxLabPodsPerHost) +
                                    " pods per host on namespaces");
  if (topology.nat_kinds.size() > kMaxLabNats)
    return Status::invalid_argument("namespaces hold at most " + std::to_string(kMaxLabNats) +
                                    " NAT routers");
  for (const std::string& kind : topology.nat_kinds)
    if (kind != "cone" && kind != "symmetric" && kind != "routed")
      return Status::invalid_argument("a router is \"cone\", \"symmetric\" or \"routed\", not \"" +
                                      kind + "\"");
  if (static_cast<size_t>(std::count(topology.nat_kinds.begin(), topology.nat_kinds.end(),
                                     "routed")) > kMaxLabRouted)
    return Status::invalid_argument("namespaces hold at most " + std::to_string(kMaxLabRouted) +
                                    " routed sites");
  topology.nat_of_host.resize(hosts, 0);
  std::vector<size_t> behind(topology.nat_kinds.size() + 1);
  for (uint32_t k : topology.nat_of_host) {
    if (k > topology.nat_kinds.size())
      return Status::invalid_argument("a host is behind NAT router " + std::to_string(k) +
                                      ", which the topology does not have");
    if (k == 0) continue;
    const bool plain = topology.nat_kinds[k - 1] == "routed";
    if (!plain && ++behind[k] > kMaxLabHostsPerNat)
      return Status::invalid_argument("namespaces hold at most " +
                                      std::to_string(kMaxLabHostsPerNat) +
                                      " hosts behind one NAT router (a packet's DSCP marks them)");
    if (plain && ++behind[k] > kMaxLabHostsPerRouted)
      return Status::invalid_argument("namespaces hold at most " +
                                      std::to_string(kMaxLabHostsPerRouted) +
                                      " hosts in one routed site (a /27 LAN)");
  }
  NetnsLab lab(std::move(prefix), std::move(topology));
  if (Status s = lab.build(); !s.ok()) return s;  // the destructor removes what was made
  return lab;
}

std::string NetnsLab::host_ns(uint32_t h) const { return prefix_ + "-h" + std::to_string(h + 1); }
std::string NetnsLab::pod_ns(uint32_t h, uint32_t j) const {
  return host_ns(h) + "-p" + std::to_string(j + 1);
}
std::string NetnsLab::host_address(uint32_t h) const {
  if (nat_of(h) == 0) return "192.0.2." + std::to_string(11 + h);
  if (routed(nat_of(h)))
    return "203.0.113." + std::to_string(32 * routed_index(nat_of(h)) + 1 + mark_of(h));
  return "198.51.100." + std::to_string(10 + mark_of(h));
}

uint32_t NetnsLab::routed_index(uint32_t k) const {
  uint32_t r = 0;
  for (uint32_t other = 1; other < k; ++other) r += routed(other);
  return r;
}

std::string NetnsLab::lan_gateway(uint32_t k) const {
  if (!routed(k)) return "198.51.100.1/24";
  return "203.0.113." + std::to_string(32 * routed_index(k) + 1) + "/27";
}

std::string NetnsLab::lan_network(uint32_t k) const {
  return "203.0.113." + std::to_string(32 * routed_index(k)) + "/27";
}

std::string NetnsLab::nat_ns(uint32_t k) const { return prefix_ + "-n" + std::to_string(k); }
std::string NetnsLab::nat_wan_address(uint32_t k) const {
  return "192.0.2." + std::to_string(220 + k);
}

uint32_t NetnsLab::mark_of(uint32_t h) const {
  const uint32_t k = nat_of(h);
  if (k == 0) return 0;
  uint32_t j = 0;
  for (uint32_t other = 0; other <= h; ++other) j += nat_of(other) == k;
  return j;
}

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
  for (uint32_t k = 1; k <= topology_.nat_kinds.size(); ++k)
    if (Status s = build_nat(k); !s.ok()) return s;
  for (uint32_t h = 0; h < hosts(); ++h) {
    const std::string ns = host_ns(h), port = "h" + std::to_string(h + 1);
    if (Status s = add_namespace(ns); !s.ok()) return s;
    const uint32_t k = nat_of(h);
    const std::string len = routed(k) ? "/27" : "/24";
    std::string commands = "link set lo up\nlink add u0 type veth peer name " + port + " netns " +
                           sw + "\naddr add " + host_address(h) + len +
                           " dev u0\nlink set u0 up\nlink add cni0 type bridge\n"
                           "link set cni0 up\n";
    if (k != 0) {
      const std::string gateway = lan_gateway(k);
      commands += "route add default via " + gateway.substr(0, gateway.find('/')) + "\n";
    } else {
      commands += routes_to_routed_lans(0);
    }
    for (uint32_t j = 0; j < pods_per_host(); ++j) {
      const std::string pod = pod_ns(h, j), veth = "vp" + std::to_string(j + 1);
      if (Status s = add_namespace(pod); !s.ok()) return s;
      commands += "link add " + veth + " type veth peer name eth0 netns " + pod + "\nlink set " +
                  veth + " master cni0 up\n";
    }
    if (Status s = batch(ns, commands); !s.ok()) return s;
    const std::string bridge = nat_of(h) == 0 ? "br0" : "br" + std::to_string(nat_of(h));
    if (Status s = batch(sw, "link set " + port + " master " + bridge + " up\n"); !s.ok()) return s;
    for (uint32_t j = 0; j < pods_per_host(); ++j)
      if (Status s = batch(pod_ns(h, j), "link set lo up\nlink set eth0 up\n"); !s.ok()) return s;
    // Forwarding for the pods; no IPv6, so only what the agents send crosses the underlay.
    auto sysctl = exec_in(
        ns, {"sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.disable_ipv6=1"});
    if (!sysctl.ok()) return sysctl.error();
  }
  return set_links({});
}

Status NetnsLab::build_nat(uint32_t k) {
  const std::string sw = prefix_ + "-sw", ns = nat_ns(k), n = std::to_string(k);
  if (Status s = add_namespace(ns); !s.ok()) return s;
  if (Status s = batch(sw, "link add br" + n + " type bridge\nlink set br" + n + " up\n"); !s.ok())
    return s;
  if (Status s = batch(ns, "link set lo up\nlink add wan type veth peer name w" + n + " netns " +
                               sw + "\nlink add lan type veth peer name l" + n + " netns " + sw +
                               "\naddr add " + nat_wan_address(k) + "/24 dev wan\naddr add " +
                               lan_gateway(k) + " dev lan\nlink set wan up\nlink set lan up\n" +
                               routes_to_routed_lans(k));
      !s.ok())
    return s;
  if (Status s = batch(
          sw, "link set w" + n + " master br0 up\nlink set l" + n + " master br" + n + " up\n");
      !s.ok())
    return s;
  auto sysctl = exec_in(
      ns, {"sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.disable_ipv6=1"});
  if (!sysctl.ok()) return sysctl.error();
  return routed(k) ? Status() : set_nat_rules(k);  // a routed router forwards all, as it is
}

std::string NetnsLab::routes_to_routed_lans(uint32_t k) const {
  std::string routes;
  for (uint32_t other = 1; other <= topology_.nat_kinds.size(); ++other)
    if (other != k && routed(other))
      routes += "route add " + lan_network(other) + " via " + nat_wan_address(other) + "\n";
  return routes;
}

Status NetnsLab::set_nat_rules(uint32_t k) {
  // chaos/nat_router.nft says what the rules do and why. After a restart the router maps to
  // another range of ports first, as a real one that lost its table may.
  const uint32_t resets = nat_resets_[k - 1];
  const std::string random = topology_.nat_kinds[k - 1] == "symmetric" ? " fully-random" : "";
  std::string masquerade = "  oifname \"wan\" masquerade" + random + "\n";
  if (resets > 0) {
    const uint32_t first = 40000 + 100 * (resets % 200);
    masquerade =
        "  oifname \"wan\" meta l4proto { tcp, udp } masquerade to :" + std::to_string(first) +
        "-" + std::to_string(first + 99) + random + "\n" + masquerade;
  }
  // Each LAN host's packets carry its number in the site (see the header).
  std::string marks;
  for (uint32_t h = 0; h < hosts(); ++h)
    if (nat_of(h) == k)
      marks += "  iifname \"lan\" ip saddr " + host_address(h) + " ip dscp set " +
               std::to_string(mark_of(h)) + "\n";
  std::string rules(kNatRouterRules);
  for (const auto& [line, text] : {std::pair{std::string_view("{masquerade}\n"), masquerade},
                                   std::pair{std::string_view("{marks}\n"), marks}}) {
    const size_t at = rules.find(line);
    if (at == std::string::npos)
      return Status::corruption("chaos/nat_router.nft lacks " + std::string(line));
    rules.replace(at, line.size(), text);
  }
  return run({"ip", "netns", "exec", nat_ns(k), "nft", "-f", "-"}, rules);
}

Status NetnsLab::reset_nat(uint32_t k) {
  if (k == 0 || k > topology_.nat_kinds.size() || routed(k))
    return Status::invalid_argument("no NAT router " + std::to_string(k));
  ++nat_resets_[k - 1];
  if (Status s = set_nat_rules(k); !s.ok()) return s;
  return run({"ip", "netns", "exec", nat_ns(k), "conntrack", "-F"});  // forgets every mapping
}

Status NetnsLab::set_links(const Links& links) {
  // The whole table each time: a fault's end is the table without it, never a stale rule.
  std::string rules =
      "table bridge chaos\ndelete table bridge chaos\n"
      "table bridge chaos {\n chain links {\n"
      "  type filter hook forward priority -10; policy accept;\n";
  // The frames from host `from` to host `to` on the switch.
  auto between = [&](uint32_t from, uint32_t to) {
    const std::string port = " oifname \"h" + std::to_string(to + 1) + "\"";
    if (nat_of(from) == nat_of(to))  // one segment: port to port
      return "iifname \"h" + std::to_string(from + 1) + "\"" + port;
    if (!masqueraded(from))  // comes from this address, across a router or none
      return "ip saddr " + host_address(from) + port;
    // comes from the router's address, with the host's mark
    return "ip saddr " + nat_wan_address(nat_of(from)) + " ip dscp " +
           std::to_string(mark_of(from)) + port;
  };
  auto coin = [](double share) {
    const auto per_10k = static_cast<int>(share * 10000 + 0.5);
    return per_10k >= 10000 ? std::string()
                            : " numgen random mod 10000 < " + std::to_string(per_10k);
  };
  for (const auto& [from, to] : links.cut) rules += "  " + between(from, to) + " drop\n";
  for (const auto& l : links.link_loss)
    if (l.share * 10000 + 0.5 >= 1)
      rules += "  " + between(l.from, l.to) + coin(l.share) + " drop\n";
  for (uint32_t h = 0; h < links.loss.size(); ++h) {
    if (links.loss[h] * 10000 + 0.5 < 1) continue;
    const std::string port = "\"h" + std::to_string(h + 1) + "\"";
    rules += "  iifname " + port + coin(links.loss[h]) + " drop\n  oifname " + port +
             coin(links.loss[h]) + " drop\n";
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
  for (uint32_t j = 0; j < pods_per_host(); ++j) {
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
  // Last made first: pods, then hosts, then the routers and the switch. Deleting a namespace takes
  // its devices and nft rules with it; a veth goes with either end.
  while (!made_.empty()) {
    (void)run({"ip", "netns", "delete", made_.back()});
    made_.pop_back();
  }
}

}  // namespace shoal::chaos
