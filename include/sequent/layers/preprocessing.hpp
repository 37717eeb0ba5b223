// Pixel and feature normalisation inside the model, as Keras' preprocessing
// layers: Rescaling (a fixed affine map) and Normalization (per-channel
// statistics learned from the data by Model::adapt). Batches reach the first
// layer scaled to [0, 1]; these map them further, in both training and
// inference. Normalization's statistics are saved with the weights, and
// both layers' constants are part of the model file's fingerprint.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "sequent/kernels/batchnorm.hpp"
#include "sequent/layers/layer.hpp"

namespace sequent {

namespace detail {
// Per-channel coefficients of one call: on the stack for the channel counts
// of images and small feature vectors, on the heap for wide inputs.
template <std::size_t C>
auto channel_array() {
  if constexpr (C <= 4096) {
    return std::array<float, C>{};
  } else {
    return std::vector<float>(C);
  }
}
}  // namespace detail

// Rescaling<scale, offset = 0> (Keras' layers.Rescaling): y = x·scale +
// offset, every value. Rescaling<2, -1> maps [0, 1] to [−1, 1], what the
// CIFAR-10 tutorial's Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)) does.
template <double Scale, double Offset = 0.0>
struct Rescaling : LayerDefaults {
  static_assert(Scale != 0.0,
                "Rescaling<scale> with scale 0 maps every input to the "
                "offset: nothing would reach the rest of the model");
  static constexpr std::string_view tag = "Rescaling";
  static constexpr float scale = static_cast<float>(Scale);
  static constexpr float offset = static_cast<float>(Offset);
  static constexpr std::array<double, 2> fingerprint_constants = {Scale,
                                                                  Offset};
  static constexpr bool backward_in_place = true;

  static std::string name() {
    char buf[64];
    std::snprintf(buf, sizeof buf, "Rescaling<%g, %g>", Scale, Offset);
    return buf;
  }
  static std::string kernel() { return "element-wise x*scale + offset"; }
  template <class In>
  struct output {
    using type = In;
  };
  // One "channel" over all values: the kernel packs lines of them.
  template <class In, class Out>
  static void forward(const ForwardContext& c) {
    kernels::ScaleShift(c.in, c.batch * In::size, 1, &scale, &offset, c.out,
                        kernels::Activation::kIdentity);
  }
  template <class In, class Out>
  static void backward(const BackwardContext& c) {
    if (c.din == nullptr) return;  // the first layer: nobody needs it
    constexpr float zero = 0.0f;
    kernels::ScaleShift(c.dout, c.batch * In::size, 1, &scale, &zero, c.din,
                        kernels::Activation::kIdentity);
  }
};

// Normalization<epsilon = 1e-7> (Keras' layers.Normalization, axis −1):
// y = (x − mean_c) / max(√var_c, ε) for each channel c of the last
// dimension (colour channels of an image, features of a vector; for a
// two-dimensional Input<H, W> that is each of the W columns, as Keras'
// axis −1 has it). mean and
// variance are non-trainable state, saved with the weights: Model::adapt
// sets them from a dataset, set_weights from anywhere. Before either they
// are 0 and 1, the identity.
template <double Epsilon = 1e-7>
struct Normalization : LayerDefaults {
  static_assert(Epsilon > 0.0, "Normalization<epsilon> needs epsilon > 0");
  static constexpr std::string_view tag = "Normalization";
  static constexpr bool backward_in_place = true;
  static constexpr bool adapts_to_data = true;  // see adapts_to_data_v
  static constexpr std::array<double, 1> fingerprint_constants = {Epsilon};

  static std::string name() {
    if (Epsilon == 1e-7) return "Normalization";
    char buf[48];
    std::snprintf(buf, sizeof buf, "Normalization<%g>", Epsilon);
    return buf;
  }
  static std::string kernel() { return "per-channel (x - mean) / std"; }
  template <class In>
  static constexpr std::size_t channels = In::dims[In::rank - 1];
  template <class In>
  struct output {
    using type = In;
  };
  template <class In>
  static constexpr std::size_t state_count = 2 * channels<In>;
  template <class In>
  static std::vector<WeightInfo> weights() {
    return {{"mean", {channels<In>}, false},
            {"variance", {channels<In>}, false}};
  }
  template <class In>
  static void initialize_state(float* state) {
    for (std::size_t i = 0; i < channels<In>; ++i) {
      state[i] = 0.0f;                 // mean
      state[channels<In> + i] = 1.0f;  // variance
    }
  }
  // The divisor Keras uses: max(√var, ε), so a constant channel (variance
  // 0) is centred, not blown up.
  static float inverse_std(float variance) {
    const float std_dev = std::sqrt(std::max(variance, 0.0f));
    return 1.0f / std::max(std_dev, static_cast<float>(Epsilon));
  }

  // Two passes, x − mean and then · 1/σ, rather than one x·(1/σ) − mean/σ:
  // the subtraction is exact for values near the mean, so a constant
  // channel comes out as 0 instead of the rounding error of mean/ε.
  template <class In, class Out>
  static void forward(const ForwardContext& c) {
    constexpr std::size_t C = channels<In>;
    const std::size_t rows = c.batch * (In::size / C);
    auto ones = detail::channel_array<C>();
    auto minus_mean = detail::channel_array<C>();
    auto scale = detail::channel_array<C>();
    const auto zero = detail::channel_array<C>();
    for (std::size_t i = 0; i < C; ++i) {
      ones[i] = 1.0f;
      minus_mean[i] = -c.state[i];
      scale[i] = inverse_std(c.state[C + i]);
    }
    kernels::ScaleShift(c.in, rows, C, ones.data(), minus_mean.data(), c.out,
                        kernels::Activation::kIdentity);
    kernels::ScaleShift(c.out, rows, C, scale.data(), zero.data(), c.out,
                        kernels::Activation::kIdentity);
  }
  template <class In, class Out>
  static void backward(const BackwardContext& c) {
    if (c.din == nullptr) return;  // the first layer: nobody needs it
    constexpr std::size_t C = channels<In>;
    auto scale = detail::channel_array<C>();
    const auto zero = detail::channel_array<C>();
    for (std::size_t i = 0; i < C; ++i) scale[i] = inverse_std(c.state[C + i]);
    kernels::ScaleShift(c.dout, c.batch * (In::size / C), C, scale.data(),
                        zero.data(), c.din, kernels::Activation::kIdentity);
  }
};

}  // namespace sequent
