// Reading a config file: a strict JSON parser (RFC 8259, nlohmann-json's, driven through its
// SAX interface) builds a tree and this file walks it against the key table, so every error
// names the key.
//
// The parse refuses, with a line and column, everything that is not JSON: trailing commas,
// single quotes, unquoted keys, comments, NaN, Infinity, hex, invalid UTF-8, a NUL byte, and
// numbers beyond a double. It also refuses integers beyond 64 bits (which would be rounded),
// nesting deeper than kMaxDepth, and a key repeated in one object. Nothing throws: the
// parser reports errors to the handler below.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>

#include "agent/config.h"
#include "agent/config_keys.h"
#include "agent/config_values.h"
#include "common/file_io.h"
#include "lease/node_record.h"

namespace shoal::agent {
namespace {

using Json = nlohmann::json;  // (calls say agent::quoted: argument lookup also finds std::quoted)

constexpr size_t kMaxDepth = 20;  // the config needs 3

// A pointer into the text that counts the bytes the parser has pulled, so the handler knows
// where it is (nlohmann's SAX events carry no position).
class CountingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CountingIterator(const char* at, size_t* consumed) : at_(at), consumed_(consumed) {}
  reference operator*() const { return *at_; }
  CountingIterator& operator++() {
    ++at_;
    ++*consumed_;
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator before = *this;
    ++*this;
    return before;
  }
  bool operator==(const CountingIterator& other) const { return at_ == other.at_; }
  bool operator!=(const CountingIterator& other) const { return at_ != other.at_; }

 private:
  const char* at_;
  size_t* consumed_;
};

// Where a token that ends at `end` (its last byte) starts, for the kinds the parser names
// in "unexpected <token>" errors, and for a number beyond a double (see parser_message).
size_t token_start(std::string_view text, size_t end, std::string_view what) {
  auto back_over = [&](auto in_token) {
    while (end > 0 && in_token(text[end - 1])) --end;
    return end;
  };
  if (what.find("unexpected string literal") != std::string_view::npos && text[end] == '"') {
    for (size_t i = end; i-- > 0;) {  // the first quote before it not escaped opens it
      if (text[i] != '"') continue;
      size_t backslashes = 0;
      while (backslashes < i && text[i - 1 - backslashes] == '\\') ++backslashes;
      if (backslashes % 2 == 0) return i;
    }
    return end;
  }
  if (what.find("unexpected number literal") != std::string_view::npos ||
      what.find("number beyond") != std::string_view::npos)
    return back_over([](char ch) {
      return std::isdigit(static_cast<unsigned char>(ch)) || ch == '-' || ch == '+' || ch == '.' ||
             ch == 'e' || ch == 'E';
    });
  if (what.find("' literal") != std::string_view::npos)  // 'true', 'false', 'null'
    return back_over([](char ch) { return ch >= 'a' && ch <= 'z'; });
  return end;
}

// The parser's message without its prefixes ("[json.exception.parse_error.101] parse error
// at line 1, column 13: syntax error while parsing value - ") and without the bytes it
// last read (the position says where; they may be anything).
std::string parser_message(std::string_view what, std::string_view last_read) {
  if (const size_t at = what.find("] "); at != std::string_view::npos) what.remove_prefix(at + 2);
  if (what.starts_with("parse error")) {
    if (const size_t at = what.find(": "); at != std::string_view::npos) what.remove_prefix(at + 2);
  }
  if (what.starts_with("syntax error")) {
    if (const size_t at = what.find(" - "); at != std::string_view::npos)
      what.remove_prefix(at + 3);
  }
  std::string out(what);
  const std::string echo = "; last read: '" + std::string(last_read) + "'";
  if (const size_t at = out.find(echo); at != std::string::npos) out.erase(at, echo.size());
  if (out.starts_with("number overflow")) out = "number beyond the range of a double";
  return out;
}

// Builds the tree, refusing what the parser lets through: repeated keys, nesting beyond
// kMaxDepth, integers beyond int64. On any error, `problem` says what and `offset` where.
class TreeBuilder {
 public:
  TreeBuilder(std::string_view text, const size_t& consumed) : text_(text), consumed_(consumed) {}

  enum class Kind { kSyntax, kDepth, kRepeatedKey };
  Json root;
  std::string problem;
  Kind kind = Kind::kSyntax;
  size_t offset = 0;  // where, for kSyntax and kDepth

  bool null() { return add(nullptr); }
  bool boolean(bool value) { return add(value); }
  bool number_integer(Json::number_integer_t value) { return add(value); }
  bool number_unsigned(Json::number_unsigned_t value) {
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return too_big(std::to_string(value));
    return add(value);
  }
  bool number_float(Json::number_float_t value, const std::string& literal) {
    if (literal.find_first_of(".eE") == std::string::npos) return too_big(literal);
    return add(value);
  }
  bool string(std::string& value) { return add(std::move(value)); }
  bool binary(Json::binary_t&) { return fail("binary values are not JSON", consumed_); }
  bool start_object(size_t) { return open(Json::object()); }
  bool start_array(size_t) { return open(Json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string& name) {
    if (stack_.back()->contains(name)) {
      problem = "key " + agent::quoted(name) + " appears twice; keep only one";
      kind = Kind::kRepeatedKey;
      return false;
    }
    key_ = std::move(name);
    return true;
  }
  bool parse_error(size_t position, const std::string& last_read,
                   const nlohmann::detail::exception& ex) {
    problem = parser_message(ex.what(), last_read);
    // `position` counts the bytes read, the one that failed included; past the end: at the end.
    if (position > text_.size()) return fail(std::move(problem), text_.size());
    size_t at = position == 0 ? 0 : position - 1;
    at = token_start(text_, at, problem);
    if (problem.starts_with("invalid literal")) {
      if (text_[at] == '\'') problem += " (JSON strings and keys take double quotes)";
      if (text_[at] == '/') problem += " (JSON has no comments)";
      if (std::isalpha(static_cast<unsigned char>(text_[at])) &&
          problem.find("expected string literal") != std::string::npos)
        problem += " (keys take double quotes)";
    }
    return fail(std::move(problem), at);
  }

 private:
  bool fail(std::string what, size_t at) {
    problem = std::move(what);
    offset = at;
    return false;
  }
  bool too_big(const std::string& literal) {
    // The literal ends at the last byte read, or just before it (the byte that ended it).
    const size_t end = std::min(consumed_, text_.size());
    const size_t at = end >= literal.size() ? text_.rfind(literal, end - literal.size()) : 0;
    return fail("integer " + literal + " is beyond 64 bits", at == std::string_view::npos ? 0 : at);
  }
  template <typename T>
  Json* insert(T&& value) {
    if (stack_.empty()) {
      root = Json(std::forward<T>(value));
      return &root;
    }
    Json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(Json(std::forward<T>(value)));
      return &parent.back();
    }
    Json& slot = parent[key_];
    slot = Json(std::forward<T>(value));
    return &slot;
  }
  template <typename T>
  bool add(T&& value) {
    insert(std::forward<T>(value));
    return true;
  }
  bool open(Json container) {
    if (stack_.size() >= kMaxDepth) {
      kind = Kind::kDepth;
      return fail("objects and arrays nested more than " + std::to_string(kMaxDepth) +
                      " deep; the configuration needs 3",
                  consumed_ == 0 ? 0 : consumed_ - 1);
    }
    stack_.push_back(insert(std::move(container)));
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  std::string_view text_;
  const size_t& consumed_;
  std::vector<Json*> stack_;
  std::string key_;
};

std::string line_and_column(std::string_view text, size_t offset) {
  const std::string_view before = text.substr(0, offset);
  const size_t line = 1 + static_cast<size_t>(std::count(before.begin(), before.end(), '\n'));
  const size_t newline = before.rfind('\n');
  const size_t line_start = newline == std::string_view::npos ? 0 : newline + 1;
  return "line " + std::to_string(line) + ", column " + std::to_string(offset - line_start + 1);
}

// Parses `text` (which starts with '{') into `root`.
Status parse_tree(std::string_view source, std::string_view text, Json& root) {
  const std::string where(source);
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos)
    return Status::invalid_argument(where + ": JSON syntax error at " + line_and_column(text, nul) +
                                    ": a NUL byte");
  size_t consumed = 0;
  TreeBuilder builder(text, consumed);
  const bool ok = Json::sax_parse(CountingIterator(text.data(), &consumed),
                                  CountingIterator(text.data() + text.size(), &consumed), &builder,
                                  Json::input_format_t::json, /*strict=*/true,
                                  /*ignore_comments=*/false);
  if (ok && builder.problem.empty()) {
    root = std::move(builder.root);
    return {};
  }
  if (builder.problem.empty()) builder.problem = "not valid JSON";  // not expected
  std::string message;
  if (builder.kind == TreeBuilder::Kind::kRepeatedKey)
    message = where + ": " + builder.problem;
  else if (builder.kind == TreeBuilder::Kind::kDepth)
    message = where + ": at " + line_and_column(text, builder.offset) + ": " + builder.problem;
  else
    message = where + ": JSON syntax error at " + line_and_column(text, builder.offset) + ": " +
              builder.problem;
  return Status::invalid_argument(printable(std::move(message)));
}

std::string shown(const Json& v) {
  switch (v.type()) {
    case Json::value_t::number_integer:
      return std::to_string(v.get<int64_t>());
    case Json::value_t::number_unsigned:
      return std::to_string(v.get<uint64_t>());
    case Json::value_t::number_float: {
      char buffer[32];
      auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v.get<double>());
      return ec == std::errc() ? std::string(buffer, end) : "a number";
    }
    case Json::value_t::string:
      return agent::quoted(v.get_ref<const std::string&>());
    case Json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    default:
      return "null";
  }
}

// The fields of a JSON object, in key order (the tree's map keeps them so) for stable errors.
const Json::object_t& fields(const Json& object) { return object.get_ref<const Json::object_t&>(); }

// The value of an integer key, when it is a whole number (written 24 or 24.0) in [min, max].
std::optional<int64_t> whole_number(const Json& v, int64_t min, int64_t max) {
  if (v.is_number_integer()) {  // the parser refuses integers beyond int64
    if (v.is_number_unsigned() &&
        v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return std::nullopt;
    const int64_t n = v.get<int64_t>();
    if (n < min || n > max) return std::nullopt;
    return n;
  }
  if (!v.is_number_float()) return std::nullopt;
  const double d = v.get<double>();
  if (!std::isfinite(d) || std::trunc(d) != d || d < static_cast<double>(min) ||
      d > static_cast<double>(max))
    return std::nullopt;
  return static_cast<int64_t>(d);
}

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

  Json root;
  if (Status parsed = parse_tree(where, json, root); !parsed.ok()) return parsed;

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
