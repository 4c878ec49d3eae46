// The udp tunnel's receive path on arbitrary bytes, as a peer or an attacker sends them:
// parse_datagram, then (sealed) AeadKey::open with a fixed session key and the replay window
// only after it authenticated, then the inner packet through GroBatch, as the receive thread
// does; a relayed datagram's carried message parsed again, as its destination does; the bytes
// as an observed-endpoint message, which must write back as the very bytes it parsed. No
// crash, no read outside the datagram; random bytes never authenticate.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "backends/udp/offload.h"
#include "backends/udp/wire.h"
#include "crypto/aead.h"
#include "crypto/replay_window.h"
#include "crypto/sodium_init.h"

using namespace shoal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const crypto::AeadKey* key = [] {
    if (!crypto::init()) std::abort();
    const Bytes bytes(32, 0x5a);
    return new crypto::AeadKey(crypto::AeadKey::make(crypto::Aead::kChaCha20Poly1305, bytes));
  }();
  static crypto::ReplayWindow window;
  static udp::GroBatch gro(64);
  if (size == 0) return 0;
  const bool sealed = (data[0] & 1) != 0;
  std::vector<uint8_t> datagram(data + 1, data + size);  // the tunnel decrypts in place
  if (const auto seen = udp::parse_observed(datagram)) {
    uint8_t again[udp::kMaxObservedSize];
    const size_t n = udp::write_observed(again, *seen);
    if (n != datagram.size() || !std::equal(again, again + n, datagram.begin())) std::abort();
  }
  const uint8_t* const end = datagram.data() + datagram.size();
  udp::Datagram d = udp::parse_datagram(datagram.data(), datagram.size(), sealed);
  if (d.kind == udp::DatagramKind::kRelayed) {  // for us: what it carries, as a message of its own
    if (d.body != datagram.data() + udp::kRelayHeaderSize || d.body_size == 0 ||
        d.body + d.body_size != end)
      std::abort();
    d = udp::parse_datagram(d.body, d.body_size, true);
  }
  ByteView inner;
  switch (d.kind) {
    case udp::DatagramKind::kPlain:
      inner = {d.body, d.body_size};
      break;
    case udp::DatagramKind::kSealed:
      if (d.body + d.body_size + udp::kTagSize != end) std::abort();
      if (key->open(d.counter, {}, d.body, d.body_size, d.tag)) {
        // A fuzzer cannot forge a Poly1305 tag under a key it does not know.
        std::abort();
      }
      window.accept(d.counter);  // never reached by the tunnel for a refused packet; harmless
      return 0;
    default:
      return 0;
  }
  if (!udp::looks_like_ipv4(inner)) return 0;
  if (!gro.add(inner)) gro.reset();
  for (const ByteView w : gro.writes()) {
    if (w.size() < udp::kVirtioNetHdrSize) std::abort();
  }
  if (gro.packets() > 32) gro.reset();
  return 0;
}
