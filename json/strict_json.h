// Strict JSON for files people write (the agent's config, chaos scenario files): text in,
// an nlohmann tree out, or one error that says where (line and column) and what.
//
// The parse refuses everything that is not JSON (RFC 8259): trailing commas, single quotes,
// unquoted keys, comments, NaN, Infinity, hex, invalid UTF-8, a NUL byte, numbers beyond a
// double. It also refuses integers beyond 64 bits (they would be rounded), nesting deeper
// than a limit, and a key repeated in one object. Nothing throws: nlohmann's parser reports
// its errors to a SAX handler here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace shoal::json {

using Json = nlohmann::json;

struct ParseLimits {
  size_t max_depth = 20;
  std::string_view depth_hint;  // appended to the depth error: "; the configuration needs 3"
};

// Parses `text`; errors start with `source` (a file name) and are printable.
Result<Json> parse_strict(std::string_view source, std::string_view text, ParseLimits limits = {});

// A value as an error message shows it: 24, 2.5, "text" (quoted), an object, null, ...
std::string shown(const Json& v);
// The fields of a JSON object, in key order (the tree's map keeps them so): stable errors.
const Json::object_t& fields(const Json& object);
// The value when it is a whole number (written 24 or 24.0) in [min, max].
std::optional<int64_t> whole_number(const Json& v, int64_t min, int64_t max);

}  // namespace shoal::json
