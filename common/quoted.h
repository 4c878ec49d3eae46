// Text a user wrote, made safe to echo in an error message or a log line.
#pragma once

#include <string>
#include <string_view>

namespace shoal {

// `text` quoted for an error message: control and non-ASCII bytes escaped, long text cut.
// (Call it shoal::quoted: argument lookup on a string also finds std::quoted.)
std::string quoted(std::string_view text);
// `message` with any control byte escaped as \xNN: errors and warnings carry names the
// user wrote (sites, networks), and must not drive the terminal they are printed on.
std::string printable(std::string message);

}  // namespace shoal
