// The one way shoal talks to nftables: a batch of nft commands run through libnftables as one
// transaction (all of it applies, or none). Used by the masquerade table and the test-only
// fault table (backends/faults.h), each of which owns a table of its own.
#pragma once

#include <string>

#include "common/status.h"

namespace shoal::backends {

// Ok, or an io_error carrying what nft reported.
Status run_nft(const std::string& commands);

// Commands that replace table `family name` with `definition` atomically (an empty definition
// removes it): add + delete + define in one transaction, so the table need not exist before.
std::string replace_table_commands(const std::string& family, const std::string& name,
                                   const std::string& definition);

}  // namespace shoal::backends
