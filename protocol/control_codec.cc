#include "protocol/control_codec.h"

#include <algorithm>

#include "common/byte_order.h"

namespace shoal::protocol {

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

// Ok if `value` may be the request's `field`, else why not.
Status string_error(const std::string& field, const std::string& value) {
  if (value.empty()) return Status::invalid_argument(field + " is empty");
  if (value.size() > kMaxControlString)
    return Status::invalid_argument(field + " is " + std::to_string(value.size()) +
                                    " bytes long; the limit is " +
                                    std::to_string(kMaxControlString));
  if (!valid_utf8(value)) return Status::invalid_argument(field + " is not valid UTF-8");
  if (!printable(value)) return Status::invalid_argument(field + " contains control characters");
  return {};
}

Status key_id_error(const std::string& value) {
  if (!is_key_id(value))
    return Status::invalid_argument("a key id is 8 hex digits (see `shoal keys list`)");
  return {};
}

Status fault_add_error(const proto::ControlRequest::FaultAdd& add) {
  if (add.seconds() < 1 || add.seconds() > kMaxFaultSeconds)
    return Status::invalid_argument("a fault lasts 1 to " + std::to_string(kMaxFaultSeconds) +
                                    " seconds");
  if (add.clock_offset_ms() != 0) {
    if (!add.peers().empty() || add.loss_percent() != 0 || add.inbound_only() ||
        add.outbound_only())
      return Status::invalid_argument(
          "a clock fault moves this host's clock only: no peers, loss or direction");
    if (add.clock_offset_ms() > kMaxClockOffsetMs || add.clock_offset_ms() < -kMaxClockOffsetMs)
      return Status::invalid_argument("a clock fault moves the clock at most " +
                                      std::to_string(kMaxClockOffsetMs / 1000) + " s either way");
    return {};
  }
  if (add.peers().empty()) return Status::invalid_argument("a fault needs at least one peer");
  if (static_cast<size_t>(add.peers_size()) > kMaxFaultPeers)
    return Status::invalid_argument("a fault names at most " + std::to_string(kMaxFaultPeers) +
                                    " peers");
  for (const auto& peer : add.peers())
    if (Status s = string_error("a fault's peer", peer); !s.ok()) return s;
  if (add.loss_percent() > 100) return Status::invalid_argument("loss is a percentage: 1 to 100");
  if (add.inbound_only() && add.outbound_only())
    return Status::invalid_argument("a fault is inbound only, outbound only, or both; not two");
  return {};
}

}  // namespace

Bytes encode_frame(const google::protobuf::Message& message) {
  const size_t size = message.ByteSizeLong();
  Bytes frame(kFrameHeaderSize + size);
  put_be32(frame.data(), static_cast<uint32_t>(size));  // size <= kMaxControlResponse
  message.SerializeWithCachedSizesToArray(frame.data() + kFrameHeaderSize);
  return frame;
}

Status request_error(const proto::ControlRequest& request) {
  using R = proto::ControlRequest;
  switch (request.request_case()) {
    case R::kMembers:
    case R::kLeases:
    case R::kStatus:
    case R::kLeave:
    case R::kKeysList:
    case R::kFaultList:
    case R::kFaultClear:
      return {};
    case R::kFaultAdd:
      return fault_add_error(request.fault_add());
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
  return Status::unsupported("unknown request (is the shoal command newer than the agent?)");
}

Result<proto::ControlRequest> decode_request(ByteView body) {
  if (body.size() > kMaxControlRequest) return Status::invalid_argument("request too large");
  proto::ControlRequest request;
  if (!request.ParseFromArray(body.data(), static_cast<int>(body.size())))
    return Status::corruption("malformed request (not a shoal control message)");
  if (Status checked = request_error(request); !checked.ok()) return checked;
  return request;
}

Result<proto::ControlResponse> decode_response(ByteView body) {
  if (body.size() > kMaxControlResponse) return Status::corruption("response too large");
  proto::ControlResponse response;
  if (!response.ParseFromArray(body.data(), static_cast<int>(body.size())))
    return Status::corruption("malformed response (not a shoal control message)");
  return response;
}

}  // namespace shoal::protocol
