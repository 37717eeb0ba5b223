// L2<λ, Layer>: Keras' kernel_regularizer=l2(λ) on one layer.
//
//   sq::L2<1e-4, sq::Dense<128>>, sq::ReLU  // kernel_regularizer=l2(1e-4)
//   sq::L2<5e-4, sq::Conv2D<32, 3, sq::Same>>, sq::BatchNorm<>, sq::ReLU
//
// The training loss gains λ·Σ w² over the layer's kernel — not its bias, and
// nothing of BatchNorm — and the kernel's gradient gains 2λ·w. The wrapper
// changes neither what the layer computes nor its parameters: it runs, fuses
// (Dense+ReLU, Conv2D+BatchNorm+ReLU …) and saves exactly as the bare layer,
// so weights move freely between regularised and plain models. Model
// collects every wrapper into one compile-time table of (offset, count, λ)
// (sequent/regularization.hpp) and applies it in one pass after backward.
//
// A layer offers a kernel by declaring
//   static constexpr bool has_kernel = true;
//   template <class In> static constexpr std::size_t kernel_count = …;
// (the kernel being the first kernel_count<In> of its parameters).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>

#include "sequent/layers/layer.hpp"

namespace sequent {

template <class L>
concept HasKernel = requires {
  requires L::has_kernel;
};

template <double Lambda, class L>
struct L2;

template <class L>
inline constexpr bool is_l2_v = false;
template <double Lambda, class L>
inline constexpr bool is_l2_v<L2<Lambda, L>> = true;

namespace detail {
// What an L2 that fails its checks derives from instead of the layer, so
// that one mistake gives one error rather than a cascade.
struct NotRegularizable : LayerDefaults {
  static constexpr std::string_view tag = "invalid";
  static std::string name() { return "(invalid L2)"; }
  template <class In>
  struct output {
    using type = In;
  };
};
}  // namespace detail

template <double Lambda, class L>
struct L2 : std::conditional_t<HasKernel<L> && !is_l2_v<L>, L,
                               detail::NotRegularizable> {
  static_assert(Lambda >= 0.0,
                "L2<lambda, Layer> needs lambda >= 0: a negative penalty "
                "rewards large weights");
  static_assert(!is_l2_v<L>,
                "a layer takes one L2: write L2<a + b, Layer>, not "
                "L2<a, L2<b, Layer>>");
  static_assert(HasKernel<L> || is_l2_v<L>,
                "L2<lambda, Layer> regularises a layer's kernel, and this "
                "layer has none: use it on Dense or Conv2D (biases, "
                "BatchNorm's gamma and beta and activations are never "
                "regularised)");
  using regularized = L;
  static constexpr float lambda = static_cast<float>(Lambda);

  // As the user wrote it: "L2<0.0001, Dense<128>>".
  static std::string name() {
    char buf[32];
    std::snprintf(buf, sizeof buf, "L2<%g, ", Lambda);
    if constexpr (requires { L::name(); }) {
      return buf + L::name() + ">";
    } else {
      return buf + std::string("?>");
    }
  }
};

// The layer a (possibly regularised) layer runs as.
template <class L>
struct unwrap_regularizer {
  using type = L;
};
template <double Lambda, class L>
struct unwrap_regularizer<L2<Lambda, L>> {
  using type = L;
};
template <class L>
using unwrap_regularizer_t = typename unwrap_regularizer<L>::type;

}  // namespace sequent
