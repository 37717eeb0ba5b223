// Conv2D<filters, kernel, padding = Valid, stride = 1>: a 2-D convolution over
// (H, W, C) images, NHWC. Kernel (kh, kw, C, filters) as in Keras, bias
// (filters). Glorot-uniform weights, zero bias.
#pragma once

#include <array>
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "sequent/kernels/activation.hpp"
#include "sequent/kernels/conv.hpp"
#include "sequent/layers/geometry.hpp"
#include "sequent/layers/layer.hpp"

namespace sequent {

template <int Filters, Window Kernel, Padding P = Padding::kValid,
          Window Stride = 1, bool UseBias = true>
struct Conv2D : LayerDefaults {
  static_assert(Filters > 0,
                "Conv2D<filters, ...> needs filters > 0 (a zero-sized layer)");
  static_assert(Kernel.h > 0 && Kernel.w > 0,
                "Conv2D's kernel must be at least 1x1");
  static_assert(Stride.h > 0 && Stride.w > 0,
                "Conv2D's stride must be > 0 (a stride of 0)");
  static constexpr std::string_view tag = "Conv2D";
  static constexpr int filters = Filters;
  static constexpr Window kernel_size = Kernel;
  static constexpr Window stride = Stride;
  static constexpr Padding padding = P;
  static constexpr bool use_bias = UseBias;
  // The fingerprint's record of the geometry: a Same and a Valid layer (or
  // two strides) can have the same output shape yet read other pixels.
  static constexpr std::array<double, 5> fingerprint_constants = {
      double(Kernel.h), double(Kernel.w), double(Stride.h), double(Stride.w),
      double(P == Padding::kSame)};

  static std::string name() {
    std::string s = "Conv2D<" + std::to_string(Filters) + ", " +
                    Kernel.to_string() + ", " + sequent::to_string(P);
    if (Stride.h != 1 || Stride.w != 1) s += ", /" + Stride.to_string();
    return s + ">";
  }
  static std::string kernel() { return "convolution, bias epilogue"; }

  template <class In>
  using geometry = detail::WindowGeometry<In, Kernel, Stride, P>;

  template <class In>
  struct output {
    static_assert(In::rank == 3,
                  "Conv2D needs an (H, W, C) input: use Input<H, W, C>, not "
                  "a flattened vector");
    static_assert(In::rank != 3 || P != Padding::kValid || geometry<In>::fits,
                  "Valid padding leaves no output: the kernel is larger than "
                  "the input; use Same padding, a smaller kernel or less "
                  "pooling before this layer");
    static_assert(In::rank != 3 || P != Padding::kSame || geometry<In>::fits,
                  "Conv2D's kernel is larger than its input: use a smaller "
                  "kernel or less pooling before this layer");
    using type =
        Shape<(geometry<In>::y.out > 0 ? geometry<In>::y.out : 1),
              (geometry<In>::x.out > 0 ? geometry<In>::x.out : 1), Filters>;
  };

  template <class In>
  static constexpr std::size_t weight_count =
      std::size_t{Kernel.h} * Kernel.w* detail::Spatial<In>::c* Filters;
  template <class In>
  static constexpr std::size_t param_count = weight_count<In> +
                                             (UseBias ? Filters : 0);
  // What L2<λ, Conv2D<…>> regularises: the kernel, first in the parameters.
  static constexpr bool has_kernel = true;
  template <class In>
  static constexpr std::size_t kernel_count = weight_count<In>;

  template <class In>
  static std::vector<WeightInfo> weights() {
    std::vector<WeightInfo> w{
        {"kernel",
         {std::size_t(Kernel.h), std::size_t(Kernel.w),
          std::size_t(detail::Spatial<In>::c), std::size_t(Filters)}}};
    if (UseBias) w.push_back({"bias", {std::size_t{Filters}}});
    return w;
  }
  template <class In>
  static void initialize(float* params, Rng& rng) {
    // Glorot uniform with Keras' receptive-field fans.
    const float field = float(Kernel.h * Kernel.w);
    const float limit =
        std::sqrt(6.0f / (field * detail::Spatial<In>::c + field * Filters));
    for (std::size_t i = 0; i < weight_count<In>; ++i) {
      params[i] = rng.uniform(-limit, limit);
    }
    for (std::size_t i = 0; i < (UseBias ? Filters : 0); ++i) {
      params[weight_count<In> + i] = 0.0f;
    }
  }

  template <class In>
  static kernels::ConvShape conv_shape(std::size_t batch) {
    using g = geometry<In>;
    using in = detail::Spatial<In>;
    return {batch,
            std::size_t(in::h),
            std::size_t(in::w),
            std::size_t(in::c),
            std::size_t(g::y.out),
            std::size_t(g::x.out),
            std::size_t(Filters),
            std::size_t(Kernel.h),
            std::size_t(Kernel.w),
            std::size_t(Stride.h),
            std::size_t(Stride.w),
            std::size_t(g::y.pad_before),
            std::size_t(g::x.pad_before)};
  }

  // Floats of the kernel in the Winograd domain, which an inference step
  // prepares once (0 if this layer never runs as Winograd).
  template <class In>
  static constexpr std::size_t winograd_weight_floats =
      kernels::WinogradWeightFloats(Kernel.h, Kernel.w, Stride.h, Stride.w,
                                    detail::Spatial<In>::c, Filters);
  // The Winograd-domain kernel of `weights` into `u`, if this layer has one.
  template <class In>
  static void prepare_winograd(const float* weights, float* u) {
    if constexpr (winograd_weight_floats < In >> 0) {
      kernels::ConvWinogradWeights(conv_shape<In>(1), weights, u);
    }
  }

  // out = act(conv(in, kernel) + bias), the bias and activation applied in
  // the convolution's epilogue; `winograd` is the kernel as
  // prepare_winograd made it, or null.
  template <class In, kernels::Activation A = kernels::Activation::kIdentity,
            float Alpha = 0.0f>
  static void forward_with(const ForwardContext& c, const float* weights,
                           const float* bias, float* out,
                           const float* winograd = nullptr) {
    kernels::ConvForward(conv_shape<In>(c.batch), c.in, weights, out,
                         {bias, A, Alpha}, winograd);
  }
  // out = the 2×2 max-pool (stride 2) of forward_with's result: inference's
  // Conv2D…+MaxPool2D<2> in one kernel. `unpooled` (conv output size) is
  // written only by layers that do not run as Winograd.
  template <class In, kernels::Activation A = kernels::Activation::kIdentity,
            float Alpha = 0.0f>
  static void forward_pooled_with(const ForwardContext& c, const float* weights,
                                  const float* bias, float* unpooled,
                                  float* out, const float* winograd = nullptr) {
    kernels::ConvForwardMaxPool(conv_shape<In>(c.batch), c.in, weights,
                                unpooled, out, {bias, A, Alpha}, winograd);
  }
  // From dz = d(loss)/d(conv output): kernel and bias gradients, and din.
  template <class In>
  static void backward_from(const BackwardContext& c, const float* dz) {
    const auto s = conv_shape<In>(c.batch);
    kernels::ConvBackwardWeights(
        s, c.in, dz, c.dparams,
        UseBias ? c.dparams + weight_count<In> : nullptr);
    if (c.din != nullptr) kernels::ConvBackwardData(s, dz, c.params, c.din);
  }

  template <class In, class Out>
  static void forward(const ForwardContext& c) {
    forward_with<In>(c, c.params,
                     UseBias ? c.params + weight_count<In> : nullptr, c.out);
  }
  template <class In, class Out>
  static void backward(const BackwardContext& c) {
    backward_from<In>(c, c.dout);
  }
};

}  // namespace sequent
