// BatchNorm<momentum = 0.99, epsilon = 1e-3> (Keras' defaults): normalises
// each channel (the last dimension) over the batch — and over height and
// width for images — then scales by gamma and shifts by beta. Training uses
// the batch's statistics and updates running ones; inference uses the
// running ones (and, after a Conv2D, is folded into its weights).
#pragma once

#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "sequent/kernels/batchnorm.hpp"
#include "sequent/layers/layer.hpp"

namespace sequent {

template <double Momentum = 0.99, double Epsilon = 1e-3>
struct BatchNorm : LayerDefaults {
  static_assert(Momentum >= 0.0 && Momentum < 1.0,
                "BatchNorm<momentum> needs 0 <= momentum < 1");
  static_assert(Epsilon > 0.0,
                "BatchNorm<momentum, epsilon> needs epsilon > 0");
  static constexpr std::string_view tag = "BatchNorm";
  static constexpr float momentum = static_cast<float>(Momentum);
  static constexpr float epsilon = static_cast<float>(Epsilon);
  // Recorded in the fingerprint: ε changes inference. (The momentum only
  // changes training, like Dropout's rate, and is left out.)
  static constexpr std::array<double, 1> fingerprint_constants = {Epsilon};
  static constexpr bool backward_in_place = true;
  static constexpr bool couples_samples = true;  // batch statistics

  static std::string name() {
    if (Momentum == 0.99 && Epsilon == 1e-3) return "BatchNorm";
    char buf[64];
    std::snprintf(buf, sizeof buf, "BatchNorm<%g, %g>", Momentum, Epsilon);
    return buf;
  }
  static std::string kernel() { return "batch-norm kernel"; }

  template <class In>
  static constexpr std::size_t channels = In::dims[In::rank - 1];
  template <class In>
  struct output {
    using type = In;
  };
  // gamma, beta (trainable); moving mean and variance (state).
  template <class In>
  static constexpr std::size_t param_count = 2 * channels<In>;
  template <class In>
  static constexpr std::size_t state_count = 2 * channels<In>;
  // The batch mean and 1/sqrt(var + eps) per channel, for backward.
  template <class In>
  static constexpr std::size_t scratch_size = 2 * channels<In>;

  template <class In>
  static std::vector<WeightInfo> weights() {
    const std::size_t c = channels<In>;
    return {{"gamma", {c}},
            {"beta", {c}},
            {"moving_mean", {c}, false},
            {"moving_variance", {c}, false}};
  }
  template <class In>
  static void initialize(float* params, Rng&) {
    for (std::size_t i = 0; i < channels<In>; ++i) {
      params[i] = 1.0f;                 // gamma
      params[channels<In> + i] = 0.0f;  // beta
    }
  }
  template <class In>
  static void initialize_state(float* state) {
    for (std::size_t i = 0; i < channels<In>; ++i) {
      state[i] = 0.0f;                 // moving mean
      state[channels<In> + i] = 1.0f;  // moving variance
    }
  }

  // y = act(BN(x)); training uses and records batch statistics.
  template <class In, kernels::Activation A = kernels::Activation::kIdentity,
            float Alpha = 0.0f>
  static void normalize(const ForwardContext& c, const float* x, float* y) {
    constexpr std::size_t C = channels<In>;
    const std::size_t rows = c.batch * (In::size / C);
    const float* gamma = c.params;
    const float* beta = c.params + C;
    if (c.training) {
      kernels::BatchNormForwardTraining(x, rows, C, gamma, beta, epsilon,
                                        momentum, c.state, c.state + C,
                                        c.scratch, c.scratch + C, y, A, Alpha);
    } else {
      float scale[C], shift[C];
      inference_scale_shift<In>(c.params, c.state, scale, shift);
      kernels::ScaleShift(x, rows, C, scale, shift, y, A, Alpha);
    }
  }
  // scale = gamma / sqrt(var + eps), shift = beta − mean · scale.
  template <class In>
  static void inference_scale_shift(const float* params, const float* state,
                                    float* scale, float* shift) {
    constexpr std::size_t C = channels<In>;
    for (std::size_t i = 0; i < C; ++i) {
      scale[i] = params[i] / std::sqrt(state[C + i] + epsilon);
      shift[i] = params[C + i] - state[i] * scale[i];
    }
  }
  template <class In, kernels::Activation A = kernels::Activation::kIdentity,
            float Alpha = 0.0f>
  static void backward_through(const BackwardContext& c, const float* x,
                               const float* y, float* dy, float* dx) {
    constexpr std::size_t C = channels<In>;
    const std::size_t rows = c.batch * (In::size / C);
    kernels::BatchNormBackward(x, y, dy, rows, C, c.params, c.scratch,
                               c.scratch + C, A, dx, c.dparams, c.dparams + C,
                               Alpha);
  }

  template <class In, class Out>
  static void forward(const ForwardContext& c) {
    normalize<In>(c, c.in, c.out);
  }
  template <class In, class Out>
  static void backward(const BackwardContext& c) {
    // dx is needed for gamma/beta's sake even when din is not wanted.
    backward_through<In>(c, c.in, c.out, c.dout,
                         c.din != nullptr ? c.din : c.dout);
  }
};

}  // namespace sequent
