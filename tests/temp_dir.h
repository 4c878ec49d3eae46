// A fresh directory under /tmp for one test, removed with everything in it when the test
// ends, even on failure.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace shoal::test {

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "shoal-test") {
    std::string pattern = "/tmp/" + prefix + "-XXXXXX";
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
};

}  // namespace shoal::test
