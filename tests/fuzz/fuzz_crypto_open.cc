// Keyring::open and Keyring::parse on arbitrary bytes: no crash, no read outside the input,
// the size limits hold, a refused packet yields no plaintext, and a keyring that parses
// seals what it then opens.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <variant>

#include "crypto/keyring.h"

using namespace shoal;
using namespace shoal::crypto;

namespace {

const Keyring& fixed_keyring() {
  // Key 0x42 repeated; the seed corpus is sealed with it.
  static const Keyring* keyring = [] {
    Key key;
    key.fill(0x42);
    auto* ring = new Keyring;
    if (!ring->install(key).ok()) std::abort();
    return ring;
  }();
  return *keyring;
}

void check_open(ByteView input) {
  const auto opened = fixed_keyring().open(input);
  if (input.size() > kMaxSealedSize && (opened || opened.error() != DropReason::kTooLarge))
    std::abort();
  if (input.size() < kSealOverhead && (opened || opened.error() != DropReason::kTooShort))
    std::abort();
  if (opened && opened->size() != input.size() - kSealOverhead) std::abort();
}

void check_parse(ByteView input) {
  auto result = Keyring::parse(as_chars(input));
  if (!result.ok()) return;
  const Keyring& keyring = result.value();
  if (keyring.empty() || keyring.size() > Keyring::kMaxKeys) std::abort();
  if (!keyring.list().front().primary) std::abort();
  const Bytes sealed = keyring.seal(input.first(std::min(input.size(), size_t{64})));
  if (!keyring.open(sealed)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView input(data, size);
  check_open(input);
  check_parse(input);
  return 0;
}
