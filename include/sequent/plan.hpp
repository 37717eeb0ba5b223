// The memory plan and the run of a plan (a TypeList of fusion Steps).
//
// Buffers, all row-major batch × size, each starting on a 64-byte line:
//   buffer 0          the batch input
//   buffer k ≥ 1      the output of the k-th step that does not alias its input
//   aux of step i     its per-sample scratch (dropout masks)
//   two gradient buffers of the largest activation, used in turn by backward
// Sizes per sample are compile-time constants; the arena is allocated once
// for the largest batch the model has seen.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "sequent/layers/layer.hpp"
#include "sequent/random.hpp"
#include "sequent/shape.hpp"
#include "sequent/type_list.hpp"

namespace sequent {

template <class Plan>
struct PlanRunner;

template <class... Steps>
struct PlanRunner<TypeList<Steps...>> {
  static constexpr std::size_t step_count = sizeof...(Steps);
  using first_input = typename at_t<0, TypeList<Steps...>>::input;
  using output = typename at_t<step_count - 1, TypeList<Steps...>>::output;

  // Which buffer each step writes (aliasing steps reuse their input's).
  static constexpr std::array<std::size_t, step_count> out_buffer = [] {
    std::array<std::size_t, step_count> a{};
    std::size_t buffer = 0, i = 0;
    ((a[i++] = Steps::exec::aliases_input ? buffer : ++buffer), ...);
    return a;
  }();
  static constexpr std::size_t buffer_count = out_buffer[step_count - 1] + 1;

  // Floats per sample of each buffer.
  static constexpr std::array<std::size_t, buffer_count> buffer_size = [] {
    std::array<std::size_t, buffer_count> a{};
    a[0] = first_input::size;
    std::size_t i = 0;
    ((a[out_buffer[i++]] = Steps::output::size), ...);
    return a;
  }();
  static constexpr std::array<std::size_t, step_count> aux_size = {
      Steps::exec::template aux_size<typename Steps::input>...};
  static constexpr std::array<std::size_t, step_count> scratch_size = {
      Steps::exec::template scratch_size<typename Steps::input>...};

  // Inference-only weights (BatchNorm folded into convolutions): where each
  // step's live in the model's derived buffer, and how many there are.
  static constexpr std::array<std::size_t, step_count + 1> derived_offset = [] {
    std::array<std::size_t, step_count + 1> a{};
    constexpr std::array<std::size_t, step_count> sizes{
        Steps::exec::template derived_size<typename Steps::input>...};
    for (std::size_t i = 0; i < step_count; ++i) {
      a[i + 1] = a[i] + padded_size(sizes[i]);
    }
    return a;
  }();
  static constexpr std::size_t derived_total = derived_offset[step_count];

  // Computes every step's derived weights from the parameters and state.
  static void prepare(const float* params, const float* state, float* derived) {
    std::size_t i = 0;
    (Steps::exec::template prepare<typename Steps::input>(
         params + Steps::param_offset, state + Steps::state_offset,
         derived + derived_offset[i++]),
     ...);
  }

  static constexpr std::size_t largest_activation = [] {
    std::size_t m = 0;
    for (std::size_t s : buffer_size) m = m > s ? m : s;
    return m;
  }();

  // Step i must produce d(loss)/d(input) only if a step before it has
  // parameters; the gradient of the data itself is never needed.
  static constexpr std::array<bool, step_count> needs_input_grad = [] {
    std::array<bool, step_count> a{};
    constexpr std::array<std::size_t, step_count> params{Steps::param_count...};
    bool seen = false;
    for (std::size_t i = 0; i < step_count; ++i) {
      a[i] = seen;
      seen = seen || params[i] > 0;
    }
    return a;
  }();

  // No step couples the samples of a batch (no BatchNorm in training) and
  // no step keeps per-batch scratch: a batch may then run as independent
  // parts, one per thread, each through the whole plan (see sub_layout).
  static constexpr bool samples_independent =
      ((!Steps::exec::couples_samples &&
        Steps::exec::template scratch_size<typename Steps::input> == 0) &&
       ...);

  // Floats of arena per sample (the batch input included).
  static constexpr std::size_t floats_per_sample(bool with_gradients) {
    std::size_t n = 0;
    for (std::size_t b : buffer_size) n += b;
    for (std::size_t a : aux_size) n += a;
    return n + (with_gradients ? 2 * largest_activation : 0);
  }

  // Offsets (in floats) of every region of the arena for a batch size.
  struct Layout {
    std::array<std::size_t, buffer_count> buffer{};
    std::array<std::size_t, step_count> aux{};
    std::array<std::size_t, step_count> scratch{};
    std::size_t grad[2] = {0, 0};
    std::size_t total = 0;
  };
  static constexpr Layout layout(std::size_t batch, bool with_gradients) {
    Layout l;
    std::size_t at = 0;
    for (std::size_t b = 0; b < buffer_count; ++b) {
      l.buffer[b] = at;
      at += padded_size(batch * buffer_size[b]);
    }
    for (std::size_t i = 0; i < step_count; ++i) {
      l.aux[i] = at;
      at += padded_size(batch * aux_size[i]);
      l.scratch[i] = at;
      at += padded_size(scratch_size[i]);
    }
    if (with_gradients) {
      for (std::size_t& g : l.grad) {
        g = at;
        at += padded_size(batch * largest_activation);
      }
    }
    l.total = at;
    return l;
  }

  // The layout of samples [first, …) of a batch laid out by `l`: every
  // per-sample region is batch-major, so a part of the batch is a suffix of
  // each region and runs as a batch of its own. Only for
  // samples_independent plans, whose steps have no per-batch scratch.
  static constexpr Layout sub_layout(const Layout& l, std::size_t first) {
    Layout s = l;
    for (std::size_t b = 0; b < buffer_count; ++b) {
      s.buffer[b] += first * buffer_size[b];
    }
    for (std::size_t i = 0; i < step_count; ++i) {
      s.aux[i] += first * aux_size[i];
    }
    for (std::size_t& g : s.grad) g += first * largest_activation;
    return s;
  }

  // Runs every step front to back. `input` may live outside the arena; the
  // returned pointer is the last step's output (batch × output::size).
  // `state` holds the layers' running statistics (updated in training);
  // `derived` the prepared inference weights (may be null without any).
  static const float* forward(const float* input, float* arena, const Layout& l,
                              const float* params, float* state,
                              const float* derived, std::size_t batch,
                              bool training, std::uint64_t step_seed,
                              std::size_t first_sample = 0) {
    auto buffer = [&](std::size_t b) -> float* {
      return b == 0 ? const_cast<float*>(input) : arena + l.buffer[b];
    };
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (forward_step<I>(buffer, arena, l, params, state, derived, batch,
                       training, step_seed, first_sample),
       ...);
    }
    (std::make_index_sequence<step_count>{});
    return buffer(out_buffer[step_count - 1]);
  }

  // Runs backward from d(loss)/d(output), which must be in gradient buffer 0
  // of the layout. Writes parameter gradients into dparams.
  static void backward(const float* input, float* arena, const Layout& l,
                       const float* params, const float* state, float* dparams,
                       std::size_t batch) {
    auto buffer = [&](std::size_t b) -> const float* {
      return b == 0 ? input : arena + l.buffer[b];
    };
    float* grad = arena + l.grad[0];
    float* spare = arena + l.grad[1];
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (backward_step<step_count - 1 - I>(buffer, arena, l, params, state,
                                         dparams, batch, grad, spare),
       ...);
    }
    (std::make_index_sequence<step_count>{});
  }

 private:
  template <std::size_t I, class Buffer>
  static void forward_step(Buffer& buffer, float* arena, const Layout& l,
                           const float* params, float* state,
                           const float* derived, std::size_t batch,
                           bool training, std::uint64_t step_seed,
                           std::size_t first_sample) {
    using S = at_t<I, TypeList<Steps...>>;
    if constexpr (!S::exec::aliases_input) {
      const std::size_t in_buffer = I == 0 ? 0 : out_buffer[I == 0 ? 0 : I - 1];
      const ForwardContext c{buffer(in_buffer),
                             buffer(out_buffer[I]),
                             params + S::param_offset,
                             arena + l.aux[I],
                             batch,
                             training,
                             mix_seed(step_seed, S::first_layer),
                             state + S::state_offset,
                             arena + l.scratch[I],
                             derived ? derived + derived_offset[I] : nullptr,
                             first_sample};
      S::exec::template forward<typename S::input, typename S::output>(c);
    }
  }

  template <std::size_t I, class Buffer>
  static void backward_step(Buffer& buffer, float* arena, const Layout& l,
                            const float* params, const float* state,
                            float* dparams, std::size_t batch, float*& grad,
                            float*& spare) {
    using S = at_t<I, TypeList<Steps...>>;
    // Steps before the first one with parameters need no backward at all.
    constexpr bool needed = S::param_count > 0 || needs_input_grad[I];
    if constexpr (needed && !S::exec::aliases_input) {
      const std::size_t in_buffer = I == 0 ? 0 : out_buffer[I == 0 ? 0 : I - 1];
      float* din = nullptr;
      if constexpr (needs_input_grad[I]) {
        din = S::exec::backward_in_place ? grad : spare;
      }
      const BackwardContext c{buffer(in_buffer),
                              buffer(out_buffer[I]),
                              grad,
                              din,
                              params + S::param_offset,
                              dparams + S::param_offset,
                              arena + l.aux[I],
                              batch,
                              state + S::state_offset,
                              arena + l.scratch[I]};
      S::exec::template backward<typename S::input, typename S::output>(c);
      if (din == spare) std::swap(grad, spare);
    }
  }
};

}  // namespace sequent
