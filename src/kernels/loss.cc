// Losses and argmax: scalar references (the specification, in double) and
// run-time dispatch to the SIMD code in loss-inl.h. A batch of logits is
// small (batch × classes), so everything runs on the calling thread.

// foreach_target.h re-includes this file once per target; it is found
// through the public include directory (include/), hence the relative path.
// The order below is Highway's and must survive include sorting.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/kernels/loss.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "loss-inl.h"
// clang-format on

#if HWY_ONCE
#include "sequent/kernels/loss.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace sequent::kernels {
namespace {

// max(x) and logsumexp(x) = max + log Σ exp(x − max) of one row, in double.
struct RowLogSumExp {
  double max;
  double sum;  // Σ exp(x − max) ≥ 1
  double log_sum_exp;
};
RowLogSumExp LogSumExp(const float* x, std::size_t cols) {
  double max = -INFINITY;
  for (std::size_t c = 0; c < cols; ++c) max = std::fmax(max, x[c]);
  double sum = 0.0;
  for (std::size_t c = 0; c < cols; ++c) sum += std::exp(x[c] - max);
  return {max, sum, max + std::log(sum)};
}

}  // namespace

HWY_EXPORT(SparseSoftmaxCrossEntropy);
HWY_EXPORT(SoftmaxCrossEntropy);
HWY_EXPORT(SquaredError);
HWY_EXPORT(AbsoluteError);
HWY_EXPORT(ArgMaxRows);

// ---------------------------------------------------------------------------
// Scalar references.

double SparseSoftmaxCrossEntropyReference(const float* logits,
                                          const std::int32_t* labels,
                                          std::size_t rows, std::size_t cols,
                                          float grad_scale, float* probs,
                                          float* dlogits) {
  double total = 0.0;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* x = logits + r * cols;
    const auto label = static_cast<std::size_t>(labels[r]);
    const RowLogSumExp row = LogSumExp(x, cols);
    total += row.log_sum_exp - x[label];
    for (std::size_t c = 0; c < cols; ++c) {
      const double p = std::exp(x[c] - row.max) / row.sum;
      if (probs != nullptr) probs[r * cols + c] = static_cast<float>(p);
      if (dlogits != nullptr) {
        const double one_hot = c == label ? 1.0 : 0.0;
        dlogits[r * cols + c] = static_cast<float>((p - one_hot) * grad_scale);
      }
    }
  }
  return total;
}

double SoftmaxCrossEntropyReference(const float* logits, const float* targets,
                                    std::size_t rows, std::size_t cols,
                                    float grad_scale, float* probs,
                                    float* dlogits) {
  double total = 0.0;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* x = logits + r * cols;
    const float* t = targets + r * cols;
    const RowLogSumExp row = LogSumExp(x, cols);
    double targets_sum = 0.0;
    for (std::size_t c = 0; c < cols; ++c) {
      total += t[c] * (row.log_sum_exp - x[c]);
      targets_sum += t[c];
    }
    for (std::size_t c = 0; c < cols; ++c) {
      const double p = std::exp(x[c] - row.max) / row.sum;
      if (probs != nullptr) probs[r * cols + c] = static_cast<float>(p);
      if (dlogits != nullptr) {
        dlogits[r * cols + c] =
            static_cast<float>((p * targets_sum - t[c]) * grad_scale);
      }
    }
  }
  return total;
}

double SquaredErrorReference(const float* pred, const float* target,
                             std::size_t n, float grad_scale, float* dpred) {
  double total = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const float diff = pred[i] - target[i];
    total += double{diff} * diff;
    if (dpred != nullptr) dpred[i] = 2.0f * diff * grad_scale;
  }
  return total;
}

double AbsoluteErrorReference(const float* pred, const float* target,
                              std::size_t n, float grad_scale, float* dpred) {
  double total = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const float diff = pred[i] - target[i];
    total += std::abs(diff);
    if (dpred != nullptr) {
      dpred[i] = diff > 0.0f ? grad_scale : diff < 0.0f ? -grad_scale : 0.0f;
    }
  }
  return total;
}

void ArgMaxRowsReference(const float* scores, std::size_t rows,
                         std::size_t cols, std::int32_t* classes) {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = scores + r * cols;
    std::size_t best = 0;
    for (std::size_t c = 1; c < cols; ++c) {
      if (row[c] > row[best]) best = c;  // strict: the first max wins ties
    }
    classes[r] = static_cast<std::int32_t>(best);
  }
}

// ---------------------------------------------------------------------------
// Dispatch.

double SparseSoftmaxCrossEntropy(const float* logits,
                                 const std::int32_t* labels, std::size_t rows,
                                 std::size_t cols, float grad_scale,
                                 float* probs, float* dlogits) {
  return HWY_DYNAMIC_DISPATCH(SparseSoftmaxCrossEntropy)(
      logits, labels, rows, cols, grad_scale, probs, dlogits);
}

double SoftmaxCrossEntropy(const float* logits, const float* targets,
                           std::size_t rows, std::size_t cols, float grad_scale,
                           float* probs, float* dlogits) {
  return HWY_DYNAMIC_DISPATCH(SoftmaxCrossEntropy)(logits, targets, rows, cols,
                                                   grad_scale, probs, dlogits);
}

double SquaredError(const float* pred, const float* target, std::size_t n,
                    float grad_scale, float* dpred) {
  return HWY_DYNAMIC_DISPATCH(SquaredError)(pred, target, n, grad_scale, dpred);
}

double AbsoluteError(const float* pred, const float* target, std::size_t n,
                     float grad_scale, float* dpred) {
  return HWY_DYNAMIC_DISPATCH(AbsoluteError)(pred, target, n, grad_scale,
                                             dpred);
}

void ArgMaxRows(const float* scores, std::size_t rows, std::size_t cols,
                std::int32_t* classes) {
  HWY_DYNAMIC_DISPATCH(ArgMaxRows)(scores, rows, cols, classes);
}

}  // namespace sequent::kernels
#endif  // HWY_ONCE
