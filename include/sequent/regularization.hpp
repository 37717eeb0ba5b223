// The model-wide L2 table: every L2<λ, Layer> of a Sequential as one
// compile-time array of (offset in the parameter buffer, kernel size, λ),
// so that regularising a training step is one kernel call over it:
//
//   grads += 2λ·w over each kernel,  penalty = Σ λ·Σ w²  (added to the loss)
//
// A model without L2 gets an empty table and the call compiles to nothing.
#pragma once

#include <array>
#include <boost/hana/for_each.hpp>
#include <cstddef>

#include "sequent/kernels/optimizer.hpp"
#include "sequent/layers/regularizer.hpp"
#include "sequent/type_list.hpp"

namespace sequent {

namespace detail {
// A layer contributes when it is an L2 that passed its checks with λ > 0
// (λ = 0 is allowed, as in Keras, and costs nothing).
template <class Info>
constexpr bool contributes_l2() {
  using L = typename Info::layer;
  if constexpr (is_l2_v<L>) {
    using Inner = typename L::regularized;
    return HasKernel<Inner> && !is_l2_v<Inner> && L::lambda > 0.0f;
  } else {
    return false;
  }
}
}  // namespace detail

template <class Net>
struct L2Table {
  static constexpr std::size_t size = [] {
    std::size_t n = 0;
    hana::for_each(Net::layers::hana_tuple, [&](auto t) {
      n += detail::contributes_l2<typename decltype(t)::type>() ? 1 : 0;
    });
    return n;
  }();

  static constexpr std::array<kernels::L2Range, size> ranges = [] {
    std::array<kernels::L2Range, size> a{};
    std::size_t i = 0;
    hana::for_each(Net::layers::hana_tuple, [&](auto t) {
      using Info = typename decltype(t)::type;
      if constexpr (detail::contributes_l2<Info>()) {
        using L = typename Info::layer;
        a[i++] = {Info::param_offset,
                  L::regularized::template kernel_count<typename Info::input>,
                  L::lambda};
      }
    });
    return a;
  }();

  // Weights under a penalty (for summary()).
  static constexpr std::size_t weights = [] {
    std::size_t n = 0;
    for (const kernels::L2Range& r : ranges) n += r.count;
    return n;
  }();
};

// Adds 2λ·w to the kernels' gradients (unless grads is null) and returns
// the penalty Σ λ·Σ w² of the current weights.
template <class Net>
double apply_l2(const float* params, float* grads) {
  if constexpr (L2Table<Net>::size == 0) {
    return 0.0;
  } else {
    return kernels::L2Regularize(params, grads, L2Table<Net>::ranges.data(),
                                 L2Table<Net>::size);
  }
}

}  // namespace sequent
