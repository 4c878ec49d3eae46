// The how of strict_json.h: nlohmann's SAX parser drives a tree builder that refuses what
// the parser would let through, and its error messages are trimmed to what a person needs.
#include "json/strict_json.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <iterator>
#include <limits>
#include <vector>

#include "common/quoted.h"

namespace shoal::json {
namespace {

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
// the limit, integers beyond int64. On any error, `problem` says what and `offset` where.
class TreeBuilder {
 public:
  TreeBuilder(std::string_view text, const size_t& consumed, const ParseLimits& limits)
      : text_(text), consumed_(consumed), limits_(limits) {}

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
      problem = "key " + shoal::quoted(name) + " appears twice; keep only one";
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
    if (stack_.size() >= limits_.max_depth) {
      kind = Kind::kDepth;
      std::string what =
          "objects and arrays nested more than " + std::to_string(limits_.max_depth) + " deep";
      if (!limits_.depth_hint.empty()) what += "; " + std::string(limits_.depth_hint);
      return fail(std::move(what), consumed_ == 0 ? 0 : consumed_ - 1);
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
  const ParseLimits& limits_;
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

}  // namespace

Result<Json> parse_strict(std::string_view source, std::string_view text, ParseLimits limits) {
  const std::string where(source);
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos)
    return Status::invalid_argument(where + ": JSON syntax error at " + line_and_column(text, nul) +
                                    ": a NUL byte");
  size_t consumed = 0;
  TreeBuilder builder(text, consumed, limits);
  const bool ok = Json::sax_parse(CountingIterator(text.data(), &consumed),
                                  CountingIterator(text.data() + text.size(), &consumed), &builder,
                                  Json::input_format_t::json, /*strict=*/true,
                                  /*ignore_comments=*/false);
  if (ok && builder.problem.empty()) return std::move(builder.root);
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
      return shoal::quoted(v.get_ref<const std::string&>());
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

const Json::object_t& fields(const Json& object) { return object.get_ref<const Json::object_t&>(); }

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

}  // namespace shoal::json
