// How a simulation test reports a scenario's run: its seed and first failure in the check's
// context, when each `eventually` check held, and every failure.
#pragma once

#include <doctest/doctest.h>

#include "chaos/scenario.h"
#include "common/time.h"

inline void require_ok(const shoal::chaos::Report& r) {
  INFO(r.summary());
  for (const auto& [name, at] : r.met)
    MESSAGE(name << ": held at " << shoal::to_seconds(at) << " s");
  for (const auto& f : r.failures) MESSAGE(f);
  CHECK(r.ok());
}
