// Boost.Asio for the agent. Include this, never <boost/asio.hpp> directly: Boost 1.74's
// awaitable.hpp uses std::exchange without including <utility>, which GCC 12 in C++20 mode
// does not pull in on its own. (clang-format would sort the two; the order is the point.)
#pragma once

// clang-format off
#include <utility>
#include <boost/asio.hpp>
// clang-format on

namespace shoal::agent {
namespace asio = boost::asio;
}  // namespace shoal::agent
