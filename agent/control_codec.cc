#include "agent/control_codec.h"

#include <algorithm>

#include "common/byte_order.h"
#include "common/take_front.h"

namespace shoal::agent {

namespace {

// Well-formed UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    uint32_t min = 0, cp = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xe0) == 0xc0) {
      extra = 1, min = 0x80, cp = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
      extra = 2, min = 0x800, cp = lead & 0x0f;
    } else if ((lead & 0xf8) == 0xf0) {
      extra = 3, min = 0x10000, cp = lead & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (next & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

bool printable(const std::string& s) {
  return std::none_of(s.begin(), s.end(),
                      [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; });
}

bool is_key_id(const std::string& s) {
  return s.size() == 8 && std::all_of(s.begin(), s.end(), [](char ch) {
           return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
         });
}

// Empty if `value` may be the request's `field`, else why not.
std::string string_error(const std::string& field, const std::string& value) {
  if (value.empty()) return field + " is empty";
  if (value.size() > kMaxControlString)
    return field + " is " + std::to_string(value.size()) + " bytes long; the limit is " +
           std::to_string(kMaxControlString);
  if (!valid_utf8(value)) return field + " is not valid UTF-8";
  if (!printable(value)) return field + " contains control characters";
  return "";
}

std::string key_id_error(const std::string& value) {
  if (!is_key_id(value)) return "a key id is 8 hex digits (see `shoal keys list`)";
  return "";
}

}  // namespace

Bytes encode_frame(const google::protobuf::Message& message) {
  const size_t size = message.ByteSizeLong();
  Bytes frame(kControlHeaderSize + size);
  put_be32(frame.data(), static_cast<uint32_t>(size));  // size <= kMaxControlResponse
  message.SerializeWithCachedSizesToArray(frame.data() + kControlHeaderSize);
  return frame;
}

std::string request_error(const proto::ControlRequest& request) {
  using R = proto::ControlRequest;
  switch (request.request_case()) {
    case R::kMembers:
    case R::kLeases:
    case R::kStatus:
    case R::kLeave:
    case R::kKeysList:
      return "";
    case R::kForget:
      return string_error("the node to forget", request.forget().node());
    case R::kKeyInstall:
      return string_error("the key to install", request.key_install().key());
    case R::kKeyUse:
      return key_id_error(request.key_use().key_id());
    case R::kKeyRemove:
      return key_id_error(request.key_remove().key_id());
    case R::REQUEST_NOT_SET:
      break;
  }
  return "unknown request (is the shoal command newer than the agent?)";
}

std::variant<proto::ControlRequest, std::string> decode_request_checked(ByteView body) {
  if (body.size() > kMaxControlRequest) return std::string("request too large");
  proto::ControlRequest request;
  if (!request.ParseFromArray(body.data(), static_cast<int>(body.size())))
    return std::string("malformed request (not a shoal control message)");
  if (std::string error = request_error(request); !error.empty()) return error;
  return request;
}

std::optional<proto::ControlRequest> decode_request(ByteView body) {
  auto decoded = decode_request_checked(body);
  if (auto* request = std::get_if<proto::ControlRequest>(&decoded)) return std::move(*request);
  return std::nullopt;
}

std::optional<proto::ControlResponse> decode_response(ByteView body) {
  if (body.size() > kMaxControlResponse) return std::nullopt;
  proto::ControlResponse response;
  if (!response.ParseFromArray(body.data(), static_cast<int>(body.size()))) return std::nullopt;
  return response;
}

void FrameReader::feed(ByteView chunk) {
  while (!chunk.empty() && error_.empty()) {
    if (header_have_ < kControlHeaderSize) {
      const size_t take = std::min(kControlHeaderSize - header_have_, chunk.size());
      std::copy_n(chunk.begin(), take, header_ + header_have_);
      header_have_ += take;
      chunk = chunk.subspan(take);
      if (header_have_ < kControlHeaderSize) return;
      body_size_ = get_be32(header_);
      if (body_size_ > max_body_) {
        error_ = "frame of " + std::to_string(body_size_) + " bytes is over the limit of " +
                 std::to_string(max_body_);
        return;
      }
    }
    const size_t take = std::min(body_size_ - body_.size(), chunk.size());
    body_.insert(body_.end(), chunk.begin(), chunk.begin() + static_cast<ptrdiff_t>(take));
    chunk = chunk.subspan(take);
    if (body_.size() == body_size_) {
      complete_.push_back(std::move(body_));
      body_.clear();
      header_have_ = 0;
    }
  }
}

std::optional<Bytes> FrameReader::next() { return take_front(complete_); }

}  // namespace shoal::agent
