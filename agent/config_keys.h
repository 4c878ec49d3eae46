// The one table of configuration keys, shared by the JSON reader, the flags and --help:
// for each key its JSON path, flag, kind of value, what a valid value looks like, and the
// setter that checks and stores it. Internal to agent/config*.cc.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "agent/config.h"
#include "common/quoted.h"
#include "common/status.h"

namespace shoal::agent {

using ScalarValue = std::variant<std::string, int64_t, bool>;

enum class ValueKind {
  kString,
  kInteger,  // a whole number in [min, max]
  kBool,
  kStringList,  // JSON: an array of strings; flag: repeated, or a comma-separated list
  kSitePools,   // JSON only: {"site": {"SubnetMin": "...", "SubnetMax": "..."}}
};

struct ConfigKey {
  std::string_view json;  // "SubnetLen", "Backend.Type"
  std::string_view flag;  // "subnet-len" (no dashes); empty: only a file can set it
  ValueKind kind;
  int64_t min = 0, max = 0;   // kInteger only
  std::string_view expected;  // for errors: "must be <expected>, got ..."
  std::string_view default_text;
  std::string_view help;
  // Checks and stores one value of `kind` (integers already within [min, max]; one element
  // per call for kStringList). Errors are Status::bad_key: this key and the problem
  // ("must be ..., got ...").
  Status (*set)(const ConfigKey& key, AgentConfig& config, const ScalarValue& value);
};

std::span<const ConfigKey> config_keys();
const ConfigKey* find_key(std::string_view json_path);
const ConfigKey* find_flag(std::string_view flag);

// flannel keys shoal accepts and ignores, with why (for the warning).
struct IgnoredKey {
  std::string_view json;  // "EnableIPv6", "Backend.GBP"
  std::string_view why;
};
const IgnoredKey* find_ignored(std::string_view json_path);
std::vector<std::string_view> ignored_keys_under(std::string_view prefix);  // "" or "Backend."

// The candidate closest to `word` when it is a likely typo of it (case and small edits
// ignored), else empty.
std::string_view closest_match(std::string_view word, std::span<const std::string_view> candidates);

using shoal::printable;  // common/quoted.h
using shoal::quoted;
// "must be <key.expected>, got <shown>".
std::string must_be(const ConfigKey& key, std::string_view shown);

}  // namespace shoal::agent
