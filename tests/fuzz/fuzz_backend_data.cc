// Feeds arbitrary bytes to the decoders of what peers publish for their datapath
// (node::decode_backend_data, and the member meta and cluster keyring decoders), and plans a
// datapath from a peer record carrying them: no crash, no sanitizer report; what decodes re-encodes
// to something that decodes the same; a peer whose data does not decode is skipped, never routed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/rng.h"
#include "node/backend_data.h"
#include "node/cluster_keys.h"
#include "node/datapath_plan.h"
#include "node/nat_view.h"

using namespace shoal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView input(data, size);
  // The other bytes peers publish beside it: member meta and cluster keyring updates.
  if (const auto meta = node::decode_member_meta(input)) {
    const auto again = node::decode_member_meta(node::encode_member_meta(*meta));
    if (!again || !(*again == *meta)) std::abort();
  }
  if (const auto keys = node::decode_keys_update(input)) {
    if (keys->keyring.size() > node::kMaxKeyringText) std::abort();
    const auto again = node::decode_keys_update(node::encode_keys_update(*keys));
    if (!again || again->version != keys->version || again->keyring != keys->keyring) std::abort();
  }
  const auto decoded = node::decode_backend_data(input);
  if (decoded) {
    const auto again = node::decode_backend_data(node::encode_backend_data(*decoded));
    if (!again || !(*again == *decoded)) std::abort();
  }

  Rng rng(1);
  const WallTime wall{std::chrono::milliseconds(1767225600000)};
  lease::Table table(std::chrono::hours(1));
  lease::NodeRecord peer;
  peer.id = NodeId::random(rng);
  peer.version = 1;
  peer.name = "peer";
  peer.underlay = IpAddress::v4(198, 51, 100, 2);
  peer.backend_data.assign(data, data + std::min(size, node::kMaxBackendDataBytes));
  peer.claims.push_back({*Cidr::parse("198.18.2.0/24"), HlcStamp{1, 0}});
  peer.renewed_at = wall;
  table.merge(peer);
  const node::LocalFacts facts{
      IpAddress::v4(192, 0, 2, 1), "u0", 1500, {*Cidr::parse("192.0.2.0/24")}, {}};
  const auto plan = node::plan(table, table.owners(wall), NodeId::random(rng), wall, facts, {});
  const bool usable = node::decode_backend_data(peer.backend_data).ok() &&
                      node::decode_backend_data(peer.backend_data)->vtep_mac.has_value();
  if (usable != (plan.routes.size() == 1)) std::abort();
  if (plan.routes.size() + plan.skipped.size() != 1) std::abort();
  return 0;
}
