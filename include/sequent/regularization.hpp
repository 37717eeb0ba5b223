// The model-wide penalty table: every L1<…>, L2<…> and L1L2<…> of a
// Sequential as one compile-time array of (offset in the parameter buffer,
// kernel size, l1, l2), so that regularising a training step is one kernel
// call over it:
//
//   grads += l1·sign(w) + 2·l2·w over each kernel,
//   penalty = Σ (l1·Σ |w| + l2·Σ w²)   (added to the loss)
//
// A model without regularisers gets an empty table and the call compiles
// to nothing.
#pragma once

#include <array>
#include <boost/hana/for_each.hpp>
#include <cstddef>

#include "sequent/kernels/optimizer.hpp"
#include "sequent/layers/regularizer.hpp"
#include "sequent/type_list.hpp"

namespace sequent {

namespace detail {
// A layer contributes when it is a regulariser that passed its checks with
// a factor > 0 (factors of 0 are allowed, as in Keras, and cost nothing).
template <class Info>
constexpr bool contributes_penalty() {
  using L = typename Info::layer;
  if constexpr (KernelRegularizer<L>) {
    using Inner = typename L::regularized;
    return HasKernel<Inner> && !KernelRegularizer<Inner> &&
           (L::l1 > 0.0f || L::l2 > 0.0f);
  } else {
    return false;
  }
}
}  // namespace detail

template <class Net>
struct PenaltyTable {
  static constexpr std::size_t size = [] {
    std::size_t n = 0;
    hana::for_each(Net::layers::hana_tuple, [&](auto t) {
      n += detail::contributes_penalty<typename decltype(t)::type>() ? 1 : 0;
    });
    return n;
  }();

  static constexpr std::array<kernels::PenaltyRange, size> ranges = [] {
    std::array<kernels::PenaltyRange, size> a{};
    std::size_t i = 0;
    hana::for_each(Net::layers::hana_tuple, [&](auto t) {
      using Info = typename decltype(t)::type;
      if constexpr (detail::contributes_penalty<Info>()) {
        using L = typename Info::layer;
        a[i++] = {Info::param_offset,
                  L::regularized::template kernel_count<typename Info::input>,
                  L::l1, L::l2};
      }
    });
    return a;
  }();

  // Weights under a penalty (for summary()), and how many of the kernels
  // carry each term.
  static constexpr std::size_t weights = [] {
    std::size_t n = 0;
    for (const kernels::PenaltyRange& r : ranges) n += r.count;
    return n;
  }();
  static constexpr std::size_t l1_kernels = [] {
    std::size_t n = 0;
    for (const kernels::PenaltyRange& r : ranges) n += r.l1 > 0.0f ? 1 : 0;
    return n;
  }();
  static constexpr std::size_t l2_kernels = [] {
    std::size_t n = 0;
    for (const kernels::PenaltyRange& r : ranges) n += r.l2 > 0.0f ? 1 : 0;
    return n;
  }();
};

// Adds l1·sign(w) + 2·l2·w to the kernels' gradients (unless grads is
// null) and returns the penalty of the current weights.
template <class Net>
double apply_penalties(const float* params, float* grads) {
  if constexpr (PenaltyTable<Net>::size == 0) {
    return 0.0;
  } else {
    return kernels::KernelPenalty(params, grads,
                                  PenaltyTable<Net>::ranges.data(),
                                  PenaltyTable<Net>::size);
  }
}

}  // namespace sequent
