#include "crypto/secure_buffer.h"

#include <sodium.h>

#include <utility>

#include "common/status.h"
#include "crypto/sodium_init.h"

namespace shoal::crypto {

SecureBuffer::SecureBuffer(size_t size) : size_(size) {
  require_init();
  data_ = static_cast<uint8_t*>(sodium_malloc(size));
  SHOAL_REQUIRE(data_ != nullptr);  // out of memory or of mlock-able pages: nothing to save
  sodium_memzero(data_, size);      // sodium_malloc fills with 0xdb, not zero
}

SecureBuffer::~SecureBuffer() { release(); }

SecureBuffer::SecureBuffer(SecureBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecureBuffer& SecureBuffer::operator=(SecureBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void SecureBuffer::release() {
  if (data_ != nullptr) sodium_free(data_);  // zeroes, unlocks and unmaps
  data_ = nullptr;
  size_ = 0;
}

}  // namespace shoal::crypto
