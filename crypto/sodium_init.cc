#include "crypto/sodium_init.h"

#include <sodium.h>

#include "common/status.h"

namespace shoal::crypto {

bool init() {
  // A function-local static is initialised exactly once, even with several threads.
  static const bool usable = sodium_init() >= 0;
  return usable;
}

void require_init() {
  // The agent checked init() at start and refused to run without it (with a message for
  // the operator), so reaching here without libsodium is a bug.
  SHOAL_REQUIRE(init());
}

}  // namespace shoal::crypto
