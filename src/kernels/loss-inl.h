// Per-target SIMD code for the losses; see include/sequent/kernels/loss.hpp
// for the contract and loss.cc for the scalar references. Included once per
// target by foreach_target.h.

// Include guard that toggles per target (Highway's skeleton pattern).
#if defined(SEQUENT_SRC_KERNELS_LOSS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_LOSS_INL_H_
#undef SEQUENT_SRC_KERNELS_LOSS_INL_H_
#else
#define SEQUENT_SRC_KERNELS_LOSS_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "activation-inl.h"  // ForEachVector, LoadPadded, RowMax, SumExpShifted
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Element-wise losses sum this many elements in float before adding the block
// to a double total, so a lane adds at most 4096 / 4 = 1024 floats (SSE4):
// ≤ 6e-5 relative error in the worst case and ~2e-6 typically, however large
// n grows.
constexpr std::size_t kLossBlock = 4096;

// The shared start of both cross-entropies for one row of logits x:
// exps[c] = exp(x[c] − max) (not stored when exps is null) and the sum.
struct ShiftedExps {
  float max;
  float sum;
};
template <class D>
HWY_INLINE ShiftedExps ExpRow(D d, const float* x, float* exps,
                              std::size_t cols) {
  const float max = RowMax(d, x, cols);
  return {max, SumExpShifted(d, x, max, exps, cols)};
}

// probs = exps · inverse_sum and dlogits = (probs · targets_sum − targets) ·
// grad_scale over one row, each unless null; exps may equal either output.
// Null targets count as zeros: the sparse loss then fixes its label's entry.
template <class D>
HWY_INLINE void WriteProbsAndGradient(D d, const float* exps, float inverse_sum,
                                      const float* targets, float targets_sum,
                                      float grad_scale, float* probs,
                                      float* dlogits, std::size_t cols) {
  ForEachVector(d, cols, [&](auto d, std::size_t c) HWY_ATTR {
    const auto p = hn::Mul(hn::LoadU(d, exps + c), hn::Set(d, inverse_sum));
    if (probs != nullptr) hn::StoreU(p, d, probs + c);
    if (dlogits != nullptr) {
      auto gradient = hn::Mul(p, hn::Set(d, targets_sum));
      if (targets != nullptr) {
        gradient = hn::Sub(gradient, hn::LoadU(d, targets + c));
      }
      hn::StoreU(hn::Mul(gradient, hn::Set(d, grad_scale)), d, dlogits + c);
    }
  });
}

// logits, probs, dlogits are rows×cols, row-major; labels has rows entries.
inline double SparseSoftmaxCrossEntropy(const float* logits,
                                        const std::int32_t* labels,
                                        std::size_t rows, std::size_t cols,
                                        float grad_scale, float* probs,
                                        float* dlogits) {
  const hn::ScalableTag<float> d;
  double total = 0.0;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* x = logits + r * cols;
    float* probs_row = probs != nullptr ? probs + r * cols : nullptr;
    float* dlogits_row = dlogits != nullptr ? dlogits + r * cols : nullptr;
    // The exps go straight into an output row, to be scaled in place.
    float* exps = dlogits_row != nullptr ? dlogits_row : probs_row;
    const auto label = static_cast<std::size_t>(labels[r]);
    const float label_logit = x[label];  // read before exps may overwrite
    const ShiftedExps row = ExpRow(d, x, exps, cols);
    // logsumexp − x[label] = (max − x[label]) + log Σ exp(x − max): both
    // terms are ≥ 0, so nothing cancels even when the loss is tiny.
    total += (double{row.max} - label_logit) + std::log(double{row.sum});
    if (exps == nullptr) continue;
    const float inverse_sum = 1.0f / row.sum;
    const float label_prob = exps[label] * inverse_sum;
    WriteProbsAndGradient(d, exps, inverse_sum, nullptr, 1.0f, grad_scale,
                          probs_row, dlogits_row, cols);
    // (p − 1)·scale, not p·scale − scale: p − 1 is exact when p ≥ 1/2.
    if (dlogits_row != nullptr) {
      dlogits_row[label] = (label_prob - 1.0f) * grad_scale;
    }
  }
  return total;
}

// Σ_c t[c] and Σ_c t[c]·(x[c] − max) over one row of targets t and logits x.
struct TargetSums {
  float targets;
  float weighted_shifted_logits;
};
template <class D>
HWY_INLINE TargetSums SumTargets(D d, const float* x, const float* t, float max,
                                 std::size_t cols) {
  const auto max_vec = hn::Set(d, max);
  auto targets_vec = hn::Zero(d);
  auto weighted_vec = hn::Zero(d);
  const auto accumulate = [&](hn::Vec<D> target, hn::Vec<D> logits) HWY_ATTR {
    targets_vec = hn::Add(targets_vec, target);
    weighted_vec = hn::MulAdd(target, hn::Sub(logits, max_vec), weighted_vec);
  };
  const std::size_t lanes = hn::Lanes(d);
  std::size_t c = 0;
  for (; c + lanes <= cols; c += lanes) {
    accumulate(hn::LoadU(d, t + c), hn::LoadU(d, x + c));
  }
  if (c < cols) {  // padding with t = 0 adds nothing to either sum
    const std::size_t remaining = cols - c;
    accumulate(LoadPadded(d, t + c, remaining, 0.0f),
               LoadPadded(d, x + c, remaining, max));
  }
  return {hn::GetLane(hn::SumOfLanes(d, targets_vec)),
          hn::GetLane(hn::SumOfLanes(d, weighted_vec))};
}

// logits, targets, probs, dlogits are rows×cols, row-major.
inline double SoftmaxCrossEntropy(const float* logits, const float* targets,
                                  std::size_t rows, std::size_t cols,
                                  float grad_scale, float* probs,
                                  float* dlogits) {
  const hn::ScalableTag<float> d;
  double total = 0.0;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* x = logits + r * cols;
    const float* t = targets + r * cols;
    float* probs_row = probs != nullptr ? probs + r * cols : nullptr;
    float* dlogits_row = dlogits != nullptr ? dlogits + r * cols : nullptr;
    float* exps = dlogits_row != nullptr ? dlogits_row : probs_row;
    const ShiftedExps row = ExpRow(d, x, exps, cols);
    // Σ t·(lse − x) = Σt·log(sum) − Σ t·(x − max), from the shifted logits
    // so that no large logit cancels against the large logsumexp.
    const TargetSums sums = SumTargets(d, x, t, row.max, cols);
    total += double{sums.targets} * std::log(double{row.sum}) -
             sums.weighted_shifted_logits;
    if (exps == nullptr) continue;
    WriteProbsAndGradient(d, exps, 1.0f / row.sum, t, sums.targets, grad_scale,
                          probs_row, dlogits_row, cols);
  }
  return total;
}

// The shared loop of the element-wise losses: for each block of kLossBlock
// elements, sums per_element(d, diff) in float lanes, adds the block to a
// double total, and stores gradient(d, diff) into dpred unless it is null.
template <class PerElement, class Gradient>
HWY_INLINE double ElementwiseLoss(const float* pred, const float* target,
                                  std::size_t n, float* dpred,
                                  const PerElement& per_element,
                                  const Gradient& gradient) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const std::size_t lanes = hn::Lanes(d);
  double total = 0.0;
  for (std::size_t begin = 0; begin < n; begin += kLossBlock) {
    const std::size_t end = std::min(n, begin + kLossBlock);
    auto sum_vec = hn::Zero(d);
    auto tail_sum = hn::Zero(d1);
    std::size_t i = begin;
    for (; i + lanes <= end; i += lanes) {
      const auto diff =
          hn::Sub(hn::LoadU(d, pred + i), hn::LoadU(d, target + i));
      sum_vec = hn::Add(sum_vec, per_element(d, diff));
      if (dpred != nullptr) hn::StoreU(gradient(d, diff), d, dpred + i);
    }
    for (; i < end; ++i) {
      const auto diff =
          hn::Sub(hn::LoadU(d1, pred + i), hn::LoadU(d1, target + i));
      tail_sum = hn::Add(tail_sum, per_element(d1, diff));
      if (dpred != nullptr) hn::StoreU(gradient(d1, diff), d1, dpred + i);
    }
    total +=
        double{hn::GetLane(hn::SumOfLanes(d, sum_vec))} + hn::GetLane(tail_sum);
  }
  return total;
}

// pred, target, dpred hold n elements.
inline double SquaredError(const float* pred, const float* target,
                           std::size_t n, float grad_scale, float* dpred) {
  // 2·scale is exact in float, so 2(p − t)·scale rounds once, as in the
  // reference.
  const float twice_scale = 2.0f * grad_scale;
  return ElementwiseLoss(
      pred, target, n, dpred,
      [](auto /*d*/, auto diff) HWY_ATTR { return hn::Mul(diff, diff); },
      [&](auto d, auto diff)
          HWY_ATTR { return hn::Mul(diff, hn::Set(d, twice_scale)); });
}

// pred, target, dpred hold n elements.
inline double AbsoluteError(const float* pred, const float* target,
                            std::size_t n, float grad_scale, float* dpred) {
  return ElementwiseLoss(
      pred, target, n, dpred,
      [](auto /*d*/, auto diff) HWY_ATTR { return hn::Abs(diff); },
      [&](auto d, auto diff) HWY_ATTR {
        const auto zero = hn::Zero(d);
        const auto scale = hn::Set(d, grad_scale);
        // sign(diff)·scale, and 0 where p == t.
        return hn::IfThenElse(
            hn::Gt(diff, zero), scale,
            hn::IfThenElseZero(hn::Lt(diff, zero), hn::Neg(scale)));
      });
}

// Index of the first of row[0..cols) equal to value; 0 if there is none
// (only possible when the row holds NaN).
template <class D>
HWY_INLINE std::size_t FirstIndexOf(D d, const float* row, std::size_t cols,
                                    float value) {
  const std::size_t lanes = hn::Lanes(d);
  const auto value_vec = hn::Set(d, value);
  std::size_t c = 0;
  for (; c + lanes <= cols; c += lanes) {
    const intptr_t lane =
        hn::FindFirstTrue(d, hn::Eq(hn::LoadU(d, row + c), value_vec));
    if (lane >= 0) return c + static_cast<std::size_t>(lane);
  }
  for (; c < cols; ++c) {
    if (row[c] == value) return c;
  }
  return 0;
}

// scores is rows×cols, row-major; classes has rows entries.
inline void ArgMaxRows(const float* scores, std::size_t rows, std::size_t cols,
                       std::int32_t* classes) {
  const hn::ScalableTag<float> d;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = scores + r * cols;
    // The maximum, then the first column holding it: the reference's
    // first-on-ties answer without tracking indices in lanes.
    const std::size_t column = FirstIndexOf(d, row, cols, RowMax(d, row, cols));
    classes[r] = static_cast<std::int32_t>(column);
  }
}

}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SEQUENT_SRC_KERNELS_LOSS_INL_H_
