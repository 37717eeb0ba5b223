// Sequential<Input<…>, Layers…>: the model as a flat compile-time list.
// At compile time it propagates shapes layer by layer (each layer's
// output<In> holds its shape checks), lays out every parameter in one flat
// buffer, and counts parameters. A model that cannot work does not compile:
//
//   error: static assertion failed: Dense needs a rank-1 input: put Flatten
//          before it
//   required from 'struct sequent::check_layer<0, sequent::Dense<128>,
//          sequent::Shape<28, 28, 1> >'
//
// The instantiation note names the layer's index (0 = first after Input),
// the layer and the shape it was given.
#pragma once

#include <bit>
#include <boost/hana/for_each.hpp>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "sequent/layers/core.hpp"
#include "sequent/shape.hpp"
#include "sequent/type_list.hpp"

namespace sequent {

template <class L>
concept Layer = requires {
  { L::name() } -> std::convertible_to<std::string>;
  { L::tag } -> std::convertible_to<std::string_view>;
  L::aliases_input;
};

namespace detail {
struct InvalidLayer : LayerDefaults {
  static constexpr std::string_view tag = "invalid";
  static std::string name() { return "(invalid)"; }
};

// The output shape of a valid layer; for anything else (already reported by
// check_layer) the input passes through so that no second error follows.
template <class L, class In, bool Valid = Layer<L> && !is_input_v<L>>
struct output_of {
  using type = In;
};
template <class L, class In>
struct output_of<L, In, true> {
  using type = typename L::template output<In>::type;
};
}  // namespace detail

// Instantiated once per layer with its index and input shape, so that a
// failing check inside Layer::output<In> is reported "required from
// check_layer<index, layer, input shape>".
template <std::size_t Index, class L, class In>
struct check_layer {
  static_assert(!is_input_v<L>,
                "Input may only be the first element of a Sequential");
  static_assert(Layer<L> || is_input_v<L>,
                "this is not a sequent layer (expected Dense, ReLU, Flatten, "
                "...)");
  using type = typename detail::output_of<L, In>::type;
  // What the rest of the chain sees: the layer, or after an error above an
  // inert stand-in, so that one mistake gives one error.
  using layer =
      std::conditional_t<Layer<L> && !is_input_v<L>, L, detail::InvalidLayer>;
};

// Everything known about the layer at position Index: its input and output
// shapes and where its parameters sit in the flat parameter buffer.
template <std::size_t Index, class L, class In, std::size_t ParamOffset,
          std::size_t StateOffset>
struct LayerInfo {
  static constexpr std::size_t index = Index;
  using layer = typename check_layer<Index, L, In>::layer;
  using input = In;
  using output = typename check_layer<Index, L, In>::type;
  static constexpr std::size_t param_offset = ParamOffset;
  static constexpr std::size_t param_count = layer::template param_count<In>;
  // Each layer's parameters start on a 64-byte line.
  static constexpr std::size_t param_end =
      ParamOffset + padded_size(param_count);
  // Non-trainable state (running statistics), laid out the same way in the
  // model's state buffer.
  static constexpr std::size_t state_offset = StateOffset;
  static constexpr std::size_t state_count = layer::template state_count<In>;
  static constexpr std::size_t state_end =
      StateOffset + padded_size(state_count);
};

namespace detail {
// Walks the layers once, front to back: the recursion is as deep as the
// model is long, and every step is a plain alias, so a 30-layer model costs
// 30 small instantiations.
template <class Infos, std::size_t Index, class In, std::size_t Offset,
          std::size_t StateOffset, class... Layers>
struct chain {
  using infos = Infos;
  using output = In;
  static constexpr std::size_t param_total = Offset;
  static constexpr std::size_t state_total = StateOffset;
};
template <class Infos, std::size_t Index, class In, std::size_t Offset,
          std::size_t StateOffset, class L, class... Rest>
struct chain<Infos, Index, In, Offset, StateOffset, L, Rest...> {
  using info = LayerInfo<Index, L, In, Offset, StateOffset>;
  using next = chain<append_t<Infos, info>, Index + 1, typename info::output,
                     info::param_end, info::state_end, Rest...>;
  using infos = typename next::infos;
  using output = typename next::output;
  static constexpr std::size_t param_total = next::param_total;
  static constexpr std::size_t state_total = next::state_total;
};

template <class T>
struct input_shape {
  using type = Shape<1>;  // placeholder after the error below
};
template <int... Dims>
struct input_shape<Input<Dims...>> {
  using type = typename Input<Dims...>::shape;  // runs Input's checks
};
}  // namespace detail

template <class First, class... Layers>
struct Sequential {
  static_assert(is_input_v<First>,
                "a Sequential must start with sq::Input<H, W, C> or "
                "sq::Input<N>");
  static_assert(sizeof...(Layers) >= 1,
                "a Sequential needs at least one layer after Input");

  using input = typename detail::input_shape<First>::type;
  using chain = detail::chain<TypeList<>, 0, input, 0, 0, Layers...>;
  // LayerInfo<…> for each layer after Input, in order.
  using layers = typename chain::infos;
  using output = typename chain::output;
  static constexpr std::size_t layer_count = sizeof...(Layers);
  // Floats in the parameter and state buffers (with per-layer padding).
  static constexpr std::size_t param_buffer_size = chain::param_total;
  static constexpr std::size_t state_buffer_size = chain::state_total;
  // Parameters a user would count (no padding).
  static constexpr std::size_t param_count = [] {
    std::size_t total = 0;
    hana::for_each(layers::hana_tuple, [&](auto info) {
      total += decltype(info)::type::param_count;
    });
    return total;
  }();
  // Non-trainable values a user would count (Keras' "non-trainable params").
  static constexpr std::size_t state_count = [] {
    std::size_t total = 0;
    hana::for_each(layers::hana_tuple, [&](auto info) {
      total += decltype(info)::type::state_count;
    });
    return total;
  }();

  // A 64-bit FNV-1a hash of the architecture — every layer's kind, output
  // shape, parameter count and the constants that change what it computes
  // (a layer's optional fingerprint_constants: convolution and pool
  // windows, strides and padding, LeakyReLU's slope, BatchNorm's ε,
  // Rescaling's scale and offset), and the input shape —
  // computed by the compiler. Model files carry it, so weights cannot be
  // loaded into a model of another architecture. Training-only settings
  // (Dropout's rate, BatchNorm's momentum, L1/L2 factors) are left out: weights
  // move freely between models that differ only in how they train.
  static constexpr std::uint64_t fingerprint = [] {
    std::uint64_t h = 0xcbf29ce484222325ull;
    auto mix = [&h](std::uint64_t v) {
      for (int i = 0; i < 8; ++i) {
        h = (h ^ ((v >> (8 * i)) & 0xff)) * 0x100000001b3ull;
      }
    };
    auto mix_shape = [&mix](const auto& dims) {
      mix(dims.size());
      for (int d : dims) mix(static_cast<std::uint64_t>(d));
    };
    mix_shape(input::dims);
    hana::for_each(layers::hana_tuple, [&](auto t) {
      using Info = typename decltype(t)::type;
      for (char c : Info::layer::tag) mix(static_cast<unsigned char>(c));
      mix_shape(Info::output::dims);
      mix(Info::param_count);
      if constexpr (requires { Info::layer::fingerprint_constants; }) {
        for (double v : Info::layer::fingerprint_constants) {
          mix(std::bit_cast<std::uint64_t>(v));
        }
      }
    });
    return h;
  }();

  // "Input(28, 28, 1) > Flatten (784,) > Dense<128> (128,) > …", the
  // readable form of the fingerprint, for error messages.
  static std::string architecture() {
    std::string out = "Input" + input::to_string();
    hana::for_each(layers::hana_tuple, [&](auto t) {
      using Info = typename decltype(t)::type;
      out += " > " + Info::layer::name() + " " + Info::output::to_string();
    });
    return out;
  }
};

template <class T>
inline constexpr bool is_sequential_v = false;
template <class... Ts>
inline constexpr bool is_sequential_v<Sequential<Ts...>> = true;

}  // namespace sequent
