// Fusion: the one place where the user's layer list is rewritten into the
// list of kernels that run. The rewrite is a compile-time pattern match over
// the LayerInfo list of a Sequential:
//
//   Dense, <activation>     → one GEMM with a bias + activation epilogue
//   Softmax (last) + a cross-entropy loss
//                           → removed; the loss takes logits and computes
//                             a stable softmax-cross-entropy, gradient p − y
//   Dropout at inference    → removed (it is the identity there)
//   anything else           → runs as written
//
// The result is a TypeList of Step<Exec, FirstInfo, LastInfo>: the user's
// layers [FirstInfo::index, LastInfo::index] run as Exec's forward/backward.
// The parameter layout is the user's, so fused and unfused plans share
// weights and can be compared directly.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>

#include "sequent/layers/activation.hpp"
#include "sequent/layers/core.hpp"
#include "sequent/sequential.hpp"
#include "sequent/type_list.hpp"

namespace sequent {

// What a plan is for. Training keeps Dropout; evaluation drops it but keeps
// the loss fused; inference also runs Softmax so the output is probabilities.
enum class PlanKind { kTraining, kEvaluation, kInference };

// Model-wide switch: Fusion::kOff runs every layer as written (for tests
// and for debugging a suspected fusion bug).
enum class Fusion { kOn, kOff };

template <class Exec, class FirstInfo, class LastInfo>
struct Step {
  using exec = Exec;
  using input = typename FirstInfo::input;
  using output = typename LastInfo::output;
  static constexpr std::size_t first_layer = FirstInfo::index;
  static constexpr std::size_t last_layer = LastInfo::index;
  // Parameters of a fused group belong to its first layer (the Dense).
  static constexpr std::size_t param_offset = FirstInfo::param_offset;
  static constexpr std::size_t param_count = FirstInfo::param_count;
};

namespace fused {

// Dense followed by an element-wise activation: one GEMM, the activation
// applied to each output tile in registers before it is stored.
template <class DenseLayer, class Act>
struct DenseActivation : LayerDefaults {
  static std::string kernel() { return name(); }
  static std::string name() {
    return DenseLayer::name() + "+" + Act::name() + ": GEMM, bias+" +
           Act::name() + " epilogue";
  }
  template <class In, class Out>
  static void forward(const ForwardContext& c) {
    DenseLayer::template forward_with<In, Act::kind, Act::alpha>(c);
  }
  template <class In, class Out>
  static void backward(const BackwardContext& c) {
    DenseLayer::template backward_with<In, Act::kind, Act::alpha>(c);
  }
};

// A layer folded into its neighbour (Softmax into the loss) or dropped
// (Dropout at inference): its output is its input, unchanged.
template <class Layer>
struct Absorbed : LayerDefaults {
  static constexpr bool aliases_input = true;
  static std::string name() { return "absorbed"; }
  template <class In, class Out>
  static void forward(const ForwardContext&) {}
  template <class In, class Out>
  static void backward(const BackwardContext&) {}
};

}  // namespace fused

namespace detail {

template <class L>
inline constexpr bool is_dense_v = false;
template <int U, bool B>
inline constexpr bool is_dense_v<Dense<U, B>> = true;

enum class Rule { kAsWritten, kDenseActivation, kSoftmaxIntoLoss, kDrop };

template <PlanKind Kind, Fusion F, bool LossFusesSoftmax, bool Last, class L,
          class Next>
constexpr Rule rule_for() {
  if constexpr (Kind != PlanKind::kTraining && L::training_only) {
    return Rule::kDrop;
  } else if constexpr (F == Fusion::kOff) {
    return Rule::kAsWritten;
  } else if constexpr (Kind != PlanKind::kInference && LossFusesSoftmax &&
                       Last && std::is_same_v<L, Softmax>) {
    return Rule::kSoftmaxIntoLoss;
  } else if constexpr (is_dense_v<L> && ActivationLayer<Next>) {
    return Rule::kDenseActivation;
  } else {
    return Rule::kAsWritten;
  }
}

struct NoLayer {};

template <class Steps, class Infos, PlanKind Kind, Fusion F, bool LossFuses>
struct rewrite {
  using type = Steps;
};

template <class Steps, class I0, class... Rest, PlanKind Kind, Fusion F,
          bool LossFuses>
struct rewrite<Steps, TypeList<I0, Rest...>, Kind, F, LossFuses> {
  using next_layer =
      typename at<0, TypeList<typename Rest::layer..., NoLayer>>::type;
  static constexpr Rule rule =
      rule_for<Kind, F, LossFuses, sizeof...(Rest) == 0, typename I0::layer,
               next_layer>();

  template <Rule R, class... Tail>
  struct apply {  // kAsWritten
    using type = typename rewrite<
        append_t<Steps, Step<typename I0::layer, I0, I0>>, TypeList<Tail...>,
        Kind, F, LossFuses>::type;
  };
  template <class... Tail>
  struct apply<Rule::kDrop, Tail...> {
    using type = typename rewrite<
        append_t<Steps, Step<fused::Absorbed<typename I0::layer>, I0, I0>>,
        TypeList<Tail...>, Kind, F, LossFuses>::type;
  };
  template <class... Tail>
  struct apply<Rule::kSoftmaxIntoLoss, Tail...> {
    using type =
        append_t<Steps, Step<fused::Absorbed<typename I0::layer>, I0, I0>>;
  };
  template <class I1, class... Tail>
  struct apply<Rule::kDenseActivation, I1, Tail...> {
    using exec =
        fused::DenseActivation<typename I0::layer, typename I1::layer>;
    using type =
        typename rewrite<append_t<Steps, Step<exec, I0, I1>>,
                         TypeList<Tail...>, Kind, F, LossFuses>::type;
  };
  using type = typename apply<rule, Rest...>::type;
};

}  // namespace detail

// The steps that run for a model in a given kind of pass.
template <class Net, class Loss, PlanKind Kind, Fusion F>
using plan_t = typename detail::rewrite<TypeList<>, typename Net::layers, Kind,
                                        F, Loss::fuses_softmax>::type;

// True when the plan's output is logits whose Softmax the loss computes.
template <class Net, class Loss, PlanKind Kind, Fusion F>
inline constexpr bool outputs_logits =
    F == Fusion::kOn && Kind != PlanKind::kInference && Loss::fuses_softmax &&
    std::is_same_v<typename at_t<Net::layer_count - 1,
                                 typename Net::layers>::layer,
                   Softmax>;

}  // namespace sequent
