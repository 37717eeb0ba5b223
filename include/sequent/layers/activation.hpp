// Element-wise activations and Softmax.
#pragma once

#include <array>
#include <cstdio>
#include <string>
#include <string_view>

#include "sequent/kernels/activation.hpp"
#include "sequent/layers/layer.hpp"

namespace sequent {

// Common body of the element-wise activations: same shape out as in, no
// parameters, backward from the output alone (so it can run in place and a
// preceding Dense can absorb it into its GEMM epilogue).
template <kernels::Activation A, float Alpha = 0.0f>
struct ElementwiseActivation : LayerDefaults {
  static constexpr kernels::Activation kind = A;
  static constexpr float alpha = Alpha;
  // What the model file's fingerprint records besides the kind (see
  // Sequential::fingerprint): the slope changes every output.
  static constexpr std::array<double, 1> fingerprint_constants = {Alpha};
  static constexpr bool backward_in_place = true;
  template <class In>
  struct output {
    using type = In;
  };
  template <class In, class Out>
  static void forward(const ForwardContext& c) {
    kernels::ActivationForward(A, Alpha, c.in, c.out, c.batch * In::size);
  }
  template <class In, class Out>
  static void backward(const BackwardContext& c) {
    if (c.din == nullptr) return;
    kernels::ActivationBackward(A, Alpha, c.out, c.dout, c.din,
                                c.batch * In::size);
  }
};

template <class T>
concept ActivationLayer = requires {
  { T::kind } -> std::convertible_to<kernels::Activation>;
  { T::alpha } -> std::convertible_to<float>;
};

struct ReLU : ElementwiseActivation<kernels::Activation::kReLU> {
  static constexpr std::string_view tag = "ReLU";
  static std::string name() { return "ReLU"; }
};
struct Sigmoid : ElementwiseActivation<kernels::Activation::kSigmoid> {
  static constexpr std::string_view tag = "Sigmoid";
  static std::string name() { return "Sigmoid"; }
};
struct Tanh : ElementwiseActivation<kernels::Activation::kTanh> {
  static constexpr std::string_view tag = "Tanh";
  static std::string name() { return "Tanh"; }
};
// Keras' default slope is 0.3 (PyTorch's is 0.01).
template <double Alpha = 0.3>
struct LeakyReLU : ElementwiseActivation<kernels::Activation::kLeakyReLU,
                                         static_cast<float>(Alpha)> {
  static_assert(Alpha >= 0.0, "LeakyReLU<alpha> needs alpha >= 0");
  static constexpr std::string_view tag = "LeakyReLU";
  static std::string name() {
    char buf[48];
    std::snprintf(buf, sizeof buf, "LeakyReLU<%g>", Alpha);
    return buf;
  }
};

// Softmax over the features of each sample. Followed by a cross-entropy loss,
// fusion removes it and the loss works on logits (stable, gradient p − y).
struct Softmax : LayerDefaults {
  static constexpr bool backward_in_place = true;
  static constexpr std::string_view tag = "Softmax";
  static std::string name() { return "Softmax"; }
  static std::string kernel() { return "row-wise softmax kernel"; }
  template <class In>
  struct output {
    static_assert(In::rank == 1,
                  "Softmax needs a rank-1 input: put Flatten before it");
    static_assert(In::size >= 2,
                  "Softmax over a single value is always 1: use Sigmoid");
    using type = In;
  };
  template <class In, class Out>
  static void forward(const ForwardContext& c) {
    kernels::SoftmaxForward(c.in, c.out, c.batch, In::size);
  }
  template <class In, class Out>
  static void backward(const BackwardContext& c) {
    if (c.din == nullptr) return;
    kernels::SoftmaxBackward(c.out, c.dout, c.din, c.batch, In::size);
  }
};

}  // namespace sequent
