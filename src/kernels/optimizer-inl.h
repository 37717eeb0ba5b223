// Per-target SIMD code for the optimiser updates; see
// include/sequent/kernels/optimizer.hpp for the contract and optimizer.cc for
// the scalar references. Included once per target by foreach_target.h.
//
// Every update streams over the flat parameter buffer and its state buffers
// once, with no dependency between elements: they are bound by memory
// bandwidth (Adam moves 7 floats per parameter), not by arithmetic, so one
// pass with the out-of-order core overlapping iterations is all they need.
// The kernel-penalty pass is the exception that reduces (Σ w², Σ |w|), so
// it keeps several accumulators in flight.

// Include guard that toggles per target (Highway's skeleton pattern).
#if defined(SEQUENT_SRC_KERNELS_OPTIMIZER_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_OPTIMIZER_INL_H_
#undef SEQUENT_SRC_KERNELS_OPTIMIZER_INL_H_
#else
#define SEQUENT_SRC_KERNELS_OPTIMIZER_INL_H_
#endif

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "activation-inl.h"  // ForEachVector
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// params, grads, velocity hold n elements (velocity unused, and may be null,
// when momentum == 0).
inline void SgdUpdate(float* params, const float* grads, float* velocity,
                      std::size_t n, float lr, float momentum, bool nesterov,
                      float weight_decay) {
  const hn::ScalableTag<float> d;
  const bool decay = weight_decay != 0.0f;
  if (momentum == 0.0f) {
    ForEachVector(d, n, [&](auto d, std::size_t i) HWY_ATTR {
      const auto p = hn::LoadU(d, params + i);
      auto g = hn::LoadU(d, grads + i);
      if (decay) g = hn::MulAdd(hn::Set(d, weight_decay), p, g);
      hn::StoreU(hn::NegMulAdd(hn::Set(d, lr), g, p), d, params + i);
    });
    return;
  }
  ForEachVector(d, n, [&](auto d, std::size_t i) HWY_ATTR {
    const auto p = hn::LoadU(d, params + i);
    auto g = hn::LoadU(d, grads + i);
    if (decay) g = hn::MulAdd(hn::Set(d, weight_decay), p, g);
    const auto momentum_vec = hn::Set(d, momentum);
    const auto v = hn::MulAdd(momentum_vec, hn::LoadU(d, velocity + i), g);
    const auto step = nesterov ? hn::MulAdd(momentum_vec, v, g) : v;
    hn::StoreU(v, d, velocity + i);
    hn::StoreU(hn::NegMulAdd(hn::Set(d, lr), step, p), d, params + i);
  });
}

// The Adam step shared by Adam and AdamW. params, grads, m, v hold n
// elements; step ≥ 1. weight_decay is added to the gradient (Adam's coupled
// L2); with kDecoupled, p is first multiplied by keep = 1 − lr·wd (AdamW).
template <bool kDecoupled>
HWY_INLINE void AdamStep(float* params, const float* grads, float* m, float* v,
                         std::size_t n, float lr, float beta1, float beta2,
                         float epsilon, float weight_decay, float keep,
                         std::int64_t step) {
  // The bias corrections are per call, so fold them into two scalars (in
  // double, as PyTorch computes them): p −= step_size·m / (√(v·c2) + ε).
  const double steps = static_cast<double>(step);
  const auto step_size =
      static_cast<float>(lr / (1.0 - std::pow(double{beta1}, steps)));
  const auto inverse_correction2 =
      static_cast<float>(1.0 / (1.0 - std::pow(double{beta2}, steps)));
  const bool decay = weight_decay != 0.0f;
  const hn::ScalableTag<float> d;
  ForEachVector(d, n, [&](auto d, std::size_t i) HWY_ATTR {
    const auto p = hn::LoadU(d, params + i);
    auto g = hn::LoadU(d, grads + i);
    if (decay) g = hn::MulAdd(hn::Set(d, weight_decay), p, g);
    const auto new_m = hn::MulAdd(hn::Set(d, beta1), hn::LoadU(d, m + i),
                                  hn::Mul(hn::Set(d, 1.0f - beta1), g));
    const auto new_v =
        hn::MulAdd(hn::Set(d, beta2), hn::LoadU(d, v + i),
                   hn::Mul(hn::Set(d, 1.0f - beta2), hn::Mul(g, g)));
    const auto denominator =
        hn::Add(hn::Sqrt(hn::Mul(new_v, hn::Set(d, inverse_correction2))),
                hn::Set(d, epsilon));
    const auto update =
        hn::Div(hn::Mul(hn::Set(d, step_size), new_m), denominator);
    hn::StoreU(new_m, d, m + i);
    hn::StoreU(new_v, d, v + i);
    const auto kept = kDecoupled ? hn::Mul(p, hn::Set(d, keep)) : p;
    hn::StoreU(hn::Sub(kept, update), d, params + i);
  });
}

inline void AdamUpdate(float* params, const float* grads, float* m, float* v,
                       std::size_t n, float lr, float beta1, float beta2,
                       float epsilon, float weight_decay, std::int64_t step) {
  AdamStep<false>(params, grads, m, v, n, lr, beta1, beta2, epsilon,
                  weight_decay, 1.0f, step);
}

// As PyTorch: p·(1 − lr·wd), one multiply by a per-call scalar.
inline void AdamWUpdate(float* params, const float* grads, float* m, float* v,
                        std::size_t n, float lr, float beta1, float beta2,
                        float epsilon, float weight_decay, std::int64_t step) {
  AdamStep<true>(params, grads, m, v, n, lr, beta1, beta2, epsilon, 0.0f,
                 1.0f - lr * weight_decay, step);
}

// The four variants of RMSprop as separate loops, so that the common one
// (no momentum, not centered) moves 3 floats per parameter, not 5.
template <bool kCentered, bool kMomentum>
HWY_INLINE void RmsPropStep(float* params, const float* grads,
                            float* mean_square, float* momentum_buffer,
                            float* average_grad, std::size_t n, float lr,
                            float rho, float momentum, float epsilon) {
  const hn::ScalableTag<float> d;
  ForEachVector(d, n, [&](auto d, std::size_t i) HWY_ATTR {
    const auto g = hn::LoadU(d, grads + i);
    const auto rho_vec = hn::Set(d, rho);
    const auto one_minus_rho = hn::Set(d, 1.0f - rho);
    const auto s = hn::MulAdd(rho_vec, hn::LoadU(d, mean_square + i),
                              hn::Mul(one_minus_rho, hn::Mul(g, g)));
    hn::StoreU(s, d, mean_square + i);
    auto denominator = s;
    if constexpr (kCentered) {
      const auto a = hn::MulAdd(rho_vec, hn::LoadU(d, average_grad + i),
                                hn::Mul(one_minus_rho, g));
      hn::StoreU(a, d, average_grad + i);
      denominator = hn::Max(hn::NegMulAdd(a, a, s), hn::Zero(d));
    }
    denominator = hn::Add(denominator, hn::Set(d, epsilon));
    auto increment = hn::Div(hn::Mul(hn::Set(d, lr), g), hn::Sqrt(denominator));
    if constexpr (kMomentum) {
      increment = hn::MulAdd(hn::Set(d, momentum),
                             hn::LoadU(d, momentum_buffer + i), increment);
      hn::StoreU(increment, d, momentum_buffer + i);
    }
    hn::StoreU(hn::Sub(hn::LoadU(d, params + i), increment), d, params + i);
  });
}

inline void RmsPropUpdate(float* params, const float* grads, float* mean_square,
                          float* momentum_buffer, float* average_grad,
                          std::size_t n, float lr, float rho, float momentum,
                          float epsilon, bool centered) {
  const bool with_momentum = momentum != 0.0f;
  if (centered && with_momentum) {
    RmsPropStep<true, true>(params, grads, mean_square, momentum_buffer,
                            average_grad, n, lr, rho, momentum, epsilon);
  } else if (centered) {
    RmsPropStep<true, false>(params, grads, mean_square, momentum_buffer,
                             average_grad, n, lr, rho, momentum, epsilon);
  } else if (with_momentum) {
    RmsPropStep<false, true>(params, grads, mean_square, momentum_buffer,
                             average_grad, n, lr, rho, momentum, epsilon);
  } else {
    RmsPropStep<false, false>(params, grads, mean_square, momentum_buffer,
                              average_grad, n, lr, rho, momentum, epsilon);
  }
}

// grads[i] += 2·l2·params[i] (+ l1·sign(params[i]) when kL1) over n
// floats, unless kGradients is false, and sets sums[0] = Σ params[i]² and
// sums[1] = Σ |params[i]| (0 unless kL1). The caller scales the sums once
// per range, so an L2-only penalty has the bits it had before L1 existed.
// Callers pass blocks of at most a few thousand floats, so float accumulators
// lose no more than ~1e-5 relative: four of each, because one would wait 4
// cycles (the add latency) per vector while the loads could deliver two vectors
// a cycle from cache.
template <bool kGradients, bool kL1>
HWY_INLINE void PenaltyPass(const float* params, float* grads, std::size_t n,
                            float l1, float l2, double* sums) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const std::size_t lanes = hn::Lanes(d);
  const V factor = hn::Set(d, 2.0f * l2), l1_factor = hn::Set(d, l1);
  V squares[4], absolutes[4];
  for (std::size_t k = 0; k < 4; ++k) squares[k] = absolutes[k] = hn::Zero(d);
  // Zero padding (the tail) adds nothing to either sum, and its sign is 0.
  const auto one = [&](V p, V g) HWY_ATTR {
    g = hn::MulAdd(factor, p, g);
    if constexpr (kL1) {
      const V sign = hn::IfThenElseZero(hn::Ne(p, hn::Zero(d)),
                                        hn::CopySign(l1_factor, p));
      g = hn::Add(g, sign);
    }
    return g;
  };
  const auto accumulate = [&](V p, std::size_t k) HWY_ATTR {
    squares[k] = hn::MulAdd(p, p, squares[k]);
    if constexpr (kL1) absolutes[k] = hn::Add(absolutes[k], hn::Abs(p));
  };
  std::size_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    for (std::size_t k = 0; k < 4; ++k) {
      const V p = hn::LoadU(d, params + i + k * lanes);
      accumulate(p, k);
      if constexpr (kGradients) {
        float* g = grads + i + k * lanes;
        hn::StoreU(one(p, hn::LoadU(d, g)), d, g);
      }
    }
  }
  for (; i + lanes <= n; i += lanes) {
    const V p = hn::LoadU(d, params + i);
    accumulate(p, 0);
    if constexpr (kGradients) {
      hn::StoreU(one(p, hn::LoadU(d, grads + i)), d, grads + i);
    }
  }
  if (i < n) {
    // Only the real elements' gradients are stored.
    const std::size_t remaining = n - i;
    const V p = LoadPadded(d, params + i, remaining, 0.0f);
    accumulate(p, 1);
    if constexpr (kGradients) {
      const V g = LoadPadded(d, grads + i, remaining, 0.0f);
      StoreFirst(d, one(p, g), grads + i, remaining);
    }
  }
  const auto total = [&](const V(&sums)[4]) HWY_ATTR {
    const V all = hn::Add(hn::Add(sums[0], sums[1]), hn::Add(sums[2], sums[3]));
    return static_cast<double>(hn::GetLane(hn::SumOfLanes(d, all)));
  };
  sums[0] = total(squares);
  sums[1] = kL1 ? total(absolutes) : 0.0;
}

// grads may be null: then only the sums.
inline void PenaltyBlock(const float* params, float* grads, std::size_t n,
                         float l1, float l2, double* sums) {
  if (l1 != 0.0f) {
    if (grads != nullptr)
      return PenaltyPass<true, true>(params, grads, n, l1, l2, sums);
    return PenaltyPass<false, true>(params, grads, n, l1, l2, sums);
  }
  if (grads != nullptr)
    return PenaltyPass<true, false>(params, grads, n, l1, l2, sums);
  PenaltyPass<false, false>(params, grads, n, l1, l2, sums);
}

}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SEQUENT_SRC_KERNELS_OPTIMIZER_INL_H_
