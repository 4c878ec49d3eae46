// Parsers for the kinds of text values the configuration holds: addresses with optional
// ports, durations ("1h30m"), and checks shared by several keys. Nullopt, never an
// exception, on anything malformed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/endpoint.h"

namespace shoal::agent {

// "192.0.2.1:7946", "[2001:db8::1]:7946", or, when `default_port` is given, a bare
// address ("192.0.2.1", "2001:db8::1", "[2001:db8::1]") that takes that port.
std::optional<Endpoint> parse_endpoint(std::string_view text, std::optional<uint16_t> default_port);

// Go-style durations made of whole numbers with h, m or s units: "24h", "90m", "1h30m",
// "45s". At most a few years' worth; nullopt for anything else (no fractions, no sign).
std::optional<std::chrono::seconds> parse_duration(std::string_view text);

// 0.0.0.0 or ::
bool is_unspecified(const IpAddress& address);
// Any byte below 0x20, or DEL: such names would garble tables and logs.
bool has_control_chars(std::string_view text);

}  // namespace shoal::agent
