#include <doctest/doctest.h>

#include <memory>

#include "common/status.h"

namespace shoal {
namespace {

Result<int> half(int n) {
  if (n % 2) return Status::invalid_argument(std::to_string(n) + " is odd");
  return n / 2;
}

Result<std::unique_ptr<int>> boxed(int n) {
  if (n < 0) return Status::invalid_argument("negative");
  return std::make_unique<int>(n);
}

enum class Reason : uint8_t { kEmpty, kTooBig };
Result<void, Reason> check(int size) {
  if (size == 0) return Reason::kEmpty;
  if (size > 10) return Reason::kTooBig;
  return {};
}

TEST_CASE("common_status: ok carries nothing, an error its code, message and key") {
  Status ok;
  CHECK(ok.ok());
  CHECK(ok.code() == Status::Code::kOk);
  CHECK(ok.to_string().empty());

  Status io = Status::io_error("cannot open /x: No such file");
  CHECK_FALSE(io.ok());
  CHECK(io.code() == Status::Code::kIoError);
  CHECK(io.key().empty());
  CHECK(io.to_string() == "cannot open /x: No such file");
  CHECK(io.prefixed("opening the store").to_string() ==
        "opening the store: cannot open /x: No such file");

  Status key = Status::bad_key("Backend.Port", "must be 1..65535, not 0");
  CHECK(key.code() == Status::Code::kInvalidArgument);
  CHECK(key.key() == "Backend.Port");
  CHECK(key.problem() == "must be 1..65535, not 0");
  CHECK(key.to_string() == "Backend.Port: must be 1..65535, not 0");
  CHECK(key.prefixed("flag").key() == "Backend.Port");  // context keeps the key
  const Status told = key.reworded("--port: must be 1..65535, not 0");
  CHECK(told.to_string() == "--port: must be 1..65535, not 0");
  CHECK(told.key() == "Backend.Port");
  CHECK(told.problem() == "must be 1..65535, not 0");
  CHECK(io.problem() == io.message());
}

TEST_CASE("common_status: Result holds a value or a Status, and move-only values") {
  auto good = half(8);
  REQUIRE(good.ok());
  CHECK(*good == 4);
  auto bad = half(3);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message() == "3 is odd");

  auto owned = boxed(7);
  REQUIRE(owned);
  std::unique_ptr<int> taken = std::move(owned).value();
  CHECK(*taken == 7);

  CHECK(check(5).ok());
  CHECK(check(0).error() == Reason::kEmpty);
  CHECK(check(11).error() == Reason::kTooBig);
}

}  // namespace
}  // namespace shoal
