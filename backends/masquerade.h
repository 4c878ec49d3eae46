// IP masquerade with flannel's semantics (IPMasq): pod traffic leaving the overlay network
// is masqueraded; traffic inside the overlay network is not; traffic from this host (not a
// pod) into the overlay is masqueraded so that replies find their way back. The rules live
// in an nftables table of shoal's own, `ip shoal`, replaced atomically as one transaction,
// so nothing else's rules are touched. The table survives an agent restart (it is kernel
// state); remove_masquerade() takes it away (`shoal leave`).
#pragma once

#include <string>

#include "common/cidr.h"
#include "common/status.h"

namespace shoal::backends {

inline constexpr const char* kNftTable = "shoal";

// The ruleset text, for tests and logs.
std::string masquerade_rules(const Cidr& network, const Cidr& subnet);
// Errors carry what nft reported.
Status install_masquerade(const Cidr& network, const Cidr& subnet);
Status remove_masquerade();

}  // namespace shoal::backends
