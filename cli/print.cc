#include "cli/print.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "common/time.h"

namespace shoal::cli {

namespace {

using Row = std::vector<std::string>;

// Columns left-aligned, each as wide as its widest cell; the last one is not padded.
std::string render_table(const std::vector<Row>& rows) {
  std::vector<size_t> widths;
  for (const Row& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const Row& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
  }
  return out;
}

// "45s", "12m", "3h", "2d": the largest unit that keeps the number at least 1.
std::string short_duration(int64_t ms) {
  const int64_t s = ms / 1000;
  if (s < 120) return std::to_string(s) + "s";
  if (s < 120 * 60) return std::to_string(s / 60) + "m";
  if (s < 48 * 3600) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

std::string relative(int64_t at_ms, int64_t now_ms) {
  if (at_ms == 0) return "-";
  if (at_ms >= now_ms) return "in " + short_duration(at_ms - now_ms);
  return short_duration(now_ms - at_ms) + " ago";
}

std::string yes_no(bool b) { return b ? "yes" : "no"; }

}  // namespace

std::string format_members(const proto::ControlResponse& response) {
  std::vector<Row> rows{{"NAME", "ID", "ADDRESS", "STATE", "INCARNATION", "PATH", "ENDPOINT"}};
  for (const auto& m : response.members())
    rows.push_back({m.name(), m.id(), m.address(), m.state(), std::to_string(m.incarnation()),
                    m.path().empty() ? "(self)" : m.path(),
                    m.endpoint().empty() ? "-" : m.endpoint()});
  return render_table(rows);
}

std::string format_leases(const proto::ControlResponse& response, int64_t now_unix_ms) {
  std::vector<Row> rows{
      {"  NODE", "SUBNET", "UNDERLAY", "PATH", "READY", "RENEWED", "EXPIRES", "ID", "ENDPOINT"}};
  for (const auto& l : response.leases())
    rows.push_back({(l.own() ? "* " : "  ") + l.node(), l.subnet(), l.underlay(),
                    l.own() ? "(own)" : (l.path().empty() ? "-" : l.path()), yes_no(l.ready()),
                    relative(l.renewed_at_ms(), now_unix_ms),
                    relative(l.expires_at_ms(), now_unix_ms), l.id(),
                    l.endpoint().empty() ? "-" : l.endpoint()});
  return render_table(rows);
}

std::string format_leases(const proto::ControlResponse& response) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return format_leases(response,
                       std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

std::string format_status(const proto::ControlResponse& response) {
  const auto& s = response.status();
  const std::string subnet =
      s.subnet().empty()
          ? (s.no_subnet_reason().empty() ? "(none yet)" : "none: " + s.no_subnet_reason())
          : s.subnet() + (s.subnet_ready() ? "" : " (not ready)");
  const std::string members = std::to_string(s.members_alive()) + " alive, " +
                              std::to_string(s.members_suspect()) + " suspect, " +
                              std::to_string(s.members_dead()) + " dead, " +
                              std::to_string(s.members_left()) + " left";
  const std::string encryption =
      s.encrypted() ? "on (" + std::to_string(s.key_count()) + " keys)" : "off";
  std::vector<Row> rows{{"name:", s.name()},
                        {"id:", s.id()},
                        {"version:", s.version()},
                        {"bind:", s.bind()},
                        {"network:", s.network()},
                        {"subnet:", subnet},
                        {"backend:", s.backend()},
                        {"encryption:", encryption},
                        {"members:", members},
                        {"nat:", s.nat().empty() ? "-" : s.nat()},
                        {"leases:", std::to_string(s.lease_count())},
                        {"uptime:", short_duration(static_cast<int64_t>(s.uptime_s()) * 1000)},
                        {"data dir:", s.data_dir()}};
  if (!s.datapath_device().empty()) {
    rows.push_back({"datapath:", s.datapath_device() + ", " + std::to_string(s.peers_installed()) +
                                     " peers installed, " + std::to_string(s.peers_skipped()) +
                                     " skipped, pod MTU " + std::to_string(s.pod_mtu())});
    for (const auto& skipped : s.skipped_peers()) rows.push_back({"  skipped:", skipped});
    rows.push_back({"reconciles:", std::to_string(s.reconciles()) + " (" +
                                       std::to_string(s.drift_repaired()) + " objects put back)"});
    if (!s.datapath_error().empty()) rows.push_back({"last error:", s.datapath_error()});
  }
  if (!s.tunnel_offloads().empty()) {
    rows.push_back({"tunnel:", s.tunnel_cipher() + ", " + std::to_string(s.tunnel_sessions()) +
                                   " sessions, " + std::to_string(s.tunnel_packets_out()) +
                                   " packets out, " + std::to_string(s.tunnel_packets_in()) +
                                   " in"});
    rows.push_back({"offloads:", s.tunnel_offloads()});
    for (const auto& drop : s.tunnel_drops()) rows.push_back({"  dropped:", drop});
  }
  return render_table(rows);
}

std::string format_faults(const proto::ControlResponse& response) {
  if (response.faults().empty()) return "no faults on\n";
  std::vector<Row> rows{{"ID", "WHAT", "DIRECTION", "PEERS", "EXPIRES IN"}};
  for (const auto& f : response.faults()) {
    std::string peers;
    for (const auto& p : f.peers()) peers += (peers.empty() ? "" : ",") + p;
    std::string what =
        f.loss_percent() >= 100 ? "drop" : "loss " + std::to_string(f.loss_percent()) + "%";
    if (f.clock_offset_ms() != 0)
      what = "clock " + signed_seconds(std::chrono::milliseconds(f.clock_offset_ms()));
    rows.push_back({std::to_string(f.id()), what, f.clock_offset_ms() != 0 ? "-" : f.direction(),
                    peers.empty() ? "-" : peers,
                    std::to_string((f.expires_in_ms() + 999) / 1000) + " s"});
  }
  return render_table(rows);
}

std::string format_keys(const proto::ControlResponse& response) {
  std::vector<Row> rows{{"KEY ID", "ROLE"}};
  for (const auto& k : response.keys())
    rows.push_back({k.key_id(), k.primary() ? "primary (seals)" : "accepted"});
  std::string out = render_table(rows);
  if (response.keys_version().empty()) {
    out += "cluster keyring: no cluster-wide change made yet\n";
    return out;
  }
  // Who has this agent's keyring: live members that do, live ones that do not (yet), and
  // members not running (they take it when back, if they hold a key the cluster accepts).
  size_t live = 1, current = 1;  // this agent
  std::string behind, down;
  for (const auto& m : response.keys_members()) {
    const bool is_live = m.state() == "alive" || m.state() == "suspect";
    if (is_live) {
      ++live;
      if (m.current())
        ++current;
      else
        behind += (behind.empty() ? "" : ", ") + m.name();
    } else if (!m.current()) {  // dead, or stopped (left): it may come back
      down += (down.empty() ? "" : ", ") + m.name();
    }
  }
  out += "cluster keyring " + response.keys_version() + ": " + std::to_string(current) + " of " +
         std::to_string(live) + " live members have it";
  if (!behind.empty()) out += "; not yet: " + behind;
  out += "\n";
  if (!down.empty()) out += "not running, will catch up if they come back: " + down + "\n";
  return out;
}

std::string to_json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok())
    return "{}\n";  // only for messages with unprintable fields, which ours do not have
  if (out.empty() || out.back() != '\n') out += "\n";
  return out;
}

}  // namespace shoal::cli
