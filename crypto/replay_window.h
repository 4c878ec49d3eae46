// ReplayWindow accepts each message counter of one receiving session at most once, and
// only within a window behind the highest counter seen: the sliding bitmap of RFC 6479, as
// WireGuard keeps it (a ring of 64-bit blocks, so moving the window clears whole blocks
// instead of shifting bits). For the udp tunnel's sessions.
//
// Promises: accept() is O(1) (a jump forward clears at most the ring); a counter is never
// accepted twice; a counter more than kWindow behind the highest is refused; counters from
// kRejectAfter on are refused (the session must rekey first). Call accept() only after the
// packet authenticated: an unauthenticated counter must never move the window.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace shoal::crypto {

class ReplayWindow {
 public:
  static constexpr int kBlockBits = 64;
  static constexpr size_t kRingBlocks = 128;                           // 8192 bits
  static constexpr uint64_t kWindow = (kRingBlocks - 1) * kBlockBits;  // 8128 behind the top
  static constexpr uint64_t kRejectAfter = UINT64_MAX - (kRingBlocks * kBlockBits) - 1;

  // True, and remembered, when `counter` is new and recent enough; false for a replay, a
  // counter that fell out of the window, or one past kRejectAfter.
  bool accept(uint64_t counter);
  // The highest counter accepted so far plus one (0: none yet).
  uint64_t next_expected() const { return top_; }

 private:
  std::array<uint64_t, kRingBlocks> ring_{};
  uint64_t top_ = 0;  // highest accepted counter + 1, so that counter 0 is valid
};

}  // namespace shoal::crypto
