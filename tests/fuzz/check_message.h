// Fuzz targets' check that an error meant for people says something and stays on one
// printable line: aborts (a finding) otherwise.
#pragma once

#include <cstdlib>
#include <string>

namespace shoal::fuzz {

inline void check_message(const std::string& message) {
  if (message.empty()) std::abort();
  for (char ch : message)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) std::abort();
}

}  // namespace shoal::fuzz
