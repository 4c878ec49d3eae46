// libsodium start-up. init() runs sodium_init() once (thread-safe) and says whether
// libsodium is usable; the agent calls it at start and refuses to run without it.
// Everything in shoal::crypto that needs randomness calls require_init(), a precondition
// (SHOAL_REQUIRE) that aborts if libsodium could not be initialised, so nothing ever runs
// on an uninitialised library.
#pragma once

namespace shoal::crypto {

bool init();
void require_init();

}  // namespace shoal::crypto
