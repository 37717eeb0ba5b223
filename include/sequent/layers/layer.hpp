// What every layer is made of. A layer is a declarative struct:
//   - template parameters (units, rate, …) checked with static_assert;
//   - `template <class In> struct output { using type = Shape<…>; }`, whose
//     static_asserts are the shape checks with readable messages;
//   - `template <class In> static constexpr std::size_t param_count`;
//   - forward/backward that call kernels with compile-time sizes.
// Layers hold no data: parameters, activations and gradients live in the
// model's flat buffers and reach a layer through these contexts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sequent/random.hpp"
#include "sequent/shape.hpp"

namespace sequent {

// One forward call over a batch. `in` is batch×In::size, `out` batch×Out::size,
// both row-major; `aux` is the layer's per-sample scratch kept for backward
// (batch × aux_size<In>), e.g. a dropout mask.
struct ForwardContext {
  const float* in;
  float* out;
  const float* params;
  float* aux;
  std::size_t batch;
  bool training;
  std::uint64_t seed;        // fresh for every step and layer (dropout)
  float* state = nullptr;    // non-trainable state (BatchNorm's running stats)
  float* scratch = nullptr;  // per-batch scratch kept for backward
  const float* derived = nullptr;  // inference-only weights (folded BN)
  // Index of this call's first sample in the whole batch: a step split
  // over threads runs each part as a batch of its own, and per-sample
  // randomness (dropout masks) must not depend on where the split falls.
  std::size_t first_sample = 0;
};

// One backward call. `dout` is d(loss)/d(out) and may be overwritten as
// scratch; `din` receives d(loss)/d(in) and is null when nobody needs it (the
// first layer). Parameter gradients are written (not added) to `dparams`.
struct BackwardContext {
  const float* in;
  const float* out;
  float* dout;
  float* din;
  const float* params;
  float* dparams;
  const float* aux;
  std::size_t batch;
  const float* state = nullptr;
  const float* scratch = nullptr;
};

// A named parameter tensor of a layer, as Keras lists them.
struct WeightInfo {
  std::string name;
  std::vector<std::size_t> shape;
  // Trainable tensors live in the parameter buffer; the others (running
  // statistics) in the state buffer, untouched by optimisers.
  bool trainable = true;
  std::size_t size() const {
    std::size_t n = 1;
    for (std::size_t d : shape) n *= d;
    return n;
  }
};

// Defaults for layers without parameters, scratch or aliasing.
struct LayerDefaults {
  // The output is a view of the input (no buffer, no copy): Flatten.
  static constexpr bool aliases_input = false;
  // backward may run with din == dout (element-wise layers).
  static constexpr bool backward_in_place = false;
  // At inference the layer is the identity and is removed (Dropout).
  static constexpr bool training_only = false;
  // In training, one sample's output depends on the other samples of the
  // batch (BatchNorm's batch statistics), so the batch cannot be split
  // into independent parts.
  static constexpr bool couples_samples = false;
  template <class In>
  static constexpr std::size_t param_count = 0;
  template <class In>
  static constexpr std::size_t aux_size = 0;
  // Non-trainable values per layer (not per sample), e.g. running means.
  template <class In>
  static constexpr std::size_t state_count = 0;
  // Per-batch scratch (not per sample) kept from forward to backward.
  template <class In>
  static constexpr std::size_t scratch_size = 0;
  // Weights an inference step derives from params and state (folding).
  template <class In>
  static constexpr std::size_t derived_size = 0;
  // What the layer runs as when nothing is fused into it (for summary()).
  static std::string kernel() { return "element-wise kernel"; }
  template <class In>
  static std::vector<WeightInfo> weights() {
    return {};
  }
  template <class In>
  static void initialize(float* /*params*/, Rng& /*rng*/) {}
  template <class In>
  static void initialize_state(float* /*state*/) {}
  template <class In>
  static void prepare(const float* /*params*/, const float* /*state*/,
                      float* /*derived*/) {}
};

// A layer whose non-trainable state Model::adapt sets from data: its state
// is the per-channel mean, then the per-channel variance, of its input
// (Normalization).
template <class L>
constexpr bool adapts_to_data_v = requires {
  requires L::adapts_to_data;
};

}  // namespace sequent
