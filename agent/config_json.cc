// Reading a config file: protobuf's JSON parser builds a generic tree (google.protobuf.Struct)
// and this file walks it against the key table, so every error names the key.
//
// What protobuf 3.21's parser does with odd input (checked by tests/agent_config_test.cc):
// a repeated key is an error ("Repeated map key"); invalid UTF-8, NaN, Infinity, hex and
// numbers beyond a double are errors; integers beyond 2^53 are rounded; trailing commas,
// single quotes and unquoted keys are accepted; deep nesting fails with an unhelpful
// message, so nesting is measured here first.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "agent/config.h"
#include "agent/config_keys.h"
#include "agent/config_values.h"
#include "common/file_io.h"
#include "lease/node_record.h"

namespace shoal::agent {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr int kMaxDepth = 20;  // the config needs 3

// Deepest nesting of objects and arrays outside strings.
int nesting_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (quote) {
      if (ch == '\\')
        ++i;
      else if (ch == quote)
        quote = 0;
    } else if (ch == '"' || ch == '\'') {
      quote = ch;
    } else if (ch == '{' || ch == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (ch == '}' || ch == ']') {
      --depth;
    }
  }
  return deepest;
}

// protobuf reports "<what>\n<up to 20 bytes either side>\n<spaces>^". Finds where the caret
// points in `text`, when the excerpt can be placed without doubt.
std::optional<size_t> error_offset(std::string_view text, std::string_view message) {
  const size_t first = message.find('\n'), last = message.rfind('\n');
  if (first == std::string_view::npos || first == last) return std::nullopt;
  const std::string_view caret = message.substr(last + 1);
  const std::string_view excerpt = message.substr(first + 1, last - first - 1);
  if (caret.empty() || caret.back() != '^' || caret.size() - 1 > excerpt.size())
    return std::nullopt;
  const size_t column = caret.size() - 1;
  const size_t found = text.find(excerpt);
  if (found == std::string_view::npos) return std::nullopt;
  if (text.find(excerpt, found + 1) == std::string_view::npos) return found + column;
  // Several matches: an excerpt cut short by the end of the input belongs at the end.
  if (text.ends_with(excerpt) && excerpt.size() - column <= 20)
    return text.size() - excerpt.size() + column;
  return std::nullopt;
}

std::string parse_error(std::string_view source, std::string_view text, std::string_view message) {
  const std::string_view what = message.substr(0, message.find('\n'));
  const std::string_view repeated = "Repeated map key: '";
  if (const size_t at = what.find(repeated); at != std::string_view::npos) {
    std::string_view key = what.substr(at + repeated.size());
    key = key.substr(0, key.find('\''));
    return std::string(source) + ": key " + quoted(key) + " appears twice; keep only one";
  }
  const auto offset = error_offset(text, message);
  if (!offset) return std::string(source) + ": JSON syntax error: " + std::string(what);
  const std::string_view before = text.substr(0, *offset);
  const size_t line = 1 + static_cast<size_t>(std::count(before.begin(), before.end(), '\n'));
  const size_t line_start =
      before.rfind('\n') == std::string_view::npos ? 0 : before.rfind('\n') + 1;
  return std::string(source) + ": JSON syntax error at line " + std::to_string(line) + ", column " +
         std::to_string(*offset - line_start + 1) + ": " + std::string(what);
}

std::string shown(const Value& v) {
  switch (v.kind_case()) {
    case Value::kNumberValue: {
      char buffer[32];
      auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v.number_value());
      return ec == std::errc() ? std::string(buffer, end) : "a number";
    }
    case Value::kStringValue:
      return quoted(v.string_value());
    case Value::kBoolValue:
      return v.bool_value() ? "true" : "false";
    case Value::kStructValue:
      return "an object";
    case Value::kListValue:
      return "an array";
    default:
      return "null";
  }
}

// The fields of a JSON object in key order (protobuf's map has none), for stable errors.
std::vector<std::pair<const std::string*, const Value*>> sorted_fields(const Struct& object) {
  std::vector<std::pair<const std::string*, const Value*>> out;
  for (const auto& [key, value] : object.fields()) out.emplace_back(&key, &value);
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
  return out;
}

// One key of a JSON object, matched to the name it stands for.
struct Entry {
  size_t rank;                 // position among the candidates: keys are read in table order
  std::string_view canonical;  // "Network"
  const std::string* written;  // as in the file: "network"
  const Value* value;
};

class Reader {
 public:
  Reader(AgentConfig& config, std::string_view source) : config_(config), source_(source) {}

  // Reads the keys under `prefix` ("" or "Backend.") from `object`.
  std::string read_object(const Struct& object, std::string_view prefix) {
    std::vector<std::string_view> names;  // leaves and sub-objects, in table order
    for (const auto& key : config_keys()) {
      if (!key.json.starts_with(prefix)) continue;
      std::string_view rest = key.json.substr(prefix.size());
      rest = rest.substr(0, rest.find('.'));
      if (std::find(names.begin(), names.end(), rest) == names.end()) names.push_back(rest);
    }
    for (auto name : ignored_keys_under(prefix)) names.push_back(name);

    std::vector<Entry> entries;
    if (auto problem = match(object, names, prefix, entries); !problem.empty()) return problem;
    for (const Entry& e : entries) {
      if (e.value->kind_case() == Value::kNullValue) continue;  // like Go: null sets nothing
      const std::string path = std::string(prefix) + std::string(e.canonical);
      if (auto* ignored = find_ignored(path)) {
        config_.warnings.push_back(source_ + ": \"" + path + "\": ignored (" +
                                   std::string(ignored->why) + ")");
      } else if (auto* key = find_key(path)) {
        if (auto problem = read_value(*key, *e.value); !problem.empty()) return problem;
        config_.origins[path] = source_;
      } else if (e.value->kind_case() != Value::kStructValue) {  // a group such as "Backend"
        return located(path,
                       "must be an object like {\"Type\": \"vxlan\"}, got " + shown(*e.value));
      } else if (auto problem = read_object(e.value->struct_value(), path + ".");
                 !problem.empty()) {
        return problem;
      }
    }
    return {};
  }

 private:
  std::string located(std::string_view path, std::string_view problem) const {
    return source_ + ": \"" + std::string(path) + "\": " + std::string(problem);
  }

  // Pairs each key of `object` with one of `names`, as flannel (Go's encoding/json) does:
  // exactly, or else regardless of case (with a warning). Unknown keys are errors.
  std::string match(const Struct& object, std::span<const std::string_view> names,
                    std::string_view prefix, std::vector<Entry>& out) {
    for (const auto& field : sorted_fields(object)) {
      const std::string* key = field.first;  // not a structured binding: lambdas capture it
      auto same = [&](std::string_view name, bool any_case) {
        return name.size() == key->size() &&
               std::equal(name.begin(), name.end(), key->begin(), [&](char a, char b) {
                 return any_case ? std::tolower(static_cast<unsigned char>(a)) ==
                                       std::tolower(static_cast<unsigned char>(b))
                                 : a == b;
               });
      };
      auto it = std::find_if(names.begin(), names.end(), [&](auto n) { return same(n, false); });
      if (it == names.end())
        it = std::find_if(names.begin(), names.end(), [&](auto n) { return same(n, true); });
      const std::string path = std::string(prefix) + *key;
      if (it == names.end()) {
        std::string problem = source_ + ": unknown key " + quoted(path);
        if (auto near = closest_match(*key, names); !near.empty())
          problem += " (did you mean \"" + std::string(prefix) + std::string(near) + "\"?)";
        return problem + "; docs/config.md lists the keys";
      }
      const size_t rank = static_cast<size_t>(it - names.begin());
      for (const Entry& e : out) {
        if (e.rank == rank)
          return source_ + ": keys " + quoted(std::string(prefix) + *e.written) + " and " +
                 quoted(path) + " are the same key; keep only one";
      }
      if (*it != *key)
        config_.warnings.push_back(source_ + ": " + quoted(path) + " read as \"" +
                                   std::string(prefix) + std::string(*it) +
                                   "\" (keys match regardless of case, as in flannel)");
      out.push_back({rank, *it, key, field.second});
    }
    std::sort(out.begin(), out.end(),
              [](const Entry& a, const Entry& b) { return a.rank < b.rank; });
    return {};
  }

  std::string read_value(const ConfigKey& key, const Value& v) {
    switch (key.kind) {
      case ValueKind::kString:
        if (v.kind_case() != Value::kStringValue) return located(key.json, must_be(key, shown(v)));
        return checked(key, ScalarValue(v.string_value()), key.json);
      case ValueKind::kInteger: {
        const double d = v.number_value();
        if (v.kind_case() != Value::kNumberValue || !std::isfinite(d) || std::trunc(d) != d ||
            d < static_cast<double>(key.min) || d > static_cast<double>(key.max))
          return located(key.json, must_be(key, shown(v)));
        return checked(key, ScalarValue(static_cast<int64_t>(d)), key.json);
      }
      case ValueKind::kBool:
        if (v.kind_case() != Value::kBoolValue) return located(key.json, must_be(key, shown(v)));
        return checked(key, ScalarValue(v.bool_value()), key.json);
      case ValueKind::kStringList: {
        if (v.kind_case() != Value::kListValue) return located(key.json, must_be(key, shown(v)));
        config_.seeds.clear();
        const auto& list = v.list_value().values();
        for (int i = 0; i < list.size(); ++i) {
          const std::string path = std::string(key.json) + "[" + std::to_string(i) + "]";
          if (list[i].kind_case() != Value::kStringValue)
            return located(path,
                           "must be a string, like \"192.0.2.1:7946\", got " + shown(list[i]));
          if (auto problem = checked(key, ScalarValue(list[i].string_value()), path);
              !problem.empty())
            return problem;
        }
        return {};
      }
      case ValueKind::kSitePools:
        return read_site_pools(key, v);
    }
    return {};
  }

  std::string checked(const ConfigKey& key, const ScalarValue& value, std::string_view path) {
    auto problem = key.set(key, config_, value);
    return problem.empty() ? problem : located(path, problem);
  }

  std::string read_site_pools(const ConfigKey& key, const Value& v) {
    if (v.kind_case() != Value::kStructValue) return located(key.json, must_be(key, shown(v)));
    auto& pools = config_.network_spec.site_pools;
    pools.clear();
    for (const auto& [site, pool] : sorted_fields(v.struct_value())) {
      const std::string path = "SitePools." + *site;
      if (site->empty() || site->size() > lease::RecordLimits{}.max_site_bytes ||
          has_control_chars(*site))
        return located(path, "a site name must be 1 to 64 bytes without control characters");
      if (pool->kind_case() != Value::kStructValue)
        return located(path, must_be(key, shown(*pool)));
      static constexpr std::string_view kBounds[] = {"SubnetMin", "SubnetMax"};
      std::vector<Entry> bounds;
      if (auto problem = match(pool->struct_value(), kBounds, path + ".", bounds); !problem.empty())
        return problem;
      std::string range[2];
      for (size_t i = 0; i < 2; ++i) {
        auto it = std::find_if(bounds.begin(), bounds.end(), [&](auto& b) { return b.rank == i; });
        const std::string bound = path + "." + std::string(kBounds[i]);
        if (it == bounds.end()) return located(bound, "missing; a site pool needs both bounds");
        if (it->value->kind_case() != Value::kStringValue)
          return located(bound,
                         "must be an IPv4 address, like \"198.18.1.0\", got " + shown(*it->value));
        range[i] = it->value->string_value();
      }
      pools[*site] = {range[0], range[1]};
    }
    return {};
  }

  AgentConfig& config_;
  std::string source_;
};

}  // namespace

std::variant<AgentConfig, std::string> parse_config(std::string_view json,
                                                    std::string_view source) {
  const std::string where(source);
  if (json.size() > kMaxConfigBytes)
    return where + ": too large (" + std::to_string(json.size()) + " bytes, at most " +
           std::to_string(kMaxConfigBytes) + ")";
  if (json.starts_with("\xEF\xBB\xBF")) json.remove_prefix(3);  // a byte order mark
  const size_t start = json.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos)
    return where + ": is empty; it must hold a JSON object like {\"Network\": \"198.18.0.0/16\"}";
  if (json[start] != '{')
    return where + ": must hold a JSON object ({...}), like {\"Network\": \"198.18.0.0/16\"}";
  if (nesting_depth(json) > kMaxDepth)
    return where + ": objects and arrays nested more than " + std::to_string(kMaxDepth) +
           " deep; the configuration needs 3";

  Struct root;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &root);
  if (!status.ok()) {
    const std::string message(status.message().data(), status.message().size());
    return printable(parse_error(where, json, message));
  }

  AgentConfig config;
  config.source = where;
  Reader reader(config, where);
  if (auto problem = reader.read_object(root, ""); !problem.empty()) return printable(problem);
  return config;
}

std::variant<AgentConfig, std::string> load_config(const std::string& path) {
  auto content = read_file_limited(path, kMaxConfigBytes);
  if (content.index() == 1) return std::get<1>(content);
  return parse_config(std::get<0>(content), path);
}

}  // namespace shoal::agent
