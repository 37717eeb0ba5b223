// Kernel regularisers, as Keras' kernel_regularizer on one layer:
//
//   sq::L2<1e-4, sq::Dense<128>>, sq::ReLU    // kernel_regularizer=L2(1e-4)
//   sq::L1<1e-5, sq::Dense<64>>               // L1(1e-5)
//   sq::L1L2<1e-5, 1e-4, sq::Conv2D<32, 3>>   // L1L2(l1=1e-5, l2=1e-4)
//
// The training loss gains l1·Σ |w| + l2·Σ w² over the layer's kernel — not
// its bias, and nothing of BatchNorm — and the kernel's gradient gains
// l1·sign(w) + 2·l2·w (sign(0) = 0, as TensorFlow). L1 pushes weights to
// zero at a constant rate, whatever their size, and so makes a kernel
// sparse; L2 shrinks each in proportion. A wrapper changes neither what
// the layer computes nor its parameters: it runs, fuses (Dense+ReLU,
// Conv2D+BatchNorm+ReLU …) and saves exactly as the bare layer, so weights
// move freely between regularised and plain models. Model collects every
// wrapper into one compile-time table of (offset, count, l1, l2)
// (sequent/regularization.hpp) and applies it in one pass after backward.
//
// A layer offers a kernel by declaring
//   static constexpr bool has_kernel = true;
//   template <class In> static constexpr std::size_t kernel_count = …;
// (the kernel being the first kernel_count<In> of its parameters).
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

#include "sequent/format.hpp"
#include "sequent/layers/layer.hpp"

namespace sequent {

template <class L>
concept HasKernel = requires {
  requires L::has_kernel;
};

// True for L1<…>, L2<…> and L1L2<…>: what derives from PenalizedKernel.
template <class L>
concept KernelRegularizer = requires {
  requires L::penalizes_kernel;
};

namespace detail {
// What a regulariser that fails its checks derives from instead of the
// layer, so that one mistake gives one error rather than a cascade.
struct NotRegularizable : LayerDefaults {
  static constexpr std::string_view tag = "invalid";
  static std::string name() { return "(invalid kernel regulariser)"; }
  template <class In>
  struct output {
    using type = In;
  };
};

// The three wrappers' common part: the layer itself (or NotRegularizable),
// the checks and the two factors.
template <double L1Factor, double L2Factor, class L>
struct PenalizedKernel
    : std::conditional_t<HasKernel<L> && !KernelRegularizer<L>, L,
                         NotRegularizable> {
  static_assert(L1Factor >= 0.0 && L2Factor >= 0.0,
                "a kernel regulariser (L1, L2, L1L2) needs factors >= 0: a "
                "negative penalty rewards large weights");
  static_assert(!KernelRegularizer<L>,
                "a layer takes one kernel regulariser: write L1L2<l1, l2, "
                "Layer>, or L2<a + b, Layer> rather than L2<a, L2<b, Layer>>");
  static_assert(HasKernel<L> || KernelRegularizer<L>,
                "a kernel regulariser (L1, L2, L1L2) acts on a layer's "
                "kernel, and this layer has none: use it on Dense or Conv2D "
                "(biases, BatchNorm's gamma and beta and activations are "
                "never regularised)");
  static constexpr bool penalizes_kernel = true;
  using regularized = L;
  static constexpr float l1 = static_cast<float>(L1Factor);
  static constexpr float l2 = static_cast<float>(L2Factor);

  static std::string inner_name() {
    if constexpr (requires { L::name(); }) {
      return L::name();
    } else {
      return "?";
    }
  }
};
}  // namespace detail

// Keras' L1(λ): λ·Σ |w| over the kernel.
template <double Lambda, class L>
struct L1 : detail::PenalizedKernel<Lambda, 0.0, L> {
  // As the user wrote it: "L1<1e-05, Dense<64>>".
  static std::string name() {
    return "L1<" + detail::format_number(Lambda) + ", " + L1::inner_name() +
           ">";
  }
};

// Keras' L2(λ): λ·Σ w² over the kernel.
template <double Lambda, class L>
struct L2 : detail::PenalizedKernel<0.0, Lambda, L> {
  // "L2<0.0001, Dense<128>>".
  static std::string name() {
    return "L2<" + detail::format_number(Lambda) + ", " + L2::inner_name() +
           ">";
  }
};

// Keras' L1L2(l1, l2): both terms.
template <double L1Factor, double L2Factor, class L>
struct L1L2 : detail::PenalizedKernel<L1Factor, L2Factor, L> {
  // "L1L2<1e-05, 0.0001, Conv2D<32, 3x3, valid>>".
  static std::string name() {
    return "L1L2<" + detail::format_number(L1Factor) + ", " +
           detail::format_number(L2Factor) + ", " + L1L2::inner_name() + ">";
  }
};

// The layer a (possibly regularised) layer runs as.
template <class L>
struct unwrap_regularizer {
  using type = L;
};
template <KernelRegularizer L>
struct unwrap_regularizer<L> {
  using type = typename L::regularized;
};
template <class L>
using unwrap_regularizer_t = typename unwrap_regularizer<L>::type;

}  // namespace sequent
