// The keys requests: `shoal keys list|install|use|remove`. A change is made here first (and
// saved to KeyFile), then spread to the whole cluster as its newest keyring
// (node/cluster_keys.h). Every answer lists the other members and whether each has applied
// this agent's keyring, which is how `shoal keys` reports who has the change.
#include <spdlog/spdlog.h>

#include "agent/control_handler.h"
#include "crypto/key.h"
#include "node/nat_view.h"

namespace shoal::agent {
namespace {

// Every other member, and whether it has applied `version` (or a later one).
void list_members(const gossip::Membership& members, const NodeId& self,
                  const std::optional<node::KeysVersion>& version, proto::ControlResponse& out) {
  for (const auto& m : members.members()) {
    if (m.id == self) continue;
    auto* info = out.add_keys_members();
    info->set_name(m.name);
    info->set_id(m.id.hex());
    info->set_state(std::string(gossip::to_string(m.state)));
    const auto meta = node::decode_member_meta(m.meta);
    info->set_current(!version || (meta && meta->keys && *meta->keys >= *version));
  }
}

// A live member that has not applied our keyring yet, if any: `use` and `remove` wait for it,
// since a member that lacks the key about to seal everything would be cut off.
std::optional<std::string> first_behind(const proto::ControlResponse& listed) {
  for (const auto& m : listed.keys_members())
    if (!m.current() && (m.state() == "alive" || m.state() == "suspect")) return m.name();
  return std::nullopt;
}

}  // namespace

proto::ControlResponse ControlHandler::handle_keys(const proto::ControlRequest& request) {
  using R = proto::ControlRequest;
  const AgentConfig& config = view_.config;
  crypto::Keyring& keyring = view_.keyring;
  proto::ControlResponse out;
  if (request.request_case() != R::kKeysList) {
    if (config.key_file.empty())
      return refuse(
          "this agent runs without a key file (plaintext); set KeyFile (--key-file) on every "
          "host and restart them to use keys");
    // The members before the change: whether everyone had our last one.
    proto::ControlResponse before;
    list_members(view_.members, view_.id, view_.keys_version(), before);
    const bool force = (request.has_key_use() && request.key_use().force()) ||
                       (request.has_key_remove() && request.key_remove().force());
    if (!request.has_key_install() && !force)
      if (auto behind = first_behind(before))
        return refuse("member " + *behind +
                      " has not applied this agent's last key change yet; a key it lacks "
                      "would cut it off. Wait until `shoal keys list` shows every live member "
                      "current, or pass --force");
    const auto keys_before = keyring.list();
    Status changed;
    if (request.has_key_install()) {
      auto key = crypto::decode_key(request.key_install().key());
      if (!key) return refuse("key: " + key.error().to_string());
      changed = keyring.install(*key);
      if (changed.ok())
        out.set_message("installed key " + crypto::key_id_hex(crypto::key_id(*key)));
    } else {
      const std::string& text =
          request.has_key_use() ? request.key_use().key_id() : request.key_remove().key_id();
      auto id = crypto::parse_key_id_hex(text);
      if (!id)
        return refuse("'" + text + "' is not a key id (8 hex digits, see `shoal keys list`)");
      if (request.has_key_use()) {
        changed = keyring.use(*id);
        if (changed.ok()) out.set_message("now sealing with key " + text);
      } else {
        changed = keyring.remove(*id);
        if (changed.ok()) out.set_message("removed key " + text);
      }
    }
    if (!changed.ok()) return refuse(changed.to_string());
    if (keyring.list() == keys_before) {
      // Already so here (the cluster's change reached this agent first, or the same
      // command twice): nothing new to spread.
      out.set_message(out.message() + " (it already was)");
    } else if (const Status saved = keyring.save(config.key_file); !saved.ok()) {
      return refuse("changed in memory, but " + saved.to_string() +
                    " (the change is lost at restart, and was not spread to the cluster)");
    } else {
      const auto version = view_.publish_keys();
      if (!version)
        return refuse(
            "changed here and saved, but the keyring is too large to spread to the "
            "cluster; remove unused keys");
      spdlog::info("keys: {}; spreading it to the cluster as keyring {}", out.message(),
                   version->to_string());
    }
  }
  const auto version = view_.keys_version();
  if (version) out.set_keys_version(version->to_string());
  list_members(view_.members, view_.id, version, out);
  for (const auto& k : keyring.list()) {
    auto* info = out.add_keys();
    info->set_key_id(crypto::key_id_hex(k.id));
    info->set_primary(k.primary);
  }
  return out;
}

}  // namespace shoal::agent
