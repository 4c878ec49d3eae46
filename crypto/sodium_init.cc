#include "crypto/sodium_init.h"

#include <sodium.h>

#include <stdexcept>

namespace shoal::crypto {

bool init() {
  // A function-local static is initialised exactly once, even with several threads.
  static const bool usable = sodium_init() >= 0;
  return usable;
}

void require_init() {
  if (!init()) throw std::runtime_error("libsodium could not be initialised (sodium_init failed)");
}

}  // namespace shoal::crypto
