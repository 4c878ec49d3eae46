#include "backends/masquerade.h"

#include <nftables/libnftables.h>

#include <memory>

namespace shoal::backends {
namespace {

struct ContextDeleter {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};

Status run(const std::string& commands) {
  std::unique_ptr<nft_ctx, ContextDeleter> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return Status::io_error("nftables: cannot create a context");
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  if (nft_run_cmd_from_buffer(ctx.get(), commands.c_str()) != 0) {
    std::string error = nft_ctx_get_error_buffer(ctx.get());
    while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
    return Status::io_error("nftables: " + (error.empty() ? std::string("command failed") : error));
  }
  return {};
}

}  // namespace

std::string masquerade_rules(const Cidr& network, const Cidr& subnet) {
  const std::string net = network.to_string();
  return std::string("table ip ") + kNftTable +
         " {\n"
         "  chain postrouting {\n"
         "    type nat hook postrouting priority srcnat; policy accept;\n"
         "    ip saddr " +
         net + " ip daddr " + net +
         " return\n"
         "    ip saddr " +
         net +
         " ip daddr != 224.0.0.0/4 masquerade fully-random\n"
         "    ip saddr != " +
         net + " ip daddr " + subnet.to_string() +
         " return\n"
         "    ip saddr != " +
         net + " ip daddr " + net +
         " masquerade fully-random\n"
         "  }\n"
         "}\n";
}

Status install_masquerade(const Cidr& network, const Cidr& subnet) {
  // add + delete + define in one transaction: replaces whatever the table held, atomically.
  return run(std::string("add table ip ") + kNftTable + "\ndelete table ip " + kNftTable + "\n" +
             masquerade_rules(network, subnet));
}

Status remove_masquerade() {
  return run(std::string("add table ip ") + kNftTable + "\ndelete table ip " + kNftTable + "\n");
}

}  // namespace shoal::backends
