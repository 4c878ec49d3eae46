// Feeds arbitrary bytes to a LeaseCore as a gossiped lease update and as every round of a
// sync: nothing may crash, leak or trip a sanitizer, and the table stays consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/rng.h"
#include "lease/lease_core.h"

using namespace shoal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const lease::NetworkConfig kNetwork =
      lease::NetworkConfig::make(lease::NetworkSpec{"198.18.0.0/16"}).value();
  Rng rng(1);
  lease::LeaseConfig config;
  config.network = kNetwork;
  config.bucket_sync_from = 0;  // answer with bucket hashes too, though the table is small
  const WallTime wall{std::chrono::milliseconds(1767225600000)};
  lease::LeaseCore core(config, {NodeId::random(rng), "fuzz", IpAddress::v4(192, 0, 2, 1), "", {}},
                        {}, kTimeZero, wall);
  const ByteView input(data, size);
  core.handle_update(kTimeZero, wall, input);
  for (uint32_t round = 0; round < 4; ++round) core.sync_step(kTimeZero, wall, input, round);
  for (TimePoint t = kTimeZero; t < kTimeZero + 6s; t += 500ms) {
    core.handle_timeout(
        t, wall + std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()));
    while (auto r = core.poll_persist()) core.persisted(r->version);
  }
  while (core.poll_broadcast()) {
  }
  while (core.poll_event()) {
  }
  // Whatever came in, no two owners may overlap.
  const auto& owners = core.owners();
  for (auto it = owners.begin(); it != owners.end() && std::next(it) != owners.end(); ++it)
    if (it->first.overlaps(std::next(it)->first)) std::abort();
  return 0;
}
