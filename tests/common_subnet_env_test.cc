#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <variant>

#include "common/file_io.h"
#include "common/subnet_env.h"
#include "tests/temp_dir.h"

using namespace shoal;
using shoal::test::TempDir;

namespace {

Cidr cidr(const char* text) {
  auto c = Cidr::parse(text);
  REQUIRE(c);
  return *c;
}

std::string read(const std::string& path) {
  auto r = read_file_limited(path, 4096);
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("subnet.env is flannel's text, byte for byte") {
  // flannel's WriteSubnetFile: the network as configured, the subnet's first usable address
  // with the subnet's prefix length, "%d" for the MTU and Go's "%t" for the boolean.
  CHECK(render_subnet_env(cidr("198.18.0.0/16"), cidr("198.18.5.0/24"), 1450, false) ==
        "FLANNEL_NETWORK=198.18.0.0/16\n"
        "FLANNEL_SUBNET=198.18.5.1/24\n"
        "FLANNEL_MTU=1450\n"
        "FLANNEL_IPMASQ=false\n");
  CHECK(render_subnet_env(cidr("100.64.0.0/10"), cidr("100.64.3.64/26"), 8950, true) ==
        "FLANNEL_NETWORK=100.64.0.0/10\n"
        "FLANNEL_SUBNET=100.64.3.65/26\n"
        "FLANNEL_MTU=8950\n"
        "FLANNEL_IPMASQ=true\n");
}

TEST_CASE("write_subnet_env replaces the file atomically") {
  TempDir dir("shoal-subnet-env");
  const std::string path = (dir.path / "run" / "shoal" / "subnet.env").string();
  REQUIRE(write_subnet_env(path, cidr("198.18.0.0/16"), cidr("198.18.5.0/24"), 1450, false).ok());
  CHECK(read(path) == render_subnet_env(cidr("198.18.0.0/16"), cidr("198.18.5.0/24"), 1450, false));
  struct stat before {};
  REQUIRE(::stat(path.c_str(), &before) == 0);
  CHECK((before.st_mode & 0777) == 0644);

  REQUIRE(write_subnet_env(path, cidr("198.18.0.0/16"), cidr("198.18.9.0/24"), 1400, true).ok());
  CHECK(read(path) ==
        "FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.9.1/24\nFLANNEL_MTU=1400\n"
        "FLANNEL_IPMASQ=true\n");
  // A new inode renamed into place, not the old file truncated and rewritten: a reader
  // never sees half a file.
  struct stat after {};
  REQUIRE(::stat(path.c_str(), &after) == 0);
  CHECK(after.st_ino != before.st_ino);
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path / "run" / "shoal"),
                      std::filesystem::directory_iterator()) == 1);
}

TEST_CASE("write_subnet_env refuses values that would make a broken file") {
  TempDir dir("shoal-subnet-env");
  const std::string path = (dir.path / "subnet.env").string();
  REQUIRE(write_subnet_env(path, cidr("198.18.0.0/16"), cidr("198.18.5.0/24"), 1450, false).ok());
  const std::string original = read(path);

  CHECK(write_subnet_env(path, cidr("198.18.0.0/16"), cidr("198.19.5.0/24"), 1450, false)
            .to_string() ==
        "not writing " + path +
            ": subnet 198.19.5.0/24 is not an IPv4 subnet of /30 or larger inside 198.18.0.0/16");
  CHECK(write_subnet_env(path, cidr("198.18.0.0/16"), cidr("198.18.5.0/31"), 1450, false)
            .to_string()
            .find("not writing") == 0);
  CHECK(
      write_subnet_env(path, cidr("198.18.0.0/16"), cidr("198.18.5.0/24"), 0, false).to_string() ==
      "not writing " + path + ": MTU 0 is outside 68..65535");
  CHECK(read(path) == original);

  // An unwritable place is reported with its path.
  const std::string blocked = (dir.path / "subnet.env" / "x").string();
  CHECK(write_subnet_env(blocked, cidr("198.18.0.0/16"), cidr("198.18.5.0/24"), 1450, false)
            .to_string()
            .find(dir.path.string()) != std::string::npos);
}

TEST_CASE("subnet.env: what the agent writes, a reader reads back") {
  const std::string text =
      render_subnet_env(cidr("198.18.0.0/16"), cidr("198.18.5.0/24"), 1450, false);
  auto parsed = parse_subnet_env(text);
  REQUIRE(parsed);
  CHECK(parsed->network == cidr("198.18.0.0/16"));
  CHECK(parsed->subnet == cidr("198.18.5.0/24"));
  CHECK(parsed->gateway.to_string() == "198.18.5.1");
  CHECK(parsed->mtu == 1450);
  CHECK_FALSE(parsed->ipmasq);
  // flannel's IPv6 keys, comments and CRLF are read past.
  auto flannel = parse_subnet_env(
      "# written by flannel\r\nFLANNEL_NETWORK=100.64.0.0/16\r\nFLANNEL_SUBNET=100.64.7.1/24\r\n"
      "FLANNEL_IPV6_NETWORK=2001:db8::/48\nFLANNEL_MTU=1400\nFLANNEL_IPMASQ=true\n");
  REQUIRE(flannel);
  CHECK(flannel->subnet == cidr("100.64.7.0/24"));
  CHECK(flannel->ipmasq);
}

TEST_CASE("subnet.env: a broken file is refused with the key that is wrong") {
  const std::string good_rest = "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n";
  auto error_of = [](const std::string& text) {
    auto parsed = parse_subnet_env(text);
    REQUIRE_FALSE(parsed);
    return parsed.error().message();
  };
  CHECK(error_of("FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.19.5.1/24\n" + good_rest)
            .find("outside FLANNEL_NETWORK") != std::string::npos);
  CHECK(error_of("FLANNEL_SUBNET=198.18.5.1/24\n" + good_rest).find("FLANNEL_NETWORK is missing") !=
        std::string::npos);
  CHECK(error_of("FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.5.1\n" + good_rest)
            .find("FLANNEL_SUBNET") != std::string::npos);
  CHECK(error_of("FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.5.1/24\nFLANNEL_MTU=9x\n")
            .find("FLANNEL_MTU") != std::string::npos);
  CHECK(error_of("FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.5.1/24\nFLANNEL_MTU=1450\n"
                 "FLANNEL_IPMASQ=yes\n")
            .find("FLANNEL_IPMASQ") != std::string::npos);
  CHECK(error_of("garbage").find("line 1") != std::string::npos);
  CHECK(error_of(std::string(kMaxSubnetEnvSize + 1, '#')).find("over") != std::string::npos);
}

TEST_CASE("subnet.env: read_subnet_env names the file") {
  TempDir dir;
  auto missing = read_subnet_env(dir.file("subnet.env"));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message().find(dir.file("subnet.env")) != std::string::npos);
  REQUIRE(write_subnet_env(dir.file("subnet.env"), cidr("198.18.0.0/16"), cidr("198.18.9.0/24"),
                           1400, true)
              .ok());
  auto read_back = read_subnet_env(dir.file("subnet.env"));
  REQUIRE(read_back);
  CHECK(read_back->subnet == cidr("198.18.9.0/24"));
}
