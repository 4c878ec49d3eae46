// Feeds arbitrary bytes to the agent's wire framing, sealed and plaintext: as a datagram and
// as stream bytes split at an arbitrary point. Nothing may crash, leak or trip a sanitizer;
// a refused stream stays refused; sealed input never opens without the key (it is random).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "crypto/keyring.h"
#include "crypto/sodium_init.h"
#include "protocol/sealed_frames.h"

using namespace shoal;

namespace {

const crypto::Keyring& keyring() {
  static const crypto::Keyring ring = [] {
    if (!crypto::init()) std::abort();
    crypto::Keyring k;
    crypto::Key key{};
    for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
    if (!k.install(key).ok()) std::abort();
    return k;
  }();
  return ring;
}

void exercise(const protocol::SealedFrames& frames, ByteView input) {
  (void)frames.unwrap_datagram(input);
  protocol::SealedFrames::Reader reader(frames, 1 << 20);
  const size_t cut = input.empty() ? 0 : input[0] % (input.size() + 1);
  reader.feed(input.subspan(0, cut));
  while (reader.next()) {
  }
  const bool failed_early = reader.failed().has_value();
  reader.feed(input.subspan(cut));
  while (reader.next()) {
  }
  if (failed_early && !reader.failed()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView input(data, size);
  exercise(protocol::SealedFrames(&keyring()), input);
  exercise(protocol::SealedFrames(nullptr), input);
  return 0;
}
