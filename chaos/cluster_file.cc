#include "chaos/cluster_file.h"

#include <set>

#include "chaos/json_object.h"

namespace shoal::chaos {
namespace {

// A list of strings at `key`, each 1..max bytes; absent leaves `out` alone.
Status strings(const JsonObject& o, std::string_view key, std::vector<std::string>& out,
               size_t max_items) {
  const json::Json* v = o.find(key);
  if (!v) return {};
  if (!v->is_array() || v->size() > max_items)
    return Status::bad_key(o.at(key), "must be a list of at most " + std::to_string(max_items) +
                                          " strings, got " + json::shown(*v));
  for (const auto& item : *v) {
    if (!item.is_string() || item.get_ref<const std::string&>().empty() ||
        item.get_ref<const std::string&>().size() > 1024)
      return Status::bad_key(o.at(key),
                             "must hold strings of 1 to 1024 bytes, got " + json::shown(item));
    out.push_back(item.get<std::string>());
  }
  return {};
}

}  // namespace

std::vector<std::string> ClusterFile::command(size_t h, std::vector<std::string> args) const {
  const ClusterHost& host = hosts[h];
  std::vector<std::string> argv = host.exec;
  argv.push_back(shoal);
  argv.insert(argv.end(), args.begin(), args.end());
  if (!host.control_socket.empty())
    argv.insert(argv.end(), {"--control-socket", host.control_socket});
  return argv;
}

Result<ClusterFile> parse_cluster(std::string_view source, std::string_view text) {
  const std::string where(source);
  if (text.size() > kMaxClusterBytes)
    return Status::invalid_argument(where + ": larger than " +
                                    std::to_string(kMaxClusterBytes >> 10) + " KiB");
  auto located = [&](Status s) { return s.prefixed(where); };
  auto tree =
      json::parse_strict(source, text, {.max_depth = 4, .depth_hint = "cluster files need 3"});
  if (!tree.ok()) return tree.error();
  ClusterFile file;
  JsonObject root(*tree, "");
  if (Status s = root.only({"hosts", "shoal", "command_timeout_s"}); !s.ok()) return located(s);
  if (Status s = root.text("shoal", file.shoal, 1024); !s.ok()) return located(s);
  if (file.shoal.empty()) return located(Status::bad_key("shoal", "must not be empty"));
  if (Status s = root.number("command_timeout_s", file.command_timeout_s, 1, 600); !s.ok())
    return located(s);
  const json::Json* hosts = root.find("hosts");
  if (!hosts || !hosts->is_array() || hosts->size() < 2 || hosts->size() > kMaxClusterHosts)
    return located(Status::bad_key(
        "hosts", "must be a list of 2 to " + std::to_string(kMaxClusterHosts) + " hosts"));
  std::set<std::string> names;
  for (size_t i = 0; i < hosts->size(); ++i) {
    JsonObject h((*hosts)[i], "hosts[" + std::to_string(i) + "]");
    ClusterHost host;
    if (Status s = h.only({"name", "exec", "control_socket"}); !s.ok()) return located(s);
    if (Status s = h.text("name", host.name, 128); !s.ok()) return located(s);
    if (host.name.empty()) return located(Status::bad_key(h.at("name"), "is required"));
    if (!names.insert(host.name).second)
      return located(Status::bad_key(h.at("name"), "\"" + host.name + "\" is named twice"));
    if (Status s = strings(h, "exec", host.exec, 32); !s.ok()) return located(s);
    if (Status s = h.text("control_socket", host.control_socket, 1024); !s.ok()) return located(s);
    file.hosts.push_back(std::move(host));
  }
  return file;
}

}  // namespace shoal::chaos
