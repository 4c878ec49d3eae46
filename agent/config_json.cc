// Reading a config file: the strict JSON parser (json/strict_json.h: refuses everything
// that is not JSON, with a line and column) builds a tree and this file walks it against
// the key table, so every error names the key.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>

#include "agent/config.h"
#include "agent/config_keys.h"
#include "agent/config_values.h"
#include "common/file_io.h"
#include "json/strict_json.h"
#include "lease/node_record.h"

namespace shoal::agent {
namespace {

using Json = nlohmann::json;  // (calls say agent::quoted: argument lookup also finds std::quoted)

using json::fields;
using json::shown;
using json::whole_number;

// One key of a JSON object, matched to the name it stands for.
struct Entry {
  size_t rank;                 // position among the candidates: keys are read in table order
  std::string_view canonical;  // "Network"
  const std::string* written;  // as in the file: "network"
  const Json* value;
};

class Reader {
 public:
  Reader(AgentConfig& config, std::string_view source) : config_(config), source_(source) {}

  // Reads the keys under `prefix` ("" or "Backend.") from `object`.
  Status read_object(const Json& object, std::string_view prefix) {
    std::vector<std::string_view> names;  // leaves and sub-objects, in table order
    for (const auto& key : config_keys()) {
      if (!key.json.starts_with(prefix)) continue;
      std::string_view rest = key.json.substr(prefix.size());
      rest = rest.substr(0, rest.find('.'));
      if (std::find(names.begin(), names.end(), rest) == names.end()) names.push_back(rest);
    }
    for (auto name : ignored_keys_under(prefix)) names.push_back(name);

    std::vector<Entry> entries;
    if (Status matched = match(object, names, prefix, entries); !matched.ok()) return matched;
    for (const Entry& e : entries) {
      if (e.value->is_null()) continue;  // like Go: null sets nothing
      const std::string path = std::string(prefix) + std::string(e.canonical);
      if (auto* ignored = find_ignored(path)) {
        config_.warnings.push_back(source_ + ": \"" + path + "\": ignored (" +
                                   std::string(ignored->why) + ")");
      } else if (auto* key = find_key(path)) {
        if (Status read = read_value(*key, *e.value); !read.ok()) return read;
        config_.origins[path] = source_;
      } else if (!e.value->is_object()) {  // a group such as "Backend"
        return located(path,
                       "must be an object like {\"Type\": \"vxlan\"}, got " + shown(*e.value));
      } else if (Status read = read_object(*e.value, path + "."); !read.ok()) {
        return read;
      }
    }
    return {};
  }

 private:
  // A bad_key error about `path`, told with the file's name. Control bytes are escaped.
  Status located(std::string_view path, std::string problem) const {
    const Status error = Status::bad_key(std::string(path), std::move(problem));
    return error.reworded(
        printable(source_ + ": \"" + std::string(path) + "\": " + error.problem()));
  }

  // Pairs each key of `object` with one of `names`, as flannel (Go's encoding/json) does:
  // exactly, or else regardless of case (with a warning). Unknown keys are errors.
  Status match(const Json& object, std::span<const std::string_view> names, std::string_view prefix,
               std::vector<Entry>& out) {
    for (const auto& field : fields(object)) {
      const std::string* key = &field.first;  // not a structured binding: lambdas capture it
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
        std::string problem = source_ + ": unknown key " + agent::quoted(path);
        if (auto near = closest_match(*key, names); !near.empty())
          problem += " (did you mean \"" + std::string(prefix) + std::string(near) + "\"?)";
        return Status::bad_key(path, problem + "; docs/config.md lists the keys")
            .reworded(printable(problem + "; docs/config.md lists the keys"));
      }
      const size_t rank = static_cast<size_t>(it - names.begin());
      for (const Entry& e : out) {
        if (e.rank == rank)
          return Status::invalid_argument(
              printable(source_ + ": keys " + agent::quoted(std::string(prefix) + *e.written) +
                        " and " + agent::quoted(path) + " are the same key; keep only one"));
      }
      if (*it != *key)
        config_.warnings.push_back(source_ + ": " + agent::quoted(path) + " read as \"" +
                                   std::string(prefix) + std::string(*it) +
                                   "\" (keys match regardless of case, as in flannel)");
      out.push_back({rank, *it, key, &field.second});
    }
    std::sort(out.begin(), out.end(),
              [](const Entry& a, const Entry& b) { return a.rank < b.rank; });
    return {};
  }

  Status read_value(const ConfigKey& key, const Json& v) {
    switch (key.kind) {
      case ValueKind::kString:
        if (!v.is_string()) return located(key.json, must_be(key, shown(v)));
        return checked(key, ScalarValue(v.get<std::string>()), key.json);
      case ValueKind::kInteger: {
        const auto n = whole_number(v, key.min, key.max);
        if (!n) return located(key.json, must_be(key, shown(v)));
        return checked(key, ScalarValue(*n), key.json);
      }
      case ValueKind::kBool:
        if (!v.is_boolean()) return located(key.json, must_be(key, shown(v)));
        return checked(key, ScalarValue(v.get<bool>()), key.json);
      case ValueKind::kStringList: {
        if (!v.is_array()) return located(key.json, must_be(key, shown(v)));
        config_.seeds.clear();
        const auto& list = v.get_ref<const Json::array_t&>();
        for (size_t i = 0; i < list.size(); ++i) {
          const std::string path = std::string(key.json) + "[" + std::to_string(i) + "]";
          if (!list[i].is_string())
            return located(path,
                           "must be a string, like \"192.0.2.1:7946\", got " + shown(list[i]));
          if (Status set = checked(key, ScalarValue(list[i].get<std::string>()), path); !set.ok())
            return set;
        }
        return {};
      }
      case ValueKind::kSitePools:
        return read_site_pools(key, v);
    }
    return {};
  }

  Status checked(const ConfigKey& key, const ScalarValue& value, std::string_view path) {
    const Status set = key.set(key, config_, value);
    return set.ok() ? set : located(path, set.problem());
  }

  Status read_site_pools(const ConfigKey& key, const Json& v) {
    if (!v.is_object()) return located(key.json, must_be(key, shown(v)));
    auto& pools = config_.network_spec.site_pools;
    pools.clear();
    for (const auto& [site, pool] : fields(v)) {
      const std::string path = "SitePools." + site;
      if (site.empty() || site.size() > lease::RecordLimits{}.max_site_bytes ||
          has_control_chars(site))
        return located(path, "a site name must be 1 to 64 bytes without control characters");
      if (!pool.is_object()) return located(path, must_be(key, shown(pool)));
      static constexpr std::string_view kBounds[] = {"SubnetMin", "SubnetMax"};
      std::vector<Entry> bounds;
      if (Status matched = match(pool, kBounds, path + ".", bounds); !matched.ok()) return matched;
      std::string range[2];
      for (size_t i = 0; i < 2; ++i) {
        auto it = std::find_if(bounds.begin(), bounds.end(), [&](auto& b) { return b.rank == i; });
        const std::string bound = path + "." + std::string(kBounds[i]);
        if (it == bounds.end()) return located(bound, "missing; a site pool needs both bounds");
        if (!it->value->is_string())
          return located(bound,
                         "must be an IPv4 address, like \"198.18.1.0\", got " + shown(*it->value));
        range[i] = it->value->get<std::string>();
      }
      pools[site] = {range[0], range[1]};
    }
    return {};
  }

  AgentConfig& config_;
  std::string source_;
};

}  // namespace

Result<AgentConfig> parse_config(std::string_view json, std::string_view source) {
  const std::string where(source);
  if (json.size() > kMaxConfigBytes)
    return Status::invalid_argument(where + ": too large (" + std::to_string(json.size()) +
                                    " bytes, at most " + std::to_string(kMaxConfigBytes) + ")");
  if (json.starts_with("\xEF\xBB\xBF")) json.remove_prefix(3);  // a byte order mark
  const size_t start = json.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos)
    return Status::invalid_argument(
        where + ": is empty; it must hold a JSON object like {\"Network\": \"198.18.0.0/16\"}");
  if (json[start] != '{')
    return Status::invalid_argument(
        where + ": must hold a JSON object ({...}), like {\"Network\": \"198.18.0.0/16\"}");

  auto parsed = shoal::json::parse_strict(
      where, json, {.max_depth = 20, .depth_hint = "the configuration needs 3"});
  if (!parsed.ok()) return parsed.error();
  const Json root = std::move(parsed).value();

  AgentConfig config;
  config.source = where;
  Reader reader(config, where);
  if (Status read = reader.read_object(root, ""); !read.ok()) return read;
  return config;
}

Result<AgentConfig> load_config(const std::string& path) {
  auto content = read_file_limited(path, kMaxConfigBytes);
  if (!content) return content.error();
  return parse_config(*content, path);
}

}  // namespace shoal::agent
