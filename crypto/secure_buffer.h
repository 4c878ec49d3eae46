// SecureBuffer holds secret bytes (keys) outside the ordinary heap: in libsodium's guarded
// allocation (guard pages around it, locked in RAM so it is not swapped out when the
// limit allows), zeroed when freed. Fixed size, chosen at construction; move-only, since a
// copy would be one more place for a secret to linger. A default-constructed or moved-from
// buffer holds nothing and allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shoal::crypto {

class SecureBuffer {
 public:
  SecureBuffer() = default;
  // Zero-filled. Aborts (SHOAL_REQUIRE) if the guarded allocation fails.
  explicit SecureBuffer(size_t size);
  ~SecureBuffer();
  SecureBuffer(SecureBuffer&& other) noexcept;
  SecureBuffer& operator=(SecureBuffer&& other) noexcept;
  SecureBuffer(const SecureBuffer&) = delete;
  SecureBuffer& operator=(const SecureBuffer&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void release();

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace shoal::crypto
