#include "backends/nft.h"

#include <nftables/libnftables.h>

#include <memory>

namespace shoal::backends {
namespace {

struct ContextDeleter {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};

}  // namespace

Status run_nft(const std::string& commands) {
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

std::string replace_table_commands(const std::string& family, const std::string& name,
                                   const std::string& definition) {
  const std::string table = family + " " + name;
  return "add table " + table + "\ndelete table " + table + "\n" + definition;
}

}  // namespace shoal::backends
