// The udp tunnel's handshake on arbitrary bytes: respond() to a would-be initiation and
// Initiator::finish() on a would-be response never crash, never read outside the input, and
// never accept bytes that were not made by the other end; a refusal names a reason about
// the bytes (kBadSize for any other length) and leaves no response to send. Inputs that are
// the real message with bytes changed come from the corpus (and from mutating the real
// messages below).
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "crypto/drop_reason.h"
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

// A reason respond() or finish() may give for bytes from the network here: not one about
// this end (its identity), the caller's peers (everyone is known) or a finished handshake.
bool about_the_bytes(DropReason reason) {
  return reason != DropReason::kUnknownPeer && reason != DropReason::kAlreadyDone &&
         reason < DropReason::kCount;
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
  if (accepted || !about_the_bytes(accepted.error())) std::abort();
  if (size != kInitiationSize && accepted.error() != DropReason::kBadSize) std::abort();
  if (response != std::array<uint8_t, kResponseSize>{}) std::abort();

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
  if (any && (reply || !about_the_bytes(reply.error()))) std::abort();
  if (!any && !reply) std::abort();

  // Random bytes as the response to our initiation: refused.
  const auto finished = initiator->finish(input);
  if (finished || !about_the_bytes(finished.error())) std::abort();
  if (size != kResponseSize && finished.error() != DropReason::kBadSize) std::abort();
  return 0;
}
