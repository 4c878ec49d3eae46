#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <variant>

#include "common/file_io.h"
#include "tests/temp_dir.h"

using namespace shoal;
using shoal::test::TempDir;

TEST_CASE("write_file_atomically creates directories, replaces content and sets the mode") {
  TempDir dir;
  const std::string path = (dir.path / "a" / "b" / "subnet.env").string();
  REQUIRE(write_file_atomically(path, "one\n", 0600).ok());
  REQUIRE(write_file_atomically(path, "two\n", 0600).ok());
  auto read = read_file_limited(path, 100);
  REQUIRE(read.ok());
  CHECK(*read == "two\n");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // No temporary file is left behind.
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path / "a" / "b"),
                      std::filesystem::directory_iterator()) == 1);
}

TEST_CASE("read_file_limited names the path on every refusal") {
  TempDir dir;
  const std::string missing = (dir.path / "missing.json").string();
  auto r = read_file_limited(missing, 100);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message().find(missing) != std::string::npos);
  CHECK(r.error().code() == Status::Code::kNotFound);

  const std::string big = (dir.path / "big").string();
  REQUIRE(write_file_atomically(big, std::string(101, 'x')).ok());
  r = read_file_limited(big, 100);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message().find("too large") != std::string::npos);

  r = read_file_limited(dir.path.string(), 100);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message().find("not a regular file") != std::string::npos);
}

TEST_CASE("write_file_atomically reports an unwritable place") {
  TempDir dir;
  const std::string blocker = (dir.path / "file").string();
  REQUIRE(write_file_atomically(blocker, "x").ok());
  // A path whose parent is a regular file cannot be created.
  CHECK_FALSE(write_file_atomically(blocker + "/child", "y").ok());
}
