// JsonObject: one object of a file people write (a scenario, a cluster file), read key by
// key. Each accessor leaves `out` alone when the key is absent, and otherwise checks the value
// against what the key takes; errors name the key by its path ("timeline[2].hosts") and show
// the value. Nothing throws. SHOAL_TRY returns a failed Status from the enclosing function.
#pragma once

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <string>
#include <string_view>

#include "common/quoted.h"
#include "common/status.h"
#include "json/strict_json.h"

namespace shoal::chaos {

class JsonObject {
 public:
  JsonObject(const json::Json& value, std::string path) : value_(value), path_(std::move(path)) {}

  Status only(std::initializer_list<std::string_view> known) const {
    if (!value_.is_object())
      return Status::bad_key(path_, "must be an object, got " + json::shown(value_));
    for (const auto& [key, v] : json::fields(value_))
      if (std::find(known.begin(), known.end(), key) == known.end())  // the file's text: escaped
        return Status::bad_key(at(shoal::printable(std::string(key))),
                               "is not a key this object has");
    return {};
  }
  const json::Json* find(std::string_view key) const {
    auto it = value_.find(key);
    return it == value_.end() ? nullptr : &*it;
  }
  std::string at(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  Status text(std::string_view key, std::string& out, size_t max = 256) const {
    const json::Json* v = find(key);
    if (!v) return {};
    if (!v->is_string() || v->get_ref<const std::string&>().size() > max)
      return Status::bad_key(at(key), "must be a string of at most " + std::to_string(max) +
                                          " bytes, got " + json::shown(*v));
    out = v->get<std::string>();
    return {};
  }
  Status number(std::string_view key, double& out, double min, double max) const {
    const json::Json* v = find(key);
    if (!v) return {};
    if (!v->is_number() || !(v->get<double>() >= min && v->get<double>() <= max))
      return Status::bad_key(at(key), "must be a number from " + fmt(min) + " to " + fmt(max) +
                                          ", got " + json::shown(*v));
    out = v->get<double>();
    return {};
  }
  template <typename Int>
  Status whole(std::string_view key, Int& out, int64_t min, int64_t max) const {
    const json::Json* v = find(key);
    if (!v) return {};
    const auto n = json::whole_number(*v, min, max);
    if (!n)
      return Status::bad_key(at(key), "must be a whole number from " + std::to_string(min) +
                                          " to " + std::to_string(max) + ", got " +
                                          json::shown(*v));
    out = static_cast<Int>(*n);
    return {};
  }
  Status flag(std::string_view key, bool& out) const {
    const json::Json* v = find(key);
    if (!v) return {};
    if (!v->is_boolean())
      return Status::bad_key(at(key), "must be true or false, got " + json::shown(*v));
    out = v->get<bool>();
    return {};
  }

  static std::string fmt(double d) {
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, d);
    return ec == std::errc() ? std::string(buffer, end) : "?";
  }

 private:
  const json::Json& value_;
  std::string path_;
};

#define SHOAL_TRY(expr)                          \
  do {                                           \
    if (Status s_ = (expr); !s_.ok()) return s_; \
  } while (0)

}  // namespace shoal::chaos
