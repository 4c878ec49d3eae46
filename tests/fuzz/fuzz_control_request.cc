// Feeds arbitrary bytes, in chunks whose sizes come from the input, to the control socket's
// FrameReader and every complete body to decode_request: nothing may crash, leak or trip a
// sanitizer; no body exceeds the cap; an accepted request passes request_error and
// survives a re-encode; every refusal says something without control characters.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "protocol/control_codec.h"
#include "tests/fuzz/check_message.h"

using namespace shoal;
using shoal::fuzz::check_message;
using namespace shoal::protocol;

namespace {

void check_body(const Bytes& body) {
  auto decoded = decode_request(body);
  if (!decoded) return check_message(decoded.error().to_string());
  const proto::ControlRequest& request = *decoded;
  if (!request_error(request).ok()) std::abort();
  const Bytes frame = encode_frame(request);
  FrameReader again(kMaxControlRequest);
  again.feed(frame);
  auto body_again = again.next();
  if (!body_again || !decode_request(*body_again)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the chunk size, so the reader sees splits at every position.
  const size_t chunk = 1 + data[0] % 17;
  ByteView rest(data + 1, size - 1);

  FrameReader reader(kMaxControlRequest);
  while (!rest.empty()) {
    const size_t take = std::min(chunk, rest.size());
    reader.feed(rest.first(take));
    rest = rest.subspan(take);
    while (auto body = reader.next()) {
      if (body->size() > kMaxControlRequest) std::abort();
      check_body(*body);
    }
  }
  if (!reader.error().ok()) check_message(reader.error().to_string());

  // The whole input as one body too: the decoder alone, without framing.
  check_body(Bytes(data + 1, data + size));
  return 0;
}
