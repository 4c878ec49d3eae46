// What `shoal members|leases|status|keys` print: aligned text tables (a header line, columns
// as wide as their widest cell, two spaces apart, no trailing blanks) in the order the agent
// sent the rows, or the response as JSON for `--json`.
#pragma once

#include <cstdint>
#include <string>

#include "proto/control.pb.h"

namespace google::protobuf {
class Message;
}

namespace shoal::cli {

std::string format_members(const proto::ControlResponse& response);
// Times are shown relative to `now_unix_ms` ("12s ago", "in 3m"); own leases are starred.
std::string format_leases(const proto::ControlResponse& response, int64_t now_unix_ms);
std::string format_leases(const proto::ControlResponse& response);  // relative to the clock
std::string format_status(const proto::ControlResponse& response);
// `shoal fault`: the faults on, with their ids and when they expire.
std::string format_faults(const proto::ControlResponse& response);
std::string format_keys(const proto::ControlResponse& response);

// Indented JSON with lowerCamel field names. Every field is printed, even when zero, false
// or empty, so scripts find the same keys every time (64-bit integers are JSON strings,
// as proto3's JSON mapping says).
std::string to_json(const google::protobuf::Message& message);

}  // namespace shoal::cli
