// Per-target SIMD code for the optimiser updates; see
// include/sequent/kernels/optimizer.hpp for the contract and optimizer.cc for
// the scalar references. Included once per target by foreach_target.h.
//
// Both updates stream over the flat parameter buffer and its state buffers
// once, with no dependency between elements: they are bound by memory
// bandwidth (Adam moves 7 floats per parameter), not by arithmetic, so one
// pass with the out-of-order core overlapping iterations is all they need.

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

// params, grads, m, v hold n elements; step ≥ 1.
inline void AdamUpdate(float* params, const float* grads, float* m, float* v,
                       std::size_t n, float lr, float beta1, float beta2,
                       float epsilon, float weight_decay, std::int64_t step) {
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
    hn::StoreU(hn::Sub(p, update), d, params + i);
  });
}

}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SEQUENT_SRC_KERNELS_OPTIMIZER_INL_H_
