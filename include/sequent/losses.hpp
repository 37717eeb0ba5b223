// Losses: the second template argument of Model. Each reports the mean loss
// over a batch and writes d(mean loss)/d(model output).
//
// Cross-entropies after a trailing Softmax are fused with it (see fuse.hpp):
// the model then outputs logits and the loss computes log-sum-exp, which is
// stable for any logits, with the gradient p − y. Unfused (Fusion::kOff) the
// Softmax runs on its own and the loss takes its probabilities, clipped to
// [1e-7, 1] as Keras clips them. A model must end in Softmax for a
// cross-entropy: raw outputs read as probabilities would be clipped too,
// and after a Sigmoid nothing pushes the wrong classes down; either way the
// loss falls to 0 while the classes stay wrong.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "sequent/kernels/loss.hpp"

namespace sequent {

// What the loss compares the output with: class indices or float targets.
struct LossTargets {
  const std::int32_t* labels = nullptr;  // batch values, or null
  const float* targets = nullptr;        // batch × output size, or null
};

// Whether a loss reads the model's outputs as probabilities (a loss type
// without the member does not).
template <class Loss>
inline constexpr bool takes_probabilities_v = [] {
  if constexpr (requires { Loss::takes_probabilities; }) {
    return static_cast<bool>(Loss::takes_probabilities);
  } else {
    return false;
  }
}();

namespace detail {
// −log(clip(p)) for probability outputs; gradient −1/p where not clipped.
inline double probability_cross_entropy(const float* p, LossTargets t,
                                        std::size_t rows, std::size_t cols,
                                        float grad_scale, float* dp) {
  constexpr float kEps = 1e-7f;
  double total = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      const float weight = t.labels ? (t.labels[r] == static_cast<int>(c))
                                    : t.targets[r * cols + c];
      const float pc = std::clamp(p[r * cols + c], kEps, 1.0f);
      total -= weight * std::log(pc);
      if (dp) {
        const bool clipped = p[r * cols + c] < kEps || p[r * cols + c] > 1.0f;
        dp[r * cols + c] = clipped ? 0.0f : -weight / pc * grad_scale;
      }
    }
  }
  return total;
}
}  // namespace detail

// Class indices in [0, classes). Needs a rank-1 output of ≥ 2 classes.
struct SparseCategoricalCrossentropy {
  static constexpr const char* name = "SparseCategoricalCrossentropy";
  static constexpr bool classification = true;
  static constexpr bool fuses_softmax = true;
  static constexpr bool takes_probabilities = true;
  static constexpr bool needs_labels = true;
  template <class Out>
  struct check_output {
    static_assert(Out::rank == 1 && Out::size >= 2,
                  "sparse cross-entropy needs a rank-1 output of >= 2 "
                  "classes: end the model with Dense<classes>, Softmax");
  };

  // Sum of the per-sample losses; d(out) = ∂(sum)/∂out · grad_scale.
  static double compute(bool from_logits, const float* out, LossTargets t,
                        std::size_t rows, std::size_t cols, float grad_scale,
                        float* dout) {
    if (from_logits) {
      return kernels::SparseSoftmaxCrossEntropy(out, t.labels, rows, cols,
                                                grad_scale, nullptr, dout);
    }
    return detail::probability_cross_entropy(out, t, rows, cols, grad_scale,
                                             dout);
  }
};

// One-hot (or soft) float targets; class indices are accepted too.
struct CategoricalCrossentropy {
  static constexpr const char* name = "CategoricalCrossentropy";
  static constexpr bool classification = true;
  static constexpr bool fuses_softmax = true;
  static constexpr bool takes_probabilities = true;
  static constexpr bool needs_labels = false;
  template <class Out>
  struct check_output {
    static_assert(Out::rank == 1 && Out::size >= 2,
                  "categorical cross-entropy needs a rank-1 output of >= 2 "
                  "classes: end the model with Dense<classes>, Softmax");
  };

  static double compute(bool from_logits, const float* out, LossTargets t,
                        std::size_t rows, std::size_t cols, float grad_scale,
                        float* dout) {
    if (from_logits && t.labels) {
      return kernels::SparseSoftmaxCrossEntropy(out, t.labels, rows, cols,
                                                grad_scale, nullptr, dout);
    }
    if (from_logits) {
      return kernels::SoftmaxCrossEntropy(out, t.targets, rows, cols,
                                          grad_scale, nullptr, dout);
    }
    return detail::probability_cross_entropy(out, t, rows, cols, grad_scale,
                                             dout);
  }
};

// Regression losses average over every output value, as Keras does:
// loss = Σ (p − t)² / (batch · outputs); returned here as the per-sample sum
// Σ_r mean_c (p − t)².
struct MeanSquaredError {
  static constexpr const char* name = "MeanSquaredError";
  static constexpr bool classification = false;
  static constexpr bool fuses_softmax = false;
  static constexpr bool takes_probabilities = false;
  static constexpr bool needs_labels = false;
  template <class Out>
  struct check_output {};

  static double compute(bool, const float* out, LossTargets t, std::size_t rows,
                        std::size_t cols, float grad_scale, float* dout) {
    const float per_value = 1.0f / static_cast<float>(cols);
    return kernels::SquaredError(out, t.targets, rows * cols,
                                 grad_scale * per_value, dout) *
           per_value;
  }
};

struct MeanAbsoluteError {
  static constexpr const char* name = "MeanAbsoluteError";
  static constexpr bool classification = false;
  static constexpr bool fuses_softmax = false;
  static constexpr bool takes_probabilities = false;
  static constexpr bool needs_labels = false;
  template <class Out>
  struct check_output {};

  static double compute(bool, const float* out, LossTargets t, std::size_t rows,
                        std::size_t cols, float grad_scale, float* dout) {
    const float per_value = 1.0f / static_cast<float>(cols);
    return kernels::AbsoluteError(out, t.targets, rows * cols,
                                  grad_scale * per_value, dout) *
           per_value;
  }
};

}  // namespace sequent
