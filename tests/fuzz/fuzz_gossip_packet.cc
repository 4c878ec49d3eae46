// Feeds arbitrary bytes to a gossip core as a datagram and as a stream message, then lets
// its timers run: nothing may crash, leak, hang or trip a sanitizer.
#include <cstddef>
#include <cstdint>

#include "gossip/membership.h"
#include "gossip/version.h"

using namespace shoal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Endpoint kSelf{IpAddress::v4(192, 0, 2, 1), 7946};
  static const Endpoint kPeer{IpAddress::v4(192, 0, 2, 2), 7946};
  Rng rng(1);
  const NodeId id = NodeId::random(rng);
  gossip::Membership core(gossip::Config::lan(), gossip::LocalNode{id, "fuzz", kSelf, {}, 0}, 1,
                          kTimeZero);
  const ByteView input(data, size);
  core.handle_packet(kTimeZero + 1ms, kPeer, input);
  core.handle_stream(kTimeZero + 2ms, kPeer, gossip::StreamId{1}, input);
  // The same bytes behind a valid version byte reach the protobuf parser more often; behind
  // a newer one, the best-effort path (gossip/wire.h).
  Bytes versioned(size + 1);
  std::copy(data, data + size, versioned.begin() + 1);
  versioned[0] = gossip::kWireVersionMin;
  core.handle_packet(kTimeZero + 3ms, kPeer, versioned);
  core.handle_stream(kTimeZero + 4ms, kPeer, gossip::StreamId{2}, versioned);
  versioned[0] = gossip::kWireVersionMax + 1;
  core.handle_packet(kTimeZero + 5ms, kPeer, versioned);
  for (TimePoint t = kTimeZero; t < kTimeZero + 5s; t += 250ms) core.handle_timeout(t);
  while (core.poll_transmit()) {
  }
  while (core.poll_event()) {
  }
  return 0;
}
