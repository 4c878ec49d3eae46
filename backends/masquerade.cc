#include "backends/masquerade.h"

#include "backends/nft.h"

namespace shoal::backends {

std::string masquerade_rules(const Cidr& network, const Cidr& subnet) {
  const std::string net = network.to_string();
  return std::string("table ip ") + kNftTable +
         " {\n"
         "  chain postrouting {\n"
         "    type nat hook postrouting priority srcnat; policy accept;\n"
         "    ip saddr " +
         net + " ip daddr " + net +
         " return\n"
         "    ip saddr " +
         net +
         " ip daddr != 224.0.0.0/4 masquerade fully-random\n"
         "    ip saddr != " +
         net + " ip daddr " + subnet.to_string() +
         " return\n"
         "    ip saddr != " +
         net + " ip daddr " + net +
         " masquerade fully-random\n"
         "  }\n"
         "}\n";
}

Status install_masquerade(const Cidr& network, const Cidr& subnet) {
  // add + delete + define in one transaction: replaces whatever the table held, atomically.
  return run_nft(replace_table_commands("ip", kNftTable, masquerade_rules(network, subnet)));
}

Status remove_masquerade() { return run_nft(replace_table_commands("ip", kNftTable, "")); }

}  // namespace shoal::backends
