// Batch normalisation: scalar references (the specification), the
// per-channel arithmetic, threading, and run-time dispatch to the SIMD
// passes in batchnorm-inl.h.

// foreach_target.h re-includes this file once per target. It is found through
// the public include directory (include/), hence the relative path.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/kernels/batchnorm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// Must come after foreach_target.h.
#include "batchnorm-inl.h"
#include "hwy/highway.h"

#if HWY_ONCE
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>

#include "sequent/kernels/activation.hpp"
#include "sequent/kernels/batchnorm.hpp"

namespace sequent::kernels {
namespace {

// ---------------------------------------------------------------------------
// x (rows × channels) as lines: see batchnorm-inl.h.

// A line of lcm(channels, 16) floats is a whole number of vectors on every
// x86 target (16 lanes for AVX-512, 8, 4 or 1 below), so the SIMD passes
// run without per-row tails: 3 channels make lines of 48 floats, 32
// channels lines of 32. When that lcm is longer than kMaxLine (e.g. 33
// channels: 528), each row is a line instead, split into slabs of at most
// kMaxLine channels, and only the row's last few floats run as a tail.
// kMaxLine also bounds the per-position arrays kept on the stack.
constexpr std::size_t kPeriodLanes = 16;
constexpr std::size_t kMaxLine = 512;

struct LineSet {
  std::size_t first_channel;  // channel of position 0; also line 0's offset
  std::size_t channels;       // of the whole tensor
  std::size_t length;         // positions of a full line
  std::size_t stride;         // floats from one line to the next
  std::size_t full_lines;
  std::size_t last_length;  // positions of a shorter final line, 0 if none

  std::size_t line_count() const { return full_lines + (last_length > 0); }
  // Channels this set covers: [first_channel, first_channel + slots()).
  std::size_t slots() const { return std::min(channels, length); }
  // The slot (channel − first_channel) of position j.
  std::size_t SlotOf(std::size_t j) const { return j % slots(); }
};

// Calls visit(set) for the line sets that together cover rows × channels.
template <class Visit>
void ForEachLineSet(std::size_t rows, std::size_t channels,
                    const Visit& visit) {
  if (channels == 0) return;
  const std::size_t period =
      channels / std::gcd(channels, kPeriodLanes) * kPeriodLanes;
  if (period <= kMaxLine) {
    const std::size_t n = rows * channels;
    visit(LineSet{0, channels, period, period, n / period, n % period});
    return;
  }
  for (std::size_t first = 0; first < channels; first += kMaxLine) {
    visit(LineSet{first, channels, std::min(kMaxLine, channels - first),
                  channels, rows, 0});
  }
}

// Calls kernel(offset, count, length) for lines [begin, end) of the set:
// `count` lines of `length` positions, the first at x + offset.
template <class Kernel>
void ForLines(const LineSet& set, std::size_t begin, std::size_t end,
              const Kernel& kernel) {
  const std::size_t full_end = std::min(end, set.full_lines);
  if (begin < full_end) {
    kernel(set.first_channel + begin * set.stride, full_end - begin,
           set.length);
  }
  if (end > set.full_lines && set.last_length > 0) {
    kernel(set.first_channel + set.full_lines * set.stride, std::size_t{1},
           set.last_length);
  }
}

// ---------------------------------------------------------------------------
// Threading. Below these sizes a call stays on the calling thread, because
// waking the second thread (~1 µs per parallel region; training passes have
// three) costs more than it saves. Measured on the 2-core AVX-512 machine,
// 32 channels, ReLU, best of 2000 calls, one thread vs two:
//   training forward  8K floats 3.3–3.6 vs 3.8–4.0 µs, 16K 4.9–5.5 vs
//                     4.7–5.1, 32K 8.3–9.6 vs 6.3–7.3;
//   backward          8K 3.5–3.9 vs 3.3, 16K 6.5–7.2 vs 4.5–4.7;
//   ScaleShift        16K 1.5–1.6 vs 1.6, 32K 2.9–3.2 vs 2.3.
constexpr std::size_t kMinParallelTraining = 16 * 1024;
constexpr std::size_t kMinParallelScaleShift = 32 * 1024;

// Reductions are split into this many fixed line ranges, whose partial
// sums are combined in order: whichever thread computes a range, the sums
// are the same, so results do not depend on the thread count (up to 4
// threads share the work; the machine has 2 cores).
constexpr std::size_t kShards = 4;

// sums_a[j], sums_b[j] (j < set.length) = the totals over all lines of what
// accumulate(offset, count, length, partial_a, partial_b) adds.
template <class Accumulate>
void ShardedSums(const LineSet& set, bool parallel, double* sums_a,
                 double* sums_b, const Accumulate& accumulate) {
  double partial_a[kShards][kMaxLine];
  double partial_b[kShards][kMaxLine];
  const std::size_t lines = set.line_count();
#pragma omp parallel for schedule(static) if (parallel)
  for (std::size_t shard = 0; shard < kShards; ++shard) {
    std::fill(partial_a[shard], partial_a[shard] + set.length, 0.0);
    std::fill(partial_b[shard], partial_b[shard] + set.length, 0.0);
    ForLines(set, lines * shard / kShards, lines * (shard + 1) / kShards,
             [&](std::size_t offset, std::size_t count, std::size_t length) {
               accumulate(offset, count, length, partial_a[shard],
                          partial_b[shard]);
             });
  }
  for (std::size_t j = 0; j < set.length; ++j) {
    sums_a[j] = sums_b[j] = 0.0;
    for (std::size_t shard = 0; shard < kShards; ++shard) {
      sums_a[j] += partial_a[shard][j];
      sums_b[j] += partial_b[shard][j];
    }
  }
}

// Per-position sums folded into per-slot (channel) totals.
void FoldIntoSlots(const LineSet& set, const double* positions, double* slots) {
  std::fill(slots, slots + set.slots(), 0.0);
  for (std::size_t j = 0; j < set.length; ++j) {
    slots[set.SlotOf(j)] += positions[j];
  }
}

// Calls kernel(offset, count, length) over all lines of the set, split
// into one contiguous range per thread when `parallel`. Element-wise work:
// any split gives the same result.
template <class Kernel>
void ForAllLines(const LineSet& set, bool parallel, const Kernel& kernel) {
  const std::size_t lines = set.line_count();
  if (!parallel) {
    ForLines(set, 0, lines, kernel);
    return;
  }
#pragma omp parallel
  {
    const auto threads = static_cast<std::size_t>(omp_get_num_threads());
    const auto thread = static_cast<std::size_t>(omp_get_thread_num());
    ForLines(set, lines * thread / threads, lines * (thread + 1) / threads,
             kernel);
  }
}

// momentum · running + (1 − momentum) · batch, as Keras updates its moving
// statistics.
float MovingAverage(float running, double batch, float momentum) {
  return static_cast<float>(double{momentum} * running +
                            (1.0 - double{momentum}) * batch);
}

// The factor that turns the biased batch variance into the unbiased one.
double BesselCorrection(std::size_t rows) {
  return rows > 1 ? double(rows) / double(rows - 1) : 1.0;
}

}  // namespace

HWY_EXPORT(SumDeviations);
HWY_EXPORT(SumSquaredDeviations);
HWY_EXPORT(NormalizeLines);
HWY_EXPORT(BackwardSums);
HWY_EXPORT(BackwardInput);

// ---------------------------------------------------------------------------
// Scalar references: one channel at a time, in double.

void BatchNormForwardTrainingReference(const float* x, std::size_t rows,
                                       std::size_t channels, const float* gamma,
                                       const float* beta, float eps,
                                       float momentum, float* running_mean,
                                       float* running_var, float* mean,
                                       float* inv_std, float* y, Activation act,
                                       float alpha) {
  if (rows == 0) return;
  for (std::size_t c = 0; c < channels; ++c) {
    double sum = 0.0;
    for (std::size_t r = 0; r < rows; ++r) sum += x[r * channels + c];
    const double batch_mean = sum / double(rows);
    double squares = 0.0;
    for (std::size_t r = 0; r < rows; ++r) {
      const double deviation = x[r * channels + c] - batch_mean;
      squares += deviation * deviation;
    }
    const double variance = squares / double(rows);
    const double inverse = 1.0 / std::sqrt(variance + double{eps});
    mean[c] = static_cast<float>(batch_mean);
    inv_std[c] = static_cast<float>(inverse);
    running_mean[c] = MovingAverage(running_mean[c], batch_mean, momentum);
    running_var[c] = MovingAverage(running_var[c],
                                   variance * BesselCorrection(rows), momentum);
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t i = r * channels + c;
      const auto z = static_cast<float>(
          gamma[c] * (x[i] - batch_mean) * inverse + beta[c]);
      ActivationForwardReference(act, alpha, &z, &y[i], 1);
    }
  }
}

void BatchNormBackwardReference(const float* x, const float* y, float* dy,
                                std::size_t rows, std::size_t channels,
                                const float* gamma, const float* mean,
                                const float* inv_std, Activation act, float* dx,
                                float* dgamma, float* dbeta, float alpha) {
  for (std::size_t c = 0; c < channels; ++c) {
    const auto dz_at = [&](std::size_t i) {
      float dz;
      ActivationBackwardReference(act, alpha, &y[i], &dy[i], &dz, 1);
      return double{dz};
    };
    const auto x_hat_at = [&](std::size_t i) {
      return (double{x[i]} - mean[c]) * inv_std[c];
    };
    double dz_sum = 0.0, dz_x_hat_sum = 0.0;
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t i = r * channels + c;
      dz_sum += dz_at(i);
      dz_x_hat_sum += dz_at(i) * x_hat_at(i);
    }
    dbeta[c] = static_cast<float>(dz_sum);
    dgamma[c] = static_cast<float>(dz_x_hat_sum);
    const double factor = double{gamma[c]} * inv_std[c] / double(rows);
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t i = r * channels + c;
      dx[i] = static_cast<float>(factor * (double(rows) * dz_at(i) - dz_sum -
                                           x_hat_at(i) * dz_x_hat_sum));
    }
  }
}

void ScaleShiftReference(const float* x, std::size_t rows, std::size_t channels,
                         const float* scale, const float* shift, float* y,
                         Activation act, float alpha) {
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < channels; ++c) {
      const std::size_t i = r * channels + c;
      const auto z = static_cast<float>(double{scale[c]} * x[i] + shift[c]);
      ActivationForwardReference(act, alpha, &z, &y[i], 1);
    }
  }
}

// ---------------------------------------------------------------------------
// Dispatch: per line set, the reductions (sharded), the per-channel
// arithmetic in double, then one element-wise pass.

void BatchNormForwardTraining(const float* x, std::size_t rows,
                              std::size_t channels, const float* gamma,
                              const float* beta, float eps, float momentum,
                              float* running_mean, float* running_var,
                              float* mean, float* inv_std, float* y,
                              Activation act, float alpha) {
  if (rows == 0) return;
  const bool parallel = rows * channels >= kMinParallelTraining;
  ForEachLineSet(rows, channels, [&](const LineSet& set) {
    // The mean from sums of x − k, with k the first row's value of each
    // channel: k lies among the data, so the float differences stay small
    // and exact even when the mean is large (1000 ± 1).
    float centre[kMaxLine];
    for (std::size_t j = 0; j < set.length; ++j) {
      centre[j] = x[set.first_channel + set.SlotOf(j)];
    }
    // Zeroed only to reassure the compiler: ShardedSums writes them.
    double sums[kMaxLine] = {}, unused[kMaxLine] = {}, batch_mean[kMaxLine];
    ShardedSums(set, parallel, sums, unused,
                [&](std::size_t offset, std::size_t count, std::size_t length,
                    double* partial, double*) {
                  HWY_DYNAMIC_DISPATCH(SumDeviations)
                  (x + offset, set.stride, count, length, centre, partial);
                });
    FoldIntoSlots(set, sums, batch_mean);
    for (std::size_t k = 0; k < set.slots(); ++k) {
      batch_mean[k] = x[set.first_channel + k] + batch_mean[k] / double(rows);
    }

    // The variance around the float mean, then corrected for the rounding
    // of that mean: Σ(x − m)²/n = var + (mean − m)².
    for (std::size_t j = 0; j < set.length; ++j) {
      centre[j] = static_cast<float>(batch_mean[set.SlotOf(j)]);
    }
    double squares[kMaxLine];
    ShardedSums(set, parallel, sums, unused,
                [&](std::size_t offset, std::size_t count, std::size_t length,
                    double* partial, double*) {
                  HWY_DYNAMIC_DISPATCH(SumSquaredDeviations)
                  (x + offset, set.stride, count, length, centre, partial);
                });
    FoldIntoSlots(set, sums, squares);

    // y = (x − m)·scale + shift with m the float mean, so shift also
    // absorbs (mean − m)·scale and y is as if centred on the exact mean.
    float slot_scale[kMaxLine], slot_shift[kMaxLine];
    for (std::size_t k = 0; k < set.slots(); ++k) {
      const std::size_t c = set.first_channel + k;
      const double rounding = batch_mean[k] - static_cast<float>(batch_mean[k]);
      const double variance =
          std::max(0.0, squares[k] / double(rows) - rounding * rounding);
      const double inverse = 1.0 / std::sqrt(variance + double{eps});
      mean[c] = static_cast<float>(batch_mean[k]);
      inv_std[c] = static_cast<float>(inverse);
      running_mean[c] = MovingAverage(running_mean[c], batch_mean[k], momentum);
      running_var[c] = MovingAverage(
          running_var[c], variance * BesselCorrection(rows), momentum);
      slot_scale[k] = static_cast<float>(gamma[c] * inverse);
      slot_shift[k] =
          static_cast<float>(beta[c] - rounding * double{gamma[c]} * inverse);
    }
    float scale[kMaxLine], shift[kMaxLine];
    for (std::size_t j = 0; j < set.length; ++j) {
      scale[j] = slot_scale[set.SlotOf(j)];
      shift[j] = slot_shift[set.SlotOf(j)];
    }
    ForAllLines(set, parallel,
                [&](std::size_t offset, std::size_t count, std::size_t length) {
                  HWY_DYNAMIC_DISPATCH(NormalizeLines)
                  (x + offset, set.stride, count, length, centre, scale, shift,
                   act, alpha, y + offset);
                });
  });
}

void BatchNormBackward(const float* x, const float* y, float* dy,
                       std::size_t rows, std::size_t channels,
                       const float* gamma, const float* mean,
                       const float* inv_std, Activation act, float* dx,
                       float* dgamma, float* dbeta, float alpha) {
  const bool parallel = rows * channels >= kMinParallelTraining;
  ForEachLineSet(rows, channels, [&](const LineSet& set) {
    float centre[kMaxLine];
    for (std::size_t j = 0; j < set.length; ++j) {
      centre[j] = mean[set.first_channel + set.SlotOf(j)];
    }
    double sums_dz[kMaxLine] = {}, sums_dz_centred[kMaxLine] = {};
    ShardedSums(set, parallel, sums_dz, sums_dz_centred,
                [&](std::size_t offset, std::size_t count, std::size_t length,
                    double* partial_dz, double* partial_dz_centred) {
                  HWY_DYNAMIC_DISPATCH(BackwardSums)
                  (x + offset, y + offset, dy + offset, set.stride, count,
                   length, centre, act, alpha, partial_dz, partial_dz_centred);
                });
    double dz_sum[kMaxLine], dz_centred_sum[kMaxLine];
    FoldIntoSlots(set, sums_dz, dz_sum);
    FoldIntoSlots(set, sums_dz_centred, dz_centred_sum);

    // dx = gamma·inv_std/rows · (rows·dz − dbeta − x̂·dgamma)
    //    = a·dz + b·(x − mean) + c   with x̂ = (x − mean)·inv_std.
    float slot_a[kMaxLine], slot_b[kMaxLine], slot_c[kMaxLine];
    for (std::size_t k = 0; k < set.slots(); ++k) {
      const std::size_t c = set.first_channel + k;
      const double inverse = inv_std[c];
      const double dgamma_c = dz_centred_sum[k] * inverse;
      dbeta[c] = static_cast<float>(dz_sum[k]);
      dgamma[c] = static_cast<float>(dgamma_c);
      const double gain = double{gamma[c]} * inverse;
      slot_a[k] = static_cast<float>(gain);
      slot_b[k] = static_cast<float>(-gain * inverse * dgamma_c / double(rows));
      slot_c[k] = static_cast<float>(-gain * dz_sum[k] / double(rows));
    }
    float a[kMaxLine], b[kMaxLine], c[kMaxLine];
    for (std::size_t j = 0; j < set.length; ++j) {
      a[j] = slot_a[set.SlotOf(j)];
      b[j] = slot_b[set.SlotOf(j)];
      c[j] = slot_c[set.SlotOf(j)];
    }
    ForAllLines(set, parallel,
                [&](std::size_t offset, std::size_t count, std::size_t length) {
                  HWY_DYNAMIC_DISPATCH(BackwardInput)
                  (x + offset, y + offset, dy + offset, set.stride, count,
                   length, centre, a, b, c, act, alpha, dx + offset);
                });
  });
}

void ScaleShift(const float* x, std::size_t rows, std::size_t channels,
                const float* scale, const float* shift, float* y,
                Activation act, float alpha) {
  const bool parallel = rows * channels >= kMinParallelScaleShift;
  ForEachLineSet(rows, channels, [&](const LineSet& set) {
    float line_scale[kMaxLine], line_shift[kMaxLine];
    for (std::size_t j = 0; j < set.length; ++j) {
      line_scale[j] = scale[set.first_channel + set.SlotOf(j)];
      line_shift[j] = shift[set.first_channel + set.SlotOf(j)];
    }
    ForAllLines(set, parallel,
                [&](std::size_t offset, std::size_t count, std::size_t length) {
                  HWY_DYNAMIC_DISPATCH(NormalizeLines)
                  (x + offset, set.stride, count, length, nullptr, line_scale,
                   line_shift, act, alpha, y + offset);
                });
  });
}

}  // namespace sequent::kernels
#endif  // HWY_ONCE
