// Max and average pooling: scalar references (the specification) and
// run-time dispatch to the SIMD code in pool-inl.h.

// foreach_target.h re-includes this file once per target. It is found through
// the public include directory (include/), hence the relative path.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/kernels/pool.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// Must come after foreach_target.h.
#include "hwy/highway.h"
#include "pool-inl.h"

#if HWY_ONCE
#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "sequent/kernels/pool.hpp"

namespace sequent::kernels {
namespace {

// Below this many input floats the batch stays on the calling thread: waking
// the second thread costs ~1 µs. Measured on the 2-core AVX-512 machine,
// 2×2/2 max pooling over 16×16×32 images, best of 5000 calls, one thread vs
// two: 8K input floats 0.86 vs 0.99–1.10 µs; 16K 1.7 vs 1.4–1.5 µs forward
// and 2.7 vs 1.9 µs backward; 32K 3.6 vs 2.4 µs forward.
constexpr std::size_t kMinParallelInputFloats = 16 * 1024;

std::size_t InputFloats(const PoolShape& s) {
  return s.batch * s.in_h * s.in_w * s.channels;
}

// Calls body(begin, end) over [0, count): once on this thread unless
// `parallel`, else once per OpenMP thread on contiguous ranges. Items are
// independent (output rows, or samples) and each is computed by the same
// code whichever thread runs it, so results do not depend on the thread
// count.
template <class Body>
void SplitOverThreads(std::size_t count, bool parallel, const Body& body) {
  if (!parallel || count < 2) {
    body(std::size_t{0}, count);
    return;
  }
#pragma omp parallel
  {
    const auto threads = static_cast<std::size_t>(omp_get_num_threads());
    const auto thread = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t chunk = (count + threads - 1) / threads;
    const std::size_t begin = std::min(count, thread * chunk);
    const std::size_t end = std::min(count, begin + chunk);
    if (begin < end) body(begin, end);
  }
}

// Input row or column `out · stride + k − pad` of window position k, or −1
// when it falls in the padding.
std::ptrdiff_t SourceIndex(std::size_t out, std::size_t stride, std::size_t k,
                           std::size_t pad, std::size_t size) {
  const auto i = static_cast<std::ptrdiff_t>(out * stride + k) -
                 static_cast<std::ptrdiff_t>(pad);
  return i >= 0 && i < static_cast<std::ptrdiff_t>(size) ? i : -1;
}

// Calls visit(index) for each position of output pixel (oy, ox)'s window
// that lies inside the image, in scan order (y, then x); index is
// (y · in_w + x) · channels, the start of that input pixel within a sample.
template <class Visit>
void ForEachWindowPosition(const PoolShape& s, std::size_t oy, std::size_t ox,
                           const Visit& visit) {
  for (std::size_t ky = 0; ky < s.window_h; ++ky) {
    const std::ptrdiff_t y = SourceIndex(oy, s.stride_h, ky, s.pad_top, s.in_h);
    if (y < 0) continue;
    for (std::size_t kx = 0; kx < s.window_w; ++kx) {
      const std::ptrdiff_t x =
          SourceIndex(ox, s.stride_w, kx, s.pad_left, s.in_w);
      if (x < 0) continue;
      visit(
          (static_cast<std::size_t>(y) * s.in_w + static_cast<std::size_t>(x)) *
          s.channels);
    }
  }
}

}  // namespace

HWY_EXPORT(MaxPoolForwardRows);
HWY_EXPORT(AvgPoolForwardRows);
HWY_EXPORT(MaxPoolBackwardSamples);
HWY_EXPORT(AvgPoolBackwardSamples);

// ---------------------------------------------------------------------------
// Scalar references. A window lying wholly in the padding (which Valid and
// Same geometry never produce) gives 0, with argmax −1 for max pooling.

void MaxPoolForwardReference(const PoolShape& s, const float* in, float* out,
                             std::int32_t* argmax) {
  const std::size_t in_floats = s.in_h * s.in_w * s.channels;
  std::size_t o = 0;  // output index within the batch
  for (std::size_t n = 0; n < s.batch; ++n) {
    const float* image = in + n * in_floats;
    for (std::size_t oy = 0; oy < s.out_h; ++oy) {
      for (std::size_t ox = 0; ox < s.out_w; ++ox) {
        for (std::size_t c = 0; c < s.channels; ++c, ++o) {
          float best = 0.0f;
          std::ptrdiff_t best_index = -1;
          // Strictly greater: ties keep the first position in scan order.
          ForEachWindowPosition(s, oy, ox, [&](std::size_t pixel) {
            const std::size_t i = pixel + c;
            if (best_index < 0 || image[i] > best) {
              best = image[i];
              best_index = static_cast<std::ptrdiff_t>(i);
            }
          });
          out[o] = best;
          if (argmax != nullptr) {
            argmax[o] = static_cast<std::int32_t>(best_index);
          }
        }
      }
    }
  }
}

void MaxPoolBackwardReference(const PoolShape& s, const float* dout,
                              const std::int32_t* argmax, float* din) {
  const std::size_t in_floats = s.in_h * s.in_w * s.channels;
  const std::size_t out_floats = s.out_h * s.out_w * s.channels;
  std::fill(din, din + s.batch * in_floats, 0.0f);
  for (std::size_t n = 0; n < s.batch; ++n) {
    for (std::size_t i = 0; i < out_floats; ++i) {
      const std::size_t o = n * out_floats + i;
      if (argmax[o] >= 0) din[n * in_floats + argmax[o]] += dout[o];
    }
  }
}

void AvgPoolForwardReference(const PoolShape& s, const float* in, float* out) {
  const std::size_t in_floats = s.in_h * s.in_w * s.channels;
  std::size_t o = 0;
  for (std::size_t n = 0; n < s.batch; ++n) {
    const float* image = in + n * in_floats;
    for (std::size_t oy = 0; oy < s.out_h; ++oy) {
      for (std::size_t ox = 0; ox < s.out_w; ++ox) {
        for (std::size_t c = 0; c < s.channels; ++c, ++o) {
          double sum = 0.0;
          std::size_t count = 0;
          ForEachWindowPosition(s, oy, ox, [&](std::size_t pixel) {
            sum += image[pixel + c];
            ++count;
          });
          out[o] = count > 0 ? static_cast<float>(sum / count) : 0.0f;
        }
      }
    }
  }
}

void AvgPoolBackwardReference(const PoolShape& s, const float* dout,
                              float* din) {
  const std::size_t in_floats = s.in_h * s.in_w * s.channels;
  std::fill(din, din + s.batch * in_floats, 0.0f);
  std::size_t o = 0;
  for (std::size_t n = 0; n < s.batch; ++n) {
    float* image_gradient = din + n * in_floats;
    for (std::size_t oy = 0; oy < s.out_h; ++oy) {
      for (std::size_t ox = 0; ox < s.out_w; ++ox) {
        std::size_t count = 0;
        ForEachWindowPosition(s, oy, ox, [&](std::size_t) { ++count; });
        for (std::size_t c = 0; c < s.channels; ++c, ++o) {
          ForEachWindowPosition(s, oy, ox, [&](std::size_t pixel) {
            image_gradient[pixel + c] += dout[o] / static_cast<float>(count);
          });
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Dispatch.

void MaxPoolForward(const PoolShape& s, const float* in, float* out,
                    std::int32_t* argmax) {
  SplitOverThreads(s.batch * s.out_h, InputFloats(s) >= kMinParallelInputFloats,
                   [&](std::size_t begin, std::size_t end) {
                     HWY_DYNAMIC_DISPATCH(MaxPoolForwardRows)
                     (s, in, out, argmax, begin, end - begin);
                   });
}

void AvgPoolForward(const PoolShape& s, const float* in, float* out) {
  SplitOverThreads(s.batch * s.out_h, InputFloats(s) >= kMinParallelInputFloats,
                   [&](std::size_t begin, std::size_t end) {
                     HWY_DYNAMIC_DISPATCH(AvgPoolForwardRows)
                     (s, in, out, begin, end - begin);
                   });
}

void MaxPoolBackward(const PoolShape& s, const float* dout,
                     const std::int32_t* argmax, float* din) {
  SplitOverThreads(s.batch, InputFloats(s) >= kMinParallelInputFloats,
                   [&](std::size_t begin, std::size_t end) {
                     HWY_DYNAMIC_DISPATCH(MaxPoolBackwardSamples)
                     (s, dout, argmax, din, begin, end - begin);
                   });
}

void AvgPoolBackward(const PoolShape& s, const float* dout, float* din) {
  SplitOverThreads(s.batch, InputFloats(s) >= kMinParallelInputFloats,
                   [&](std::size_t begin, std::size_t end) {
                     HWY_DYNAMIC_DISPATCH(AvgPoolBackwardSamples)
                     (s, dout, din, begin, end - begin);
                   });
}

}  // namespace sequent::kernels
#endif  // HWY_ONCE
