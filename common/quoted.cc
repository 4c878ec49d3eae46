#include "common/quoted.h"

#include <algorithm>

namespace shoal {
namespace {

void append_escaped(std::string& out, unsigned char ch) {
  constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[ch >> 4];
  out += kHex[ch & 15];
}

}  // namespace

std::string quoted(std::string_view text) {
  constexpr size_t kMaxShown = 80;
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto ch = static_cast<unsigned char>(text[i]);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch < 0x20 || ch >= 0x7f) {
      append_escaped(out, ch);  // what we echo must not drive the terminal
    } else {
      out += static_cast<char>(ch);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  return out + "\"";
}

std::string printable(std::string message) {
  auto is_control = [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; };
  if (std::none_of(message.begin(), message.end(), is_control)) return message;
  std::string out;
  for (char ch : message) {
    if (is_control(ch))
      append_escaped(out, static_cast<unsigned char>(ch));
    else
      out += ch;
  }
  return out;
}

}  // namespace shoal
