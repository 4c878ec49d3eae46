#include "backends/faults.h"

#include "backends/nft.h"

namespace shoal::backends {
namespace {

// An element of an interval set: a whole-length prefix is written as the bare address.
std::string element(const Cidr& c) {
  return c.prefix() == c.max_prefix() ? c.network().to_string() : c.to_string();
}

}  // namespace

std::string fault_ruleset(const std::vector<FaultRule>& rules) {
  std::string sets, in, out;
  for (const FaultRule& r : rules) {
    if (r.left.count() <= 0 || r.targets.empty() || (!r.inbound && !r.outbound)) continue;
    const std::string timeout = " timeout " + std::to_string(r.left.count()) + "ms";
    const std::string verdict =
        r.loss_percent >= 100
            ? " drop"
            : " numgen random mod 100 < " + std::to_string(r.loss_percent) + " drop";
    for (const bool v4 : {true, false}) {
      std::string elements;
      for (const Cidr& c : r.targets)
        if (c.network().is_v4() == v4)
          elements += (elements.empty() ? "" : ", ") + element(c) + timeout;
      if (elements.empty()) continue;
      const std::string set = "f" + std::to_string(r.id) + (v4 ? "_4" : "_6");
      const std::string ip = v4 ? "ip" : "ip6";
      sets += "  set " + set + " {\n    type " + (v4 ? "ipv4_addr" : "ipv6_addr") +
              "; flags interval, timeout;\n    elements = { " + elements + " }\n  }\n";
      if (r.inbound) in += "    " + ip + " saddr @" + set + verdict + "\n";
      if (r.outbound) out += "    " + ip + " daddr @" + set + verdict + "\n";
    }
  }
  if (sets.empty()) return "";
  return std::string("table inet ") + kFaultTable + " {\n" + sets +
         "  chain in {\n    type filter hook prerouting priority raw; policy accept;\n" + in +
         "  }\n  chain out {\n    type filter hook postrouting priority raw; policy accept;\n" +
         out + "  }\n}\n";
}

Status install_faults(const std::vector<FaultRule>& rules) {
  return run_nft(replace_table_commands("inet", kFaultTable, fault_ruleset(rules)));
}

Status remove_faults() { return run_nft(replace_table_commands("inet", kFaultTable, "")); }

}  // namespace shoal::backends
