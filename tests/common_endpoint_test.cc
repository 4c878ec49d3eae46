#include <doctest/doctest.h>

#include "common/endpoint.h"

using shoal::Endpoint;
using shoal::IpAddress;

TEST_CASE("IpAddress parses and prints IPv4") {
  auto a = IpAddress::parse("192.0.2.17");
  REQUIRE(a);
  CHECK(a->is_v4());
  CHECK(a->to_string() == "192.0.2.17");
  CHECK(a->v4_host_order() == 0xC0000211u);
  CHECK(*a == IpAddress::v4(192, 0, 2, 17));
}

TEST_CASE("IpAddress refuses malformed IPv4") {
  for (const char* bad : {"", "1", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "01.2.3.4",
                          "1.2.3.4 ", "a.b.c.d", "1.2.3.-4", "1.2.3.4."}) {
    CAPTURE(bad);
    CHECK_FALSE(IpAddress::parse(bad));
  }
}

TEST_CASE("IpAddress parses and prints IPv6 (RFC 5952)") {
  auto a = IpAddress::parse("2001:db8:0:0:0:0:0:1");
  REQUIRE(a);
  CHECK_FALSE(a->is_v4());
  CHECK(a->to_string() == "2001:db8::1");
  CHECK(IpAddress::parse("::1")->to_string() == "::1");
  CHECK(IpAddress::parse("::")->to_string() == "::");
  CHECK(IpAddress::parse("2001:db8:1:0:0:1:0:1")->to_string() == "2001:db8:1::1:0:1");
  for (const char* bad : {":::", "1:2:3:4:5:6:7:8:9", "12345::", "2001:db8::1::2", "g::1", ":1"}) {
    CAPTURE(bad);
    CHECK_FALSE(IpAddress::parse(bad));
  }
}

TEST_CASE("Endpoint parses host:port and [v6]:port") {
  auto e = Endpoint::parse("198.51.100.7:7946");
  REQUIRE(e);
  CHECK(e->port == 7946);
  CHECK(e->to_string() == "198.51.100.7:7946");
  auto v6 = Endpoint::parse("[2001:db8::2]:53");
  REQUIRE(v6);
  CHECK(v6->to_string() == "[2001:db8::2]:53");
  for (const char* bad : {"198.51.100.7", "198.51.100.7:", "198.51.100.7:65536", "2001:db8::2:53",
                          "[2001:db8::2]", ":80", "[198.51.100.7]:80"}) {
    CAPTURE(bad);
    CHECK_FALSE(Endpoint::parse(bad));
  }
}

TEST_CASE("IpAddress from_bytes takes 4 or 16 bytes only") {
  const uint8_t b[16] = {203, 0, 113, 9};
  CHECK(IpAddress::from_bytes({b, 4})->to_string() == "203.0.113.9");
  CHECK(IpAddress::from_bytes({b, 16}));
  CHECK_FALSE(IpAddress::from_bytes({b, 5}));
  CHECK_FALSE(IpAddress::from_bytes({b, 0}));
}
