// Optimiser updates: scalar references (the specification) and run-time
// dispatch to the SIMD code in optimizer-inl.h, split over OpenMP threads
// when the parameter buffer is large enough to pay for them.

// foreach_target.h re-includes this file once per target; it is found
// through the public include directory (include/), hence the relative path.
// The order below is Highway's and must survive include sorting.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/kernels/optimizer.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "optimizer-inl.h"
// clang-format on

#if HWY_ONCE
#include "sequent/kernels/optimizer.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace sequent::kernels {
namespace {

// Below this many parameters an update stays on the calling thread. The
// updates are bound by memory traffic (Adam moves 28 bytes per parameter)
// and two cores fetch more than one. Measured on the 2-core AVX-512 machine
// (best of 2000 calls, single thread vs 2 threads): Adam 16,384: 4.6–5.2 µs
// vs 3.5–5.3 µs (a wash); 32,768: 9.1–10.3 vs 5.8–7.7 µs; 101,770 (the
// MLP): 28–40 vs 16–21 µs. SGD with momentum breaks even at 32K and gains
// clearly from 64K (65,536: 9.5–11.9 vs 6.3–7.9 µs).
constexpr std::size_t kMinParallelParams = 32 * 1024;

// Calls body(begin, end) over [0, n): once on this thread when n is below
// the threshold, else once per OpenMP thread on contiguous chunks of whole
// 64-byte cache lines, so no two threads write the same line. Each element
// is computed by the same code whichever thread runs it, so results do not
// depend on the thread count.
template <class Body>
void ForEachChunk(std::size_t n, const Body& body) {
  if (n < kMinParallelParams) {
    body(std::size_t{0}, n);
    return;
  }
  constexpr std::size_t kFloatsPerLine = 16;
#pragma omp parallel
  {
    const auto threads = static_cast<std::size_t>(omp_get_num_threads());
    const auto thread = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t lines = (n + kFloatsPerLine - 1) / kFloatsPerLine;
    const std::size_t chunk = (lines + threads - 1) / threads * kFloatsPerLine;
    const std::size_t begin = std::min(n, thread * chunk);
    const std::size_t end = std::min(n, begin + chunk);
    if (begin < end) body(begin, end);
  }
}

}  // namespace

HWY_EXPORT(SgdUpdate);
HWY_EXPORT(AdamUpdate);

// ---------------------------------------------------------------------------
// Scalar references.

void SgdUpdateReference(float* params, const float* grads, float* velocity,
                        std::size_t n, float lr, float momentum, bool nesterov,
                        float weight_decay) {
  for (std::size_t i = 0; i < n; ++i) {
    float g = grads[i];
    if (weight_decay != 0.0f) g += weight_decay * params[i];
    if (momentum == 0.0f) {
      params[i] -= lr * g;
      continue;
    }
    velocity[i] = momentum * velocity[i] + g;
    const float step = nesterov ? g + momentum * velocity[i] : velocity[i];
    params[i] -= lr * step;
  }
}

void AdamUpdateReference(float* params, const float* grads, float* m, float* v,
                         std::size_t n, float lr, float beta1, float beta2,
                         float epsilon, float weight_decay, std::int64_t step) {
  const double correction1 = 1.0 - std::pow(double{beta1}, double(step));
  const double correction2 = 1.0 - std::pow(double{beta2}, double(step));
  for (std::size_t i = 0; i < n; ++i) {
    float g = grads[i];
    if (weight_decay != 0.0f) g += weight_decay * params[i];
    m[i] = beta1 * m[i] + (1.0f - beta1) * g;
    v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
    const double m_hat = m[i] / correction1;
    const double v_hat = v[i] / correction2;
    params[i] = static_cast<float>(params[i] -
                                   lr * m_hat / (std::sqrt(v_hat) + epsilon));
  }
}

// ---------------------------------------------------------------------------
// Dispatch.

// Each entry point resolves its target once, before any thread starts, then
// runs it on one chunk per thread (or on everything, below the threshold).

void SgdUpdate(float* params, const float* grads, float* velocity,
               std::size_t n, float lr, float momentum, bool nesterov,
               float weight_decay) {
  const auto kernel = HWY_DYNAMIC_DISPATCH(SgdUpdate);
  ForEachChunk(n, [&](std::size_t begin, std::size_t end) {
    float* velocity_chunk = velocity != nullptr ? velocity + begin : nullptr;
    kernel(params + begin, grads + begin, velocity_chunk, end - begin, lr,
           momentum, nesterov, weight_decay);
  });
}

void AdamUpdate(float* params, const float* grads, float* m, float* v,
                std::size_t n, float lr, float beta1, float beta2,
                float epsilon, float weight_decay, std::int64_t step) {
  const auto kernel = HWY_DYNAMIC_DISPATCH(AdamUpdate);
  ForEachChunk(n, [&](std::size_t begin, std::size_t end) {
    kernel(params + begin, grads + begin, m + begin, v + begin, end - begin, lr,
           beta1, beta2, epsilon, weight_decay, step);
  });
}

}  // namespace sequent::kernels
#endif  // HWY_ONCE
