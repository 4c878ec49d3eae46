#include "common/frame_reader.h"

#include <algorithm>
#include <string>

#include "common/byte_order.h"
#include "common/take_front.h"

namespace shoal {

void append_frame(Bytes& out, ByteView body) {
  append_be32(out, static_cast<uint32_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
}

void FrameReader::feed(ByteView chunk) {
  while (!chunk.empty() && error_.ok()) {
    if (header_have_ < kFrameHeaderSize) {
      const size_t take = std::min(kFrameHeaderSize - header_have_, chunk.size());
      std::copy_n(chunk.begin(), take, header_ + header_have_);
      header_have_ += take;
      chunk = chunk.subspan(take);
      if (header_have_ < kFrameHeaderSize) return;
      body_size_ = get_be32(header_);
      if (body_size_ > max_body_) {
        error_ =
            Status::invalid_argument("frame of " + std::to_string(body_size_) +
                                     " bytes is over the limit of " + std::to_string(max_body_));
        return;
      }
    }
    const size_t take = std::min(body_size_ - body_.size(), chunk.size());
    body_.insert(body_.end(), chunk.begin(), chunk.begin() + static_cast<ptrdiff_t>(take));
    chunk = chunk.subspan(take);
    if (body_.size() == body_size_) {
      complete_.push_back(std::move(body_));
      body_ = Bytes();
      header_have_ = 0;
    }
  }
}

std::optional<Bytes> FrameReader::next() { return take_front(complete_); }

size_t FrameReader::buffered() const {
  size_t n = header_have_ + body_.size();
  for (const Bytes& b : complete_) n += b.size();
  return n;
}

}  // namespace shoal
