// The one way agent code includes Boost.Asio. Boost 1.74's headers use std::exchange
// without including <utility>, which GCC 12's libstdc++ in C++20 mode no longer pulls in
// transitively, so <utility> must come first.
#pragma once

// clang-format off
#include <utility>
#include <boost/asio.hpp>
// clang-format on
