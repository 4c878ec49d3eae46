// What every benchmark prints: `figure <name> <value> <unit>` lines, and a wall clock to
// time things with.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace shoal::bench {

inline void figure(const std::string& name, double value, const char* unit) {
  std::printf("figure %s %.6g %s\n", name.c_str(), value, unit);
  std::fflush(stdout);
}

inline double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace shoal::bench
