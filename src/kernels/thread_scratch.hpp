// Per-thread scratch memory for the kernels' packed operands. Not per
// target: a buffer is plain memory, whichever target fills it.
#pragma once

#include <cstddef>
#include <cstring>

#include "hwy/aligned_allocator.h"

namespace sequent::kernels {

// A 64-byte-aligned buffer of at least `floats` floats, one per slot of
// the Slot enumeration (whose last enumerator is kCount) and per thread. It
// grows to the largest request seen on this thread and is then reused, so
// a kernel in steady state never touches the heap. Fresh memory is zeroed:
// packed tiles are read a little past their valid part (rows or columns
// that are computed but never stored), and zeros keep those lanes finite.
template <class Slot>
float* ThreadScratch(Slot slot, std::size_t floats) {
  struct Buffer {
    hwy::AlignedFreeUniquePtr<float[]> data;
    std::size_t capacity = 0;
  };
  thread_local Buffer buffers[static_cast<int>(Slot::kCount)];
  Buffer& buffer = buffers[static_cast<int>(slot)];
  if (buffer.capacity < floats) {
    buffer.data = hwy::AllocateAligned<float>(floats);
    std::memset(buffer.data.get(), 0, floats * sizeof(float));
    buffer.capacity = floats;
  }
  return buffer.data.get();
}

}  // namespace sequent::kernels
