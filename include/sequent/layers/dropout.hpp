// Dropout<rate>: inverted dropout (Srivastava et al. 2014). In training each
// value is zeroed with probability `rate` and the survivors are scaled by
// 1/(1 − rate), so inference needs no rescaling and drops the layer entirely.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "sequent/kernels/activation.hpp"
#include "sequent/layers/layer.hpp"

namespace sequent {

template <double Rate>
struct Dropout : LayerDefaults {
  static_assert(Rate >= 0.0 && Rate < 1.0, "Dropout<rate> needs 0 <= rate < 1");
  static constexpr std::string_view tag = "Dropout";
  static constexpr float rate = static_cast<float>(Rate);
  static constexpr bool backward_in_place = true;
  static constexpr bool training_only = true;
  static std::string kernel() { return "mask kernel (training only)"; }

  static std::string name() {
    char buf[40];
    std::snprintf(buf, sizeof buf, "Dropout<%g>", Rate);
    return buf;
  }
  template <class In>
  struct output {
    using type = In;
  };
  // The mask (0 or 1/(1 − rate) per value) is kept for backward.
  template <class In>
  static constexpr std::size_t aux_size = In::size;

  template <class In, class Out>
  static void forward(const ForwardContext& c) {
    const std::size_t n = c.batch * In::size;
    kernels::DropoutMask(c.seed, c.first_sample * In::size, rate, c.aux, n);
    kernels::Multiply(c.in, c.aux, c.out, n);
  }
  template <class In, class Out>
  static void backward(const BackwardContext& c) {
    if (c.din == nullptr) return;
    kernels::Multiply(c.dout, c.aux, c.din, c.batch * In::size);
  }
};

}  // namespace sequent
