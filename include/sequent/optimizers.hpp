// Optimisers: plain configuration structs, used as Keras users write them,
// e.g. sq::Adam{.lr = 1e-3f}, sq::AdamW{}, sq::RMSprop{.momentum = 0.9f}.
// Their state (velocity, moments) lives in the model in buffers laid out
// like the parameters, so one update is one SIMD pass over one flat buffer.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "sequent/format.hpp"
#include "sequent/kernels/optimizer.hpp"

namespace sequent {

namespace detail {

// Throws std::invalid_argument naming the optimiser and the field unless
// value is finite and lo <= value (value < hi when hi_open, else <= hi).
inline void check_hyperparameter(const char* optimizer, const char* field,
                                 float value, float lo, float hi,
                                 bool hi_open) {
  const bool ok = std::isfinite(value) && value >= lo &&
                  (hi_open ? value < hi : value <= hi);
  if (!ok) {
    throw std::invalid_argument(
        std::string(optimizer) + ": " + field + " must be finite and in [" +
        format_number(lo) + ", " + format_number(hi) + (hi_open ? ")" : "]") +
        ", got " + format_number(value));
  }
}
inline constexpr float kUnbounded = INFINITY;
inline void check_rate(const char* optimizer, float lr) {
  check_hyperparameter(optimizer, "lr", lr, 0.0f, kUnbounded, true);
}
inline void check_fraction(const char* optimizer, const char* field,
                           float value) {  // [0, 1): a decay or momentum
  check_hyperparameter(optimizer, field, value, 0.0f, 1.0f, true);
}
inline void check_epsilon(const char* optimizer, float epsilon) {
  check_hyperparameter(optimizer, "epsilon", epsilon, 1e-30f, kUnbounded, true);
}
inline void check_non_negative(const char* optimizer, const char* field,
                               float value) {  // a momentum or a decay
  check_hyperparameter(optimizer, field, value, 0.0f, kUnbounded, true);
}
// Adam's and AdamW's hyperparameters, which they share.
inline void check_adam(const char* optimizer, float lr, float beta1,
                       float beta2, float epsilon, float weight_decay) {
  check_rate(optimizer, lr);
  check_fraction(optimizer, "beta1", beta1);
  check_fraction(optimizer, "beta2", beta2);
  check_epsilon(optimizer, epsilon);
  check_non_negative(optimizer, "weight_decay", weight_decay);
}
}  // namespace detail

// Stochastic gradient descent with optional (Nesterov) momentum.
// Keras' defaults: lr 0.01, no momentum.
struct SGD {
  float lr = 0.01f;
  float momentum = 0.0f;
  bool nesterov = false;
  float weight_decay = 0.0f;  // L2 added to the gradient

  static constexpr const char* name = "SGD";
  static constexpr std::size_t state_slots = 1;  // velocity
  // fit and train_step call it: a NaN rate would turn every weight NaN.
  void check() const {
    detail::check_rate(name, lr);
    detail::check_non_negative(name, "momentum", momentum);
    detail::check_non_negative(name, "weight_decay", weight_decay);
  }
  void update(float* params, const float* grads, float* state, std::size_t n,
              std::int64_t /*step*/) const {
    kernels::SgdUpdate(params, grads, momentum != 0.0f ? state : nullptr, n, lr,
                       momentum, nesterov, weight_decay);
  }
};

// Adam (Kingma & Ba 2015) with bias correction. Keras' defaults.
struct Adam {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-7f;
  float weight_decay = 0.0f;  // L2 added to the gradient

  static constexpr const char* name = "Adam";
  static constexpr std::size_t state_slots = 2;  // first and second moments
  void check() const {
    detail::check_adam(name, lr, beta1, beta2, epsilon, weight_decay);
  }
  void update(float* params, const float* grads, float* state, std::size_t n,
              std::int64_t step) const {
    kernels::AdamUpdate(params, grads, state, state + n, n, lr, beta1, beta2,
                        epsilon, weight_decay, step);
  }
};

// AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay,
//   p ← p − lr·(m̂/(√v̂ + ε) + weight_decay·p),
// so the decay does not pass through the moments (contrast Adam's
// weight_decay, an L2 term added to the gradient). Keras' defaults,
// weight_decay 0.004 included (torch.optim.AdamW uses 0.01 and ε 1e-8). As
// in both, the decay applies to every parameter — biases and BatchNorm's
// gamma and beta too — and scales with lr, so schedules shrink it as well.
struct AdamW {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-7f;
  float weight_decay = 0.004f;

  static constexpr const char* name = "AdamW";
  static constexpr std::size_t state_slots = 2;  // first and second moments
  void check() const {
    detail::check_adam(name, lr, beta1, beta2, epsilon, weight_decay);
  }
  void update(float* params, const float* grads, float* state, std::size_t n,
              std::int64_t step) const {
    kernels::AdamWUpdate(params, grads, state, state + n, n, lr, beta1, beta2,
                         epsilon, weight_decay, step);
  }
};

// RMSprop (Hinton 2012) as Keras computes it, with Keras' defaults; see
// kernels::RmsPropUpdate for the formulas (ε inside the square root, the
// momentum buffer accumulating lr-scaled steps).
struct RMSprop {
  float lr = 1e-3f;
  float rho = 0.9f;
  float momentum = 0.0f;
  float epsilon = 1e-7f;
  bool centered = false;

  static constexpr const char* name = "RMSprop";
  // Mean square, momentum buffer, mean gradient, always in these slots:
  // a checkpoint then resumes with any momentum/centered setting, each
  // slot keeping its meaning (an unused slot stays zero and costs memory
  // only, never bandwidth).
  static constexpr std::size_t state_slots = 3;
  void check() const {
    detail::check_rate(name, lr);
    detail::check_fraction(name, "rho", rho);
    detail::check_non_negative(name, "momentum", momentum);
    detail::check_epsilon(name, epsilon);
  }
  void update(float* params, const float* grads, float* state, std::size_t n,
              std::int64_t /*step*/) const {
    kernels::RmsPropUpdate(params, grads, state,
                           momentum != 0.0f ? state + n : nullptr,
                           centered ? state + 2 * n : nullptr, n, lr, rho,
                           momentum, epsilon, centered);
  }
};

template <class T>
concept Optimizer = requires(const T& opt, float* p, const float* g,
                             std::size_t n) {
  { T::state_slots } -> std::convertible_to<std::size_t>;
  { T::name } -> std::convertible_to<const char*>;
  opt.update(p, g, p, n, std::int64_t{1});
};

}  // namespace sequent
