// The one way agent/ includes Boost.Asio. Boost 1.74's Asio does not compile as C++20 with
// GCC 12 unless <utility> comes first (awaitable.hpp uses std::exchange).
#pragma once

#include <utility>

#include <boost/asio.hpp>

namespace shoal::agent {
namespace asio = boost::asio;
}  // namespace shoal::agent
