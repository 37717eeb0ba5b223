// Input, Flatten and Dense.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sequent/kernels/activation.hpp"
#include "sequent/kernels/gemm.hpp"
#include "sequent/layers/layer.hpp"

namespace sequent {

// The first element of every Sequential: the shape of one sample,
// Input<H, W, C> for images (channels last) or Input<N> for vectors.
template <int... Dims>
struct Input {
  static_assert(sizeof...(Dims) >= 1 && sizeof...(Dims) <= 3,
                "Input takes 1 to 3 sizes: Input<N> or Input<H, W, C>");
  static_assert(((Dims > 0) && ...),
                "every size of Input must be > 0 (a zero-sized layer)");
  using shape = Shape<Dims...>;
  static std::string name() { return "Input"; }
};

template <class T>
inline constexpr bool is_input_v = false;
template <int... Dims>
inline constexpr bool is_input_v<Input<Dims...>> = true;

// Flatten: (H, W, C) → (H·W·C). Row-major data is already flat, so the
// output is a view of the input: no buffer, no copy, no kernel.
struct Flatten : LayerDefaults {
  static constexpr std::string_view tag = "Flatten";
  static constexpr bool aliases_input = true;
  static std::string name() { return "Flatten"; }
  template <class In>
  struct output {
    using type = Shape<static_cast<int>(In::size)>;
  };
  template <class In, class Out>
  static void forward(const ForwardContext&) {}
  template <class In, class Out>
  static void backward(const BackwardContext&) {}
};

// Dense<units>: out = in · kernel + bias, kernel (in, units) row-major as in
// Keras, bias (units). Weights: Glorot-uniform, bias zero.
// Runs as one GEMM whose epilogue adds the bias and, when fusion merged a
// following activation into it, applies that activation in registers.
template <int Units, bool UseBias = true>
struct Dense : LayerDefaults {
  static_assert(Units > 0, "Dense<units> needs units > 0 (a zero-sized layer)");
  static constexpr std::string_view tag = "Dense";
  static constexpr int units = Units;
  static constexpr bool use_bias = UseBias;

  static std::string name() {
    return "Dense<" + std::to_string(Units) + (UseBias ? "" : ", no bias") +
           ">";
  }
  template <class In>
  struct output {
    static_assert(In::rank == 1,
                  "Dense needs a rank-1 input: put Flatten before it");
    using type = Shape<Units>;
  };
  template <class In>
  static constexpr std::size_t param_count = In::size* Units +
                                             (UseBias ? Units : 0);
  // What L2<λ, Dense<…>> regularises: the kernel, first in the parameters.
  static constexpr bool has_kernel = true;
  template <class In>
  static constexpr std::size_t kernel_count = In::size* Units;
  static std::string kernel() {
    return UseBias ? "GEMM, bias epilogue" : "GEMM";
  }

  template <class In>
  static std::vector<WeightInfo> weights() {
    std::vector<WeightInfo> w{{"kernel", {In::size, std::size_t{Units}}}};
    if (UseBias) w.push_back({"bias", {std::size_t{Units}}});
    return w;
  }
  template <class In>
  static void initialize(float* params, Rng& rng) {
    // Glorot & Bengio (2010): keeps activation variance stable across layers.
    const float limit = std::sqrt(6.0f / static_cast<float>(In::size + Units));
    for (std::size_t i = 0; i < In::size * Units; ++i) {
      params[i] = rng.uniform(-limit, limit);
    }
    if (UseBias) {
      for (std::size_t i = 0; i < Units; ++i) params[In::size * Units + i] = 0;
    }
  }

  // in (batch × In::size) · kernel (In::size × Units) → out (batch × Units),
  // then bias and activation A in the GEMM's epilogue.
  template <class In, kernels::Activation A = kernels::Activation::kIdentity,
            float Alpha = 0.0f>
  static void forward_with(const ForwardContext& c) {
    constexpr std::size_t K = In::size;
    const kernels::Epilogue epilogue{UseBias ? c.params + K * Units : nullptr,
                                     A, Alpha};
    kernels::Gemm(kernels::Transpose::kNo, kernels::Transpose::kNo, c.batch,
                  Units, K, c.in, K, c.params, Units, c.out, Units,
                  /*accumulate=*/false, epilogue);
  }

  // dZ = dout ⊙ A'(out) (in place), then
  //   d kernel = inᵀ · dZ   (K × Units),   d bias = Σ_rows dZ,
  //   din      = dZ · kernelᵀ (batch × K), only when someone needs it.
  template <class In, kernels::Activation A = kernels::Activation::kIdentity,
            float Alpha = 0.0f>
  static void backward_with(const BackwardContext& c) {
    constexpr std::size_t K = In::size;
    using kernels::Transpose;
    if constexpr (A != kernels::Activation::kIdentity) {
      kernels::ActivationBackward(A, Alpha, c.out, c.dout, c.dout,
                                  c.batch * Units);
    }
    kernels::Gemm(Transpose::kYes, Transpose::kNo, K, Units, c.batch, c.in, K,
                  c.dout, Units, c.dparams, Units, /*accumulate=*/false);
    if constexpr (UseBias) {
      kernels::ColumnSums(c.dout, c.batch, Units, Units, c.dparams + K * Units,
                          /*accumulate=*/false);
    }
    if (c.din != nullptr) {
      kernels::Gemm(Transpose::kNo, Transpose::kYes, c.batch, K, Units, c.dout,
                    Units, c.params, Units, c.din, K, /*accumulate=*/false);
    }
  }

  template <class In, class Out>
  static void forward(const ForwardContext& c) {
    forward_with<In>(c);
  }
  template <class In, class Out>
  static void backward(const BackwardContext& c) {
    backward_with<In>(c);
  }
};

}  // namespace sequent
