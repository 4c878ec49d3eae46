// Feeds arbitrary bytes to shoal-cni's two readers of untrusted input, the network
// configuration (for every command) and subnet.env, and builds and renders the bridge
// config from what they accept: nothing may throw, crash or trip a sanitizer; every refusal
// carries a CNI code and a message; what subnet.env parses renders back to the same values.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cni/netconf.h"
#include "common/subnet_env.h"

using namespace shoal;
using namespace shoal::cni;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto env = parse_subnet_env(text);
  if (env) {
    if (!env->network.contains(env->subnet)) std::abort();
    if (env->subnet.prefix() <= 30) {
      const auto again =
          parse_subnet_env(render_subnet_env(env->network, env->subnet, env->mtu, env->ipmasq));
      if (!again || again->subnet != env->subnet || again->mtu != env->mtu) std::abort();
    }
  } else if (env.error().message().empty()) {
    std::abort();
  }
  const SubnetEnv fallback =
      env ? *env
          : *parse_subnet_env(
                "FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.5.1/24\n"
                "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n");
  for (Command command :
       {Command::kAdd, Command::kDel, Command::kCheck, Command::kStatus, Command::kGc}) {
    const auto conf = parse_netconf(text, command);
    if (!conf) {
      if (conf.error().msg.empty() || static_cast<int>(conf.error().code) == 0) std::abort();
      if (render_error(conf.error(), "1.0.0").empty()) std::abort();
      continue;
    }
    const auto bridge = delegate_config(*conf, fallback);
    if (bridge.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).empty()) std::abort();
  }
  return 0;
}
