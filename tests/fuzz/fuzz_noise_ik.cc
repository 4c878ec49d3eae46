// The udp tunnel's handshake on arbitrary bytes: respond() to a would-be initiation and
// Initiator::finish() on a would-be response never crash, never read outside the input, and
// never accept bytes that were not made by the other end. Inputs that are the real message
// with bytes changed come from the corpus (and from mutating the real messages below).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "crypto/noise_ik.h"
#include "crypto/sodium_init.h"

using namespace shoal;
using namespace shoal::crypto;

namespace {

struct Keys {
  Identity initiator = Identity::generate();
  Identity responder = Identity::generate();
};

const Keys& keys() {
  static const Keys* k = [] {
    if (!crypto::init()) std::abort();
    return new Keys;
  }();
  return *k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Keys& k = keys();
  const ByteView input(data, size);
  std::array<uint8_t, kResponseSize> response{};
  // Random bytes as an initiation: the mac1 check refuses them (a fuzzer cannot forge a
  // keyed BLAKE2b), so nothing is accepted.
  auto accepted = respond(
      k.responder, input, 7, [](const PublicKey&) { return true; },
      std::span<uint8_t, kResponseSize>(response));
  if (accepted) std::abort();

  // A real initiation with the input XORed into it: refused unless the input changed nothing.
  std::array<uint8_t, kInitiationSize> initiation{};
  auto initiator =
      Initiator::start(k.initiator, k.responder.public_key(), 9, 1, Aead::kChaCha20Poly1305,
                       std::span<uint8_t, kInitiationSize>(initiation));
  if (!initiator) std::abort();
  std::array<uint8_t, kInitiationSize> changed = initiation;
  bool any = false;
  for (size_t i = 0; i < size && i < changed.size(); ++i) {
    changed[i] ^= data[i];
    any |= data[i] != 0;
  }
  auto reply = respond(
      k.responder, {changed.data(), changed.size()}, 7, [](const PublicKey&) { return true; },
      std::span<uint8_t, kResponseSize>(response));
  if (any && reply) std::abort();
  if (!any && !reply) std::abort();

  // Random bytes as the response to our initiation: refused.
  if (initiator->finish(input)) std::abort();
  return 0;
}
