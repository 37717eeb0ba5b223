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

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "for_each_chunk.hpp"

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

}  // namespace

HWY_EXPORT(SgdUpdate);
HWY_EXPORT(AdamUpdate);
HWY_EXPORT(AdamWUpdate);
HWY_EXPORT(RmsPropUpdate);
HWY_EXPORT(PenaltyBlock);

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

void AdamWUpdateReference(float* params, const float* grads, float* m, float* v,
                          std::size_t n, float lr, float beta1, float beta2,
                          float epsilon, float weight_decay,
                          std::int64_t step) {
  const double correction1 = 1.0 - std::pow(double{beta1}, double(step));
  const double correction2 = 1.0 - std::pow(double{beta2}, double(step));
  for (std::size_t i = 0; i < n; ++i) {
    const float g = grads[i];
    m[i] = beta1 * m[i] + (1.0f - beta1) * g;
    v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
    const double m_hat = m[i] / correction1;
    const double v_hat = v[i] / correction2;
    // p − lr·(m̂/(√v̂ + ε) + wd·p), with p the value before this step.
    params[i] = static_cast<float>(params[i] -
                                   lr * (m_hat / (std::sqrt(v_hat) + epsilon) +
                                         double{weight_decay} * params[i]));
  }
}

void RmsPropUpdateReference(float* params, const float* grads,
                            float* mean_square, float* momentum_buffer,
                            float* average_grad, std::size_t n, float lr,
                            float rho, float momentum, float epsilon,
                            bool centered) {
  for (std::size_t i = 0; i < n; ++i) {
    const float g = grads[i];
    mean_square[i] = rho * mean_square[i] + (1.0f - rho) * g * g;
    float denominator = mean_square[i];
    if (centered) {
      average_grad[i] = rho * average_grad[i] + (1.0f - rho) * g;
      denominator =
          std::max(denominator - average_grad[i] * average_grad[i], 0.0f);
    }
    float increment = lr * g / std::sqrt(denominator + epsilon);
    if (momentum != 0.0f) {
      momentum_buffer[i] = momentum * momentum_buffer[i] + increment;
      increment = momentum_buffer[i];
    }
    params[i] -= increment;
  }
}

double KernelPenaltyReference(const float* params, float* grads,
                              const PenaltyRange* ranges,
                              std::size_t range_count) {
  double penalty = 0.0;
  for (std::size_t r = 0; r < range_count; ++r) {
    const PenaltyRange& range = ranges[r];
    double absolutes = 0.0, squares = 0.0;
    for (std::size_t i = range.offset; i < range.offset + range.count; ++i) {
      const float w = params[i];
      absolutes += std::fabs(double{w});
      squares += double{w} * w;
      if (grads != nullptr) {
        const float sign = w > 0.0f ? 1.0f : (w < 0.0f ? -1.0f : 0.0f);
        grads[i] += 2.0f * range.l2 * w + range.l1 * sign;
      }
    }
    penalty += double{range.l1} * absolutes + double{range.l2} * squares;
  }
  return penalty;
}

// ---------------------------------------------------------------------------
// Dispatch.

// Each entry point resolves its target once, before any thread starts, then
// runs it on one chunk per thread (or on everything, below the threshold).

void SgdUpdate(float* params, const float* grads, float* velocity,
               std::size_t n, float lr, float momentum, bool nesterov,
               float weight_decay) {
  const auto kernel = HWY_DYNAMIC_DISPATCH(SgdUpdate);
  ForEachChunk(n, kMinParallelParams, [&](std::size_t begin, std::size_t end) {
    float* velocity_chunk = velocity != nullptr ? velocity + begin : nullptr;
    kernel(params + begin, grads + begin, velocity_chunk, end - begin, lr,
           momentum, nesterov, weight_decay);
  });
}

void AdamUpdate(float* params, const float* grads, float* m, float* v,
                std::size_t n, float lr, float beta1, float beta2,
                float epsilon, float weight_decay, std::int64_t step) {
  const auto kernel = HWY_DYNAMIC_DISPATCH(AdamUpdate);
  ForEachChunk(n, kMinParallelParams, [&](std::size_t begin, std::size_t end) {
    kernel(params + begin, grads + begin, m + begin, v + begin, end - begin, lr,
           beta1, beta2, epsilon, weight_decay, step);
  });
}

void AdamWUpdate(float* params, const float* grads, float* m, float* v,
                 std::size_t n, float lr, float beta1, float beta2,
                 float epsilon, float weight_decay, std::int64_t step) {
  const auto kernel = HWY_DYNAMIC_DISPATCH(AdamWUpdate);
  ForEachChunk(n, kMinParallelParams, [&](std::size_t begin, std::size_t end) {
    kernel(params + begin, grads + begin, m + begin, v + begin, end - begin, lr,
           beta1, beta2, epsilon, weight_decay, step);
  });
}

void RmsPropUpdate(float* params, const float* grads, float* mean_square,
                   float* momentum_buffer, float* average_grad, std::size_t n,
                   float lr, float rho, float momentum, float epsilon,
                   bool centered) {
  const auto kernel = HWY_DYNAMIC_DISPATCH(RmsPropUpdate);
  ForEachChunk(n, kMinParallelParams, [&](std::size_t begin, std::size_t end) {
    kernel(params + begin, grads + begin, mean_square + begin,
           momentum_buffer != nullptr ? momentum_buffer + begin : nullptr,
           average_grad != nullptr ? average_grad + begin : nullptr,
           end - begin, lr, rho, momentum, epsilon, centered);
  });
}

// Each range is cut into blocks of kPenaltyBlock floats (the last one
// shorter), and each block's sums are one call of the SIMD kernel. The
// blocks of a range are taken kPenaltyRound at a time: their sums land in
// a stack array, computed by one thread or split over the team, then added
// in block order and scaled once per range — so the penalty is the same
// bits whatever the thread count. Blocks are 4 KiB, so when a range starts
// on a 64-byte line (every kernel of a model does) no two threads write one
// line of grads.
double KernelPenalty(const float* params, float* grads,
                     const PenaltyRange* ranges, std::size_t range_count) {
  constexpr std::size_t kPenaltyBlock = 1024;
  constexpr std::size_t kPenaltyRound = 64;
  const auto kernel = HWY_DYNAMIC_DISPATCH(PenaltyBlock);
  double penalty = 0.0;
  for (std::size_t r = 0; r < range_count; ++r) {
    const PenaltyRange& range = ranges[r];
    const float* p = params + range.offset;
    float* g = grads != nullptr ? grads + range.offset : nullptr;
    const std::size_t blocks =
        (range.count + kPenaltyBlock - 1) / kPenaltyBlock;
    double squares = 0.0, absolutes = 0.0;
    for (std::size_t first = 0; first < blocks; first += kPenaltyRound) {
      const std::size_t round = std::min(kPenaltyRound, blocks - first);
      double sums[kPenaltyRound][2];
      const auto block = [&](std::size_t b) {
        const std::size_t begin = (first + b) * kPenaltyBlock;
        const std::size_t count = std::min(kPenaltyBlock, range.count - begin);
        kernel(p + begin, g != nullptr ? g + begin : nullptr, count, range.l1,
               range.l2, sums[b]);
      };
      if (round * kPenaltyBlock < kMinParallelParams) {
        for (std::size_t b = 0; b < round; ++b) block(b);
      } else {
#pragma omp parallel for schedule(static)
        for (std::size_t b = 0; b < round; ++b) block(b);
      }
      for (std::size_t b = 0; b < round; ++b) {
        squares += sums[b][0];
        absolutes += sums[b][1];
      }
    }
    penalty += double{range.l2} * squares;
    if (range.l1 != 0.0f) penalty += double{range.l1} * absolutes;
  }
  return penalty;
}

}  // namespace sequent::kernels
#endif  // HWY_ONCE
