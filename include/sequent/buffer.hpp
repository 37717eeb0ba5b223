// A zero-initialised float buffer on 64-byte lines (one AVX-512 vector, one
// cache line), so that every parameter block and activation starts aligned.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>

namespace sequent {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t floats) { resize(floats); }
  AlignedBuffer(const AlignedBuffer& other) : AlignedBuffer(other.size_) {
    if (size_) std::memcpy(data(), other.data(), size_ * sizeof(float));
  }
  AlignedBuffer& operator=(const AlignedBuffer& other) {
    if (this != &other) {
      if (size_ != other.size_) resize(other.size_);
      if (size_) std::memcpy(data(), other.data(), size_ * sizeof(float));
    }
    return *this;
  }
  AlignedBuffer(AlignedBuffer&&) noexcept = default;
  AlignedBuffer& operator=(AlignedBuffer&&) noexcept = default;

  // Discards the contents; the new buffer is all zeros.
  void resize(std::size_t floats) {
    const std::size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
    float* p = nullptr;
    if (bytes != 0) {
      p = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (p == nullptr) throw std::bad_alloc();
      std::memset(p, 0, bytes);
    }
    data_.reset(p);
    size_ = floats;
  }
  void fill_zero() {
    if (size_) std::memset(data(), 0, size_ * sizeof(float));
  }

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  std::span<float> span() { return {data(), size_}; }
  std::span<const float> span() const { return {data(), size_}; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float[], Free> data_;
  std::size_t size_ = 0;
};

}  // namespace sequent
