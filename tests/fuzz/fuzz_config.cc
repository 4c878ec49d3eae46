// Feeds arbitrary bytes to the config reader (then finish()) and, split at the first '=',
// to apply_flag: nothing may crash, leak or trip a sanitizer; every error says something
// and carries no control characters; a finished config is whole.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/config.h"
#include "common/subnet_env.h"
#include "tests/fuzz/check_message.h"

using namespace shoal;
using shoal::fuzz::check_message;
using namespace shoal::agent;

namespace {

void check_finished(AgentConfig& config) {
  if (config.name.empty()) config.name = "fuzz";  // no dependence on the host name
  const Status finished = finish(config);
  if (!finished.ok()) return check_message(finished.to_string());
  if (!config.network) std::abort();
  const auto& network = *config.network;
  if (network.subnet_len() > 30 || network.subnet_min() > network.subnet_max()) std::abort();
  if (config.backend.effective_port != 0 && config.backend.effective_port == config.bind.port)
    std::abort();
  auto first = Cidr::make(network.subnet_min(), network.subnet_len());
  if (!first || !network.network().contains(*first)) std::abort();
  if (render_subnet_env(network.network(), *first, 1450, config.ip_masq).empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_config(text, "fuzz.json");
  if (!parsed) {
    check_message(parsed.error().to_string());
  } else {
    AgentConfig& config = *parsed;
    for (const auto& warning : config.warnings) check_message(warning);
    check_finished(config);
  }

  const size_t eq = text.find('=');
  AgentConfig flags;
  flags.network_spec.network = "198.18.0.0/16";
  const Status applied = apply_flag(flags, text.substr(0, eq),
                                    eq == std::string_view::npos ? "" : text.substr(eq + 1));
  if (!applied.ok()) check_message(applied.to_string());
  check_finished(flags);
  return 0;
}
