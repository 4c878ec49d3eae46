// Status and Result<T>: the one way shoal reports an error (LevelDB's Status is the model).
//
// The rule, for every module (DESIGN.md, Conventions): nothing throws.
//  - An error a caller can meet (bad config, a refused system call, a damaged file) is a
//    Status, or a Result<T> when there is a value to return. Its message says what was
//    wrong, where, and what to do.
//  - A decoder of untrusted bytes returns Result<T, DropReason>, DropReason being its
//    module's enum of refusals (with kCount and to_string()): the reason is a metric label,
//    counted per reason, not text for a person.
//  - A broken precondition is a bug in the caller, not an input error: SHOAL_REQUIRE says
//    so and aborts with the condition, file and line in every build type (assert() would
//    vanish under NDEBUG and leave undefined behaviour).
//
// A Status is either ok, carrying nothing, or an error carrying a code a caller can branch
// on and a message a human can read. An error about one config key also carries the key and
// the problem apart from the message, as data: the agent says which file or flag set the key
// without parsing the text.
// Result<T> is a T or a non-ok Status. value() on an error is a bug: SHOAL_REQUIRE.
#pragma once

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace shoal {

// Aborts with "precondition failed: <what> (file:line)" on stderr. Use SHOAL_REQUIRE.
[[noreturn]] void precondition_failed(const char* what, const char* file, int line);
#define SHOAL_REQUIRE(condition) \
  ((condition) ? void(0) : ::shoal::precondition_failed(#condition, __FILE__, __LINE__))

class [[nodiscard]] Status {
 public:
  enum class Code : uint8_t {
    kOk,
    kInvalidArgument,  // bad config, flag or request: the caller must change something
    kNotFound,         // a file, key or device that is not there
    kIoError,          // the system refused (open, write, socket, netlink)
    kCorruption,       // stored or received bytes that do not decode
    kUnavailable,      // busy or shutting down: trying again later may work
    kUnsupported,      // this kernel or build cannot do it
  };

  Status() = default;  // ok: `return {};`
  static Status invalid_argument(std::string message) {
    return {Code::kInvalidArgument, std::move(message)};
  }
  // An error about config key `key` ("Network", "Backend.Port"): the message is
  // "<key>: <problem>".
  static Status bad_key(std::string key, std::string problem) {
    Status s{Code::kInvalidArgument, key + ": " + problem};
    s.key_ = std::move(key);
    s.problem_ = std::move(problem);
    return s;
  }
  static Status not_found(std::string message) { return {Code::kNotFound, std::move(message)}; }
  static Status io_error(std::string message) { return {Code::kIoError, std::move(message)}; }
  static Status corruption(std::string message) { return {Code::kCorruption, std::move(message)}; }
  static Status unavailable(std::string message) {
    return {Code::kUnavailable, std::move(message)};
  }
  static Status unsupported(std::string message) {
    return {Code::kUnsupported, std::move(message)};
  }

  bool ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& to_string() const { return message_; }
  // For bad_key errors: the key, and the problem without the key. Else empty, and the message.
  const std::string& key() const { return key_; }
  const std::string& problem() const { return key_.empty() ? message_ : problem_; }

  // The same error with context in front: "opening the store: <message>".
  Status prefixed(std::string_view context) const {
    Status s = *this;
    s.message_ = std::string(context) + ": " + message_;
    return s;
  }
  // The same error (code, key, problem) told another way, e.g. naming the file that set the key.
  Status reworded(std::string message) const {
    Status s = *this;
    s.message_ = std::move(message);
    return s;
  }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
  std::string key_;
  std::string problem_;
};

// "<what>: <strerror(error)>", coded by what the error means for a caller: not_found for
// ENOENT and ENODEV, unavailable for EAGAIN, EBUSY, EMFILE and ENFILE, unsupported for
// EOPNOTSUPP and ENOSYS, io_error for the rest.
Status errno_status(std::string_view what, int error = errno);

template <class T, class E = Status>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return SHOAL_REQUIRE(ok()), *std::get_if<0>(&v_); }
  const T& value() const& { return SHOAL_REQUIRE(ok()), *std::get_if<0>(&v_); }
  T&& value() && { return SHOAL_REQUIRE(ok()), std::move(*std::get_if<0>(&v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const E& error() const { return SHOAL_REQUIRE(!ok()), *std::get_if<1>(&v_); }

 private:
  std::variant<T, E> v_;
};

// A Result with nothing to return but its reason, for decoders: Result<void, Reason>.
template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  Result(E error) : error_(std::move(error)), failed_(true) {}  // NOLINT: implicit
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const E& error() const { return SHOAL_REQUIRE(failed_), error_; }

 private:
  E error_{};
  bool failed_ = false;
};

}  // namespace shoal
