// Activations, softmax and dropout: scalar references (the specification)
// and run-time dispatch to the SIMD code in activation-inl.h.

// foreach_target.h re-includes this file once per target; it is found
// through the public include directory (include/), hence the relative path.
// The order below is Highway's and must survive include sorting.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/kernels/activation.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "activation-inl.h"
// clang-format on

#if HWY_ONCE
#include "sequent/kernels/activation.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "for_each_chunk.hpp"

namespace sequent::kernels {
namespace {

// Below these sizes element-wise work stays on the calling thread, because
// waking the second thread costs more than it saves. Measured on the 2-core
// AVX-512 machine (best of 2000 calls, single thread vs 2 threads): ReLU
// moves 8 bytes per element and only gains from 2 threads at ~64K elements
// (65,536: 4.9–5.9 µs vs 3.6–4.6 µs; 16,384: 1.1 µs vs 1.4 µs); tanh,
// sigmoid and dropout spend ~20 operations per element and already gain at
// 16K (dropout 16,384: 4.2–4.6 µs vs 2.9–4.1 µs; 32,768: 8.4 vs 5.0 µs).
// A 32×128 batch (4,096 elements) therefore always runs on one thread.
constexpr std::size_t kMinParallelMemoryBound = 64 * 1024;
constexpr std::size_t kMinParallelComputeBound = 16 * 1024;

// ---------------------------------------------------------------------------
// Dropout's counter-based generator, shared by the reference and dispatch.

// splitmix64's output function (Steele, Lea & Flood 2014): a 64-bit mixer.
std::uint64_t SplitMix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15u;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
  return x ^ (x >> 31);
}

// murmur3's 32-bit finaliser, as MixBits32 in activation-inl.h.
std::uint32_t MixBits32(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x85EBCA6Bu;
  x ^= x >> 13;
  x *= 0xC2B2AE35u;
  return x ^ (x >> 16);
}

// The per-element hash works on 32-bit lanes (SIMD has no cheap 64-bit
// multiply on every target), so the seed and the upper half of the 64-bit
// counter are folded into two 32-bit keys, constant over 2^32 counters.
struct DropoutKeys {
  std::uint32_t a;
  std::uint32_t b;
};
DropoutKeys KeysFor(std::uint64_t seed, std::uint32_t counter_high) {
  const std::uint64_t mixed = SplitMix64(seed ^ SplitMix64(counter_high));
  return {static_cast<std::uint32_t>(mixed),
          static_cast<std::uint32_t>(mixed >> 32)};
}

// Two keyed rounds, so that different seeds give unrelated masks rather than
// permutations of one another.
std::uint32_t HashCounter(DropoutKeys keys, std::uint32_t counter_low) {
  return MixBits32(MixBits32(counter_low ^ keys.a) ^ keys.b);
}

// An element is dropped when the top 24 bits of its hash are below
// drop_threshold: an exact integer test, so every target agrees bit for bit.
struct DropoutDraw {
  std::uint32_t drop_threshold;  // rate · 2^24, rounded.
  float keep_value;              // 1 / (1 − rate).
};
DropoutDraw DrawFor(float rate) {
  constexpr double kDrawRange = 16777216.0;  // 2^24
  if (!(rate > 0.0f)) return {0, 1.0f};      // also catches NaN
  if (rate >= 1.0f) return {1u << 24, 0.0f};
  return {static_cast<std::uint32_t>(std::lround(rate * kDrawRange)),
          1.0f / (1.0f - rate)};
}

float Sigmoid(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + std::exp(-x));
  const float e = std::exp(x);  // stays in (0, 1): no overflow for x ≪ 0
  return e / (1.0f + e);
}

}  // namespace

HWY_EXPORT(ActivationForward);
HWY_EXPORT(ActivationBackward);
HWY_EXPORT(SoftmaxForward);
HWY_EXPORT(SoftmaxBackward);
HWY_EXPORT(DropoutMaskBlock);
HWY_EXPORT(Multiply);
HWY_EXPORT(Accumulate);

// ---------------------------------------------------------------------------
// Scalar references.

void ActivationForwardReference(Activation act, float alpha, const float* x,
                                float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float v = x[i];
    switch (act) {
      case Activation::kIdentity:
        y[i] = v;
        break;
      case Activation::kReLU:
        y[i] = v > 0.0f ? v : 0.0f;
        break;
      case Activation::kLeakyReLU:
        y[i] = v > 0.0f ? v : alpha * v;
        break;
      case Activation::kSigmoid:
        y[i] = Sigmoid(v);
        break;
      case Activation::kTanh:
        y[i] = std::tanh(v);
        break;
    }
  }
}

void ActivationBackwardReference(Activation act, float alpha, const float* y,
                                 const float* dy, float* dx, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float out = y[i];
    switch (act) {
      case Activation::kIdentity:
        dx[i] = dy[i];
        break;
      case Activation::kReLU:
        dx[i] = out > 0.0f ? dy[i] : 0.0f;
        break;
      case Activation::kLeakyReLU:
        dx[i] = out > 0.0f ? dy[i] : alpha * dy[i];
        break;
      case Activation::kSigmoid:
        dx[i] = dy[i] * (out * (1.0f - out));
        break;
      case Activation::kTanh:
        dx[i] = dy[i] * (1.0f - out * out);
        break;
    }
  }
}

void SoftmaxForwardReference(const float* x, float* y, std::size_t rows,
                             std::size_t cols) {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* x_row = x + r * cols;
    float* y_row = y + r * cols;
    float max = -INFINITY;
    for (std::size_t c = 0; c < cols; ++c) max = std::max(max, x_row[c]);
    double sum = 0.0;
    for (std::size_t c = 0; c < cols; ++c) {
      y_row[c] = std::exp(x_row[c] - max);
      sum += y_row[c];
    }
    for (std::size_t c = 0; c < cols; ++c) {
      y_row[c] = static_cast<float>(y_row[c] / sum);
    }
  }
}

void SoftmaxBackwardReference(const float* y, const float* dy, float* dx,
                              std::size_t rows, std::size_t cols) {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* y_row = y + r * cols;
    const float* dy_row = dy + r * cols;
    float* dx_row = dx + r * cols;
    double dot = 0.0;
    for (std::size_t c = 0; c < cols; ++c) dot += double{dy_row[c]} * y_row[c];
    for (std::size_t c = 0; c < cols; ++c) {
      dx_row[c] = static_cast<float>(y_row[c] * (dy_row[c] - dot));
    }
  }
}

void DropoutMaskReference(std::uint64_t seed, std::uint64_t offset, float rate,
                          float* mask, std::size_t n) {
  const DropoutDraw draw = DrawFor(rate);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t counter = offset + i;
    const DropoutKeys keys =
        KeysFor(seed, static_cast<std::uint32_t>(counter >> 32));
    const std::uint32_t hash =
        HashCounter(keys, static_cast<std::uint32_t>(counter));
    mask[i] = (hash >> 8) < draw.drop_threshold ? 0.0f : draw.keep_value;
  }
}

void MultiplyReference(const float* a, const float* b, float* out,
                       std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}

void AccumulateReference(const float* x, float* sum, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) sum[i] += x[i];
}

// ---------------------------------------------------------------------------
// Dispatch.

// Each entry point resolves its target once, before any thread starts, then
// runs it on one chunk per thread (or on everything, below the threshold).

void ActivationForward(Activation act, float alpha, const float* x, float* y,
                       std::size_t n) {
  const auto kernel = HWY_DYNAMIC_DISPATCH(ActivationForward);
  const bool transcendental =
      act == Activation::kSigmoid || act == Activation::kTanh;
  const std::size_t min_parallel =
      transcendental ? kMinParallelComputeBound : kMinParallelMemoryBound;
  ForEachChunk(n, min_parallel, [&](std::size_t begin, std::size_t end) {
    kernel(act, alpha, x + begin, y + begin, end - begin);
  });
}

void ActivationBackward(Activation act, float alpha, const float* y,
                        const float* dy, float* dx, std::size_t n) {
  const auto kernel = HWY_DYNAMIC_DISPATCH(ActivationBackward);
  ForEachChunk(
      n, kMinParallelMemoryBound, [&](std::size_t begin, std::size_t end) {
        kernel(act, alpha, y + begin, dy + begin, dx + begin, end - begin);
      });
}

// Softmax rows are short (classes) and few (a batch): one thread.
void SoftmaxForward(const float* x, float* y, std::size_t rows,
                    std::size_t cols) {
  HWY_DYNAMIC_DISPATCH(SoftmaxForward)(x, y, rows, cols);
}

void SoftmaxBackward(const float* y, const float* dy, float* dx,
                     std::size_t rows, std::size_t cols) {
  HWY_DYNAMIC_DISPATCH(SoftmaxBackward)(y, dy, dx, rows, cols);
}

void DropoutMask(std::uint64_t seed, std::uint64_t offset, float rate,
                 float* mask, std::size_t n) {
  const auto kernel = HWY_DYNAMIC_DISPATCH(DropoutMaskBlock);
  const DropoutDraw draw = DrawFor(rate);
  ForEachChunk(
      n, kMinParallelComputeBound, [&](std::size_t begin, std::size_t end) {
        // The SIMD block counts in 32 bits: cut the range wherever the upper
        // half of the 64-bit counter changes, which also changes the keys.
        std::uint64_t counter = offset + begin;
        for (std::size_t i = begin; i < end;) {
          const auto counter_low = static_cast<std::uint32_t>(counter);
          const std::uint64_t until_wrap =
              (std::uint64_t{1} << 32) - counter_low;
          const std::size_t run = std::min<std::uint64_t>(end - i, until_wrap);
          const DropoutKeys keys =
              KeysFor(seed, static_cast<std::uint32_t>(counter >> 32));
          kernel(keys.a, keys.b, counter_low, draw.drop_threshold,
                 draw.keep_value, mask + i, run);
          i += run;
          counter += run;
        }
      });
}

void Multiply(const float* a, const float* b, float* out, std::size_t n) {
  const auto kernel = HWY_DYNAMIC_DISPATCH(Multiply);
  ForEachChunk(n, kMinParallelMemoryBound,
               [&](std::size_t begin, std::size_t end) {
                 kernel(a + begin, b + begin, out + begin, end - begin);
               });
}

void Accumulate(const float* x, float* sum, std::size_t n) {
  const auto kernel = HWY_DYNAMIC_DISPATCH(Accumulate);
  ForEachChunk(n, kMinParallelMemoryBound,
               [&](std::size_t begin, std::size_t end) {
                 kernel(x + begin, sum + begin, end - begin);
               });
}

}  // namespace sequent::kernels
#endif  // HWY_ONCE
