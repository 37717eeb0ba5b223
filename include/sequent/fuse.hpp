// Fusion: the one place where the user's layer list is rewritten into the
// list of kernels that run. The rewrite is a compile-time pattern match over
// the LayerInfo list of a Sequential:
//
//   Conv2D, BatchNorm[, act] → training: convolution, then one batch-norm +
//                             activation kernel; inference: BatchNorm folded
//                             into the convolution's weights and bias, the
//                             activation in its epilogue
//   Conv2D, <activation>    → one convolution with a bias + activation epilogue
//   either, then MaxPool2D<2> (stride 2, valid), at inference
//                           → the same step, which also pools: a Winograd
//                             layer takes each output tile's 2×2 maxima
//                             before storing it, so the convolution's full
//                             output is never written
//   Conv2D[, act], MaxPool2D (any window), in training
//                           → one step: convolution, bias + activation
//                             epilogue, max-pool; its backward starts from
//                             the pooled gradient and visits the windows'
//                             maxima only (the rest of the convolution's
//                             output gradient is zero)
//   BatchNorm, <activation> → one batch-norm kernel with the activation
//   Dense, <activation>     → one GEMM with a bias + activation epilogue
//   Softmax (last) + a cross-entropy loss
//                           → removed; the loss takes logits and computes
//                             a stable softmax-cross-entropy, gradient p − y
//   Dropout at inference    → removed (it is the identity there)
//   anything else           → runs as written
//
// A regularised layer (L2<λ, Dense<…>>) matches as the layer it wraps.
//
// The result is a TypeList of Step<Exec, FirstInfo, LastInfo>: the user's
// layers [FirstInfo::index, LastInfo::index] run as Exec's forward/backward.
// The parameter layout is the user's, so fused and unfused plans share
// weights and can be compared directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "sequent/layers/activation.hpp"
#include "sequent/layers/batchnorm.hpp"
#include "sequent/layers/conv.hpp"
#include "sequent/layers/core.hpp"
#include "sequent/layers/pool.hpp"
#include "sequent/layers/regularizer.hpp"
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
  // All parameters of the group (they are contiguous).
  static constexpr std::size_t param_count =
      LastInfo::param_end - FirstInfo::param_offset;
  // Conv2D has no state, so a Conv2D+BatchNorm group's state starts where
  // the BatchNorm's does.
  static constexpr std::size_t state_offset = FirstInfo::state_offset;
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

// How a pooled convolution step (below) describes its pooling: in the
// Winograd output transform if the layer runs as Winograd — a Winograd
// shape with at least 4 tiles of 4×4 outputs per image does, from the
// weights inference prepares — in the pixel tiles of a layer of at most 8
// filters, else as a pass over the convolution's output
// (at a small batch, a Winograd shape with fewer tiles may do either).
template <class ConvLayer, bool Pooled>
struct PooledText {
  static std::string layer() { return Pooled ? "+MaxPool2D<2x2>" : ""; }
  // In = void: the input shape is not known (name() without one).
  template <class In>
  static std::string how() {
    if constexpr (!Pooled || std::is_void_v<In>) {
      return "";
    } else {
      using Out =
          detail::Spatial<typename ConvLayer::template output<In>::type>;
      if constexpr (ConvLayer::template winograd_weight_floats<In> == 0 &&
                    ConvLayer::filters <= 8 && ConvLayer::stride.w == 1) {
        // conv_planar's pixel tiles (every SIMD target; the scalar
        // fallback alone pools in a pass).
        return ", 2x2 max-pool in its pixel tiles";
      } else if constexpr (ConvLayer::template winograd_weight_floats<In> ==
                           0) {
        return ", then a 2x2 max-pool pass";
      } else if constexpr (kernels::WinogradTiles(Out::h, Out::w) >=
                           kernels::kWinogradMinTilesPrepared) {
        return ", 2x2 max-pool in the Winograd output transform";
      } else {
        return ", 2x2 max-pool in the Winograd output transform from 4 tiles "
               "a batch, else a pass";
      }
    }
  }
};

// Conv2D followed by an element-wise activation: one convolution, the bias
// and activation applied in its epilogue.
// Pooled: at inference only, the MaxPool2D<2> after it runs in the same
// step (kernels::ConvForwardMaxPool); aux holds the unpooled output for a
// layer that does not run as Winograd.
template <class ConvLayer, class Act, bool Pooled = false>
struct ConvActivation : LayerDefaults {
  static std::string name() { return name_for<void>(); }
  // The description for input shape In (summary() asks with the step's).
  template <class In>
  static std::string name_for() {
    using Text = PooledText<ConvLayer, Pooled>;
    return ConvLayer::name() + "+" + Act::name() + Text::layer() +
           ": convolution, bias+" + Act::name() + " epilogue" +
           Text::template how<In>();
  }
  template <class In>
  static constexpr std::size_t aux_size =
      Pooled ? ConvLayer::template output<In>::type::size : 0;
  static std::string kernel() { return name(); }
  // At inference (the only plan given a derived buffer), the kernel in the
  // Winograd domain, transformed once instead of on every call.
  template <class In>
  static constexpr std::size_t derived_size =
      ConvLayer::template winograd_weight_floats<In>;
  template <class In>
  static void prepare(const float* params, const float*, float* derived) {
    ConvLayer::template prepare_winograd<In>(params, derived);
  }
  template <class In, class Out>
  static void forward(const ForwardContext& c) {
    const float* bias =
        ConvLayer::use_bias ? c.params + ConvLayer::template weight_count<In>
                            : nullptr;
    const float* winograd = derived_size<In> > 0 ? c.derived : nullptr;
    if constexpr (Pooled) {
      ConvLayer::template forward_pooled_with<In, Act::kind, Act::alpha>(
          c, c.params, bias, c.aux, c.out, winograd);
    } else {
      ConvLayer::template forward_with<In, Act::kind, Act::alpha>(
          c, c.params, bias, c.out, winograd);
    }
  }
  template <class In, class Out>
  static void backward(const BackwardContext& c) {
    static_assert(!Pooled, "an inference step has no backward");
    kernels::ActivationBackward(Act::kind, Act::alpha, c.out, c.dout, c.dout,
                                c.batch * Out::size);
    ConvLayer::template backward_from<In>(c, c.dout);
  }
};

// "No activation" where a fused step takes one.
struct NoActivation {
  static constexpr kernels::Activation kind = kernels::Activation::kIdentity;
  static constexpr float alpha = 0.0f;
  static std::string name() { return ""; }
};

// Training's Conv2D, an optional activation (Act = NoActivation) and a
// MaxPool2D as one step. Forward writes the convolution's output to aux
// (then the pool's argmax indices after it) and pools it; backward is
// kernels::ConvBackwardMaxPool, which needs only the pooled gradient, the
// indices and the pooled values (act' from the activation's output, which
// at a window's maximum is the pooled value).
template <class ConvLayer, class Act, class Pool>
struct ConvMaxPool : LayerDefaults {
  template <class In>
  using conv_out = typename ConvLayer::template output<In>::type;
  template <class In>
  static constexpr std::size_t pooled_size =
      Pool::template output<conv_out<In>>::type::size;

  static std::string name() {
    const std::string act = Act::name().empty() ? "" : "+" + Act::name();
    return ConvLayer::name() + act + "+" + Pool::name() + ": convolution" +
           (act.empty() ? std::string(", bias epilogue")
                        : ", bias+" + Act::name() + " epilogue") +
           ", max-pool; backward from the pooled maxima only";
  }
  static std::string kernel() { return name(); }
  // The convolution's output, then an int32 argmax per pooled value.
  template <class In>
  static constexpr std::size_t aux_size =
      conv_out<In>::size + pooled_size<In>;

  template <class In>
  static std::int32_t* argmax(float* aux, std::size_t batch) {
    return reinterpret_cast<std::int32_t*>(aux + batch * conv_out<In>::size);
  }
  template <class In, class Out>
  static void forward(const ForwardContext& c) {
    const float* bias = ConvLayer::use_bias
                            ? c.params + ConvLayer::template weight_count<In>
                            : nullptr;
    ConvLayer::template forward_with<In, Act::kind, Act::alpha>(c, c.params,
                                                               bias, c.aux);
    kernels::MaxPoolForward(Pool::template pool_shape<conv_out<In>>(c.batch),
                            c.aux, c.out, argmax<In>(c.aux, c.batch));
  }
  template <class In, class Out>
  static void backward(const BackwardContext& c) {
    float* dbias = ConvLayer::use_bias
                       ? c.dparams + ConvLayer::template weight_count<In>
                       : nullptr;
    kernels::ConvBackwardMaxPool(
        ConvLayer::template conv_shape<In>(c.batch),
        Pool::template pool_shape<conv_out<In>>(c.batch), c.in, c.params,
        c.dout, argmax<In>(const_cast<float*>(c.aux), c.batch), c.out,
        Act::kind, Act::alpha, c.din, c.dparams, dbias);
  }
};

// BatchNorm followed by an element-wise activation: one kernel.
template <class BN, class Act>
struct BatchNormActivation : BN {
  static std::string name() {
    return BN::name() + "+" + Act::name() + ": batch-norm kernel, " +
           Act::name() + " fused";
  }
  static std::string kernel() { return name(); }
  template <class In, class Out>
  static void forward(const ForwardContext& c) {
    BN::template normalize<In, Act::kind, Act::alpha>(c, c.in, c.out);
  }
  template <class In, class Out>
  static void backward(const BackwardContext& c) {
    BN::template backward_through<In, Act::kind, Act::alpha>(
        c, c.in, c.out, c.dout, c.din != nullptr ? c.din : c.dout);
  }
};

// Conv2D, BatchNorm and an optional activation. In training (and
// evaluation) the convolution writes z, kept for backward, and one kernel
// normalises z and applies the activation. For inference (Folded) BatchNorm
// becomes part of the convolution: w' = w · scale, b' = b · scale + shift per
// output channel, prepared once whenever the weights change.
template <class ConvLayer, class BN, class Act, bool Folded,
          bool Pooled = false>
struct ConvBatchNorm : LayerDefaults {
  static_assert(Folded || !Pooled, "only inference pools in the convolution");
  template <class In>
  using conv_out = typename ConvLayer::template output<In>::type;
  template <class In>
  static constexpr std::size_t bn_param_offset =
      padded_size(ConvLayer::template param_count<In>);
  template <class In>
  static constexpr std::size_t weight_count =
      ConvLayer::template weight_count<In>;

  static std::string name() { return name_for<void>(); }
  template <class In>
  static std::string name_for() {
    using Text = PooledText<ConvLayer, Pooled>;
    const std::string act = Act::name().empty() ? "" : "+" + Act::name();
    return ConvLayer::name() + "+" + BN::name() + act + Text::layer() +
           (Folded ? ": convolution with BatchNorm folded into its weights" +
                         (act.empty() ? std::string()
                                      : ", " + Act::name() + " epilogue") +
                         Text::template how<In>()
                   : ": convolution, then batch-norm" + act + " kernel");
  }
  static std::string kernel() { return name(); }

  static constexpr bool couples_samples = !Folded;  // BatchNorm's statistics
  template <class In>
  static constexpr std::size_t aux_size =
      Folded && !Pooled ? 0 : conv_out<In>::size;
  template <class In>
  static constexpr std::size_t scratch_size =
      Folded ? 0 : BN::template scratch_size<conv_out<In>>;
  // Folded: the kernel scaled by BatchNorm, the folded bias, then (padded
  // to a vector) the folded kernel in the Winograd domain if it has one.
  template <class In>
  static constexpr std::size_t winograd_offset =
      padded_size(weight_count<In> + ConvLayer::filters);
  template <class In>
  static constexpr std::size_t derived_size =
      Folded
          ? winograd_offset<In> + ConvLayer::template winograd_weight_floats<In>
          : 0;

  template <class In>
  static void prepare(const float* params, const float* state,
                      float* derived) {
    if constexpr (Folded) {
      constexpr std::size_t F = ConvLayer::filters;
      float scale[F], shift[F];
      BN::template inference_scale_shift<conv_out<In>>(
          params + bn_param_offset<In>, state, scale, shift);
      for (std::size_t i = 0; i < weight_count<In>; ++i) {
        derived[i] = params[i] * scale[i % F];  // kernel is (…, F) last
      }
      for (std::size_t f = 0; f < F; ++f) {
        const float bias = ConvLayer::use_bias ? params[weight_count<In> + f]
                                               : 0.0f;
        derived[weight_count<In> + f] = bias * scale[f] + shift[f];
      }
      ConvLayer::template prepare_winograd<In>(derived,
                                               derived + winograd_offset<In>);
    }
  }

  template <class In, class Out>
  static void forward(const ForwardContext& c) {
    if constexpr (Folded) {
      constexpr bool winograd =
          ConvLayer::template winograd_weight_floats<In> > 0;
      const float* u = winograd ? c.derived + winograd_offset<In> : nullptr;
      if constexpr (Pooled) {
        ConvLayer::template forward_pooled_with<In, Act::kind, Act::alpha>(
            c, c.derived, c.derived + weight_count<In>, c.aux, c.out, u);
      } else {
        ConvLayer::template forward_with<In, Act::kind, Act::alpha>(
            c, c.derived, c.derived + weight_count<In>, c.out, u);
      }
    } else {
      const float* bias = ConvLayer::use_bias ? c.params + weight_count<In>
                                              : nullptr;
      ConvLayer::template forward_with<In>(c, c.params, bias, c.aux);
      ForwardContext bn = c;
      bn.params = c.params + bn_param_offset<In>;
      BN::template normalize<conv_out<In>, Act::kind, Act::alpha>(bn, c.aux,
                                                                 c.out);
    }
  }
  template <class In, class Out>
  static void backward(const BackwardContext& c) {
    static_assert(!Folded, "an inference step has no backward");
    BackwardContext bn = c;
    bn.params = c.params + bn_param_offset<In>;
    bn.dparams = c.dparams + bn_param_offset<In>;
    // dz (the gradient at the convolution's output) replaces dout in place.
    BN::template backward_through<conv_out<In>, Act::kind, Act::alpha>(
        bn, c.aux, c.out, c.dout, c.dout);
    ConvLayer::template backward_from<In>(c, c.dout);
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
template <class L>
inline constexpr bool is_conv_v = false;
template <int F, Window K, Padding P, Window S, bool B>
inline constexpr bool is_conv_v<Conv2D<F, K, P, S, B>> = true;
template <class L>
inline constexpr bool is_batchnorm_v = false;
template <double M, double E>
inline constexpr bool is_batchnorm_v<BatchNorm<M, E>> = true;

template <class L>
inline constexpr bool is_max_pool_v = false;
template <Window S, Window St, Padding P>
inline constexpr bool is_max_pool_v<MaxPool2D<S, St, P>> = true;

// MaxPool2D<2> (2×2, stride 2, valid): what a convolution can pool as it
// stores its output.
template <class L>
inline constexpr bool is_max_pool_2x2_v = false;
template <Window S, Window St, Padding P>
inline constexpr bool is_max_pool_2x2_v<MaxPool2D<S, St, P>> =
    S.h == 2 && S.w == 2 && St.h == 2 && St.w == 2 && P == Padding::kValid;

enum class Rule {
  kAsWritten,
  kDenseActivation,
  kConvActivation,
  kConvBatchNorm,            // Conv2D, BatchNorm
  kConvBatchNormActivation,  // Conv2D, BatchNorm, activation
  // Inference only, each then MaxPool2D<2>:
  kConvBatchNormPool,            // Conv2D, BatchNorm, MaxPool2D
  kConvBatchNormActivationPool,  // Conv2D, BatchNorm, activation, MaxPool2D
  kConvActivationPool,           // Conv2D, activation, MaxPool2D
  // Training only, backward from the pooled maxima:
  kConvActivationMaxPool,  // Conv2D, activation, MaxPool2D (any)
  kConvMaxPool,            // Conv2D, MaxPool2D (any)
  kBatchNormActivation,
  kSoftmaxIntoLoss,
  kDrop
};

template <PlanKind Kind, Fusion F, bool LossFusesSoftmax, bool Last, class L,
          class Next, class Next2, class Next3>
constexpr Rule rule_for() {
  constexpr bool inference = Kind == PlanKind::kInference;
  constexpr bool training = Kind == PlanKind::kTraining;
  if constexpr (Kind != PlanKind::kTraining && L::training_only) {
    return Rule::kDrop;
  } else if constexpr (F == Fusion::kOff) {
    return Rule::kAsWritten;
  } else if constexpr (Kind != PlanKind::kInference && LossFusesSoftmax &&
                       Last && std::is_same_v<L, Softmax>) {
    return Rule::kSoftmaxIntoLoss;
  } else if constexpr (inference && is_conv_v<L> && is_batchnorm_v<Next> &&
                       ActivationLayer<Next2> && is_max_pool_2x2_v<Next3>) {
    return Rule::kConvBatchNormActivationPool;
  } else if constexpr (inference && is_conv_v<L> && is_batchnorm_v<Next> &&
                       is_max_pool_2x2_v<Next2>) {
    return Rule::kConvBatchNormPool;
  } else if constexpr (inference && is_conv_v<L> && ActivationLayer<Next> &&
                       is_max_pool_2x2_v<Next2>) {
    return Rule::kConvActivationPool;
  } else if constexpr (training && is_conv_v<L> && ActivationLayer<Next> &&
                       is_max_pool_v<Next2>) {
    return Rule::kConvActivationMaxPool;
  } else if constexpr (training && is_conv_v<L> && is_max_pool_v<Next>) {
    return Rule::kConvMaxPool;
  } else if constexpr (is_conv_v<L> && is_batchnorm_v<Next> &&
                       ActivationLayer<Next2>) {
    return Rule::kConvBatchNormActivation;
  } else if constexpr (is_conv_v<L> && is_batchnorm_v<Next>) {
    return Rule::kConvBatchNorm;
  } else if constexpr (is_conv_v<L> && ActivationLayer<Next>) {
    return Rule::kConvActivation;
  } else if constexpr (is_batchnorm_v<L> && ActivationLayer<Next>) {
    return Rule::kBatchNormActivation;
  } else if constexpr (is_dense_v<L> && ActivationLayer<Next>) {
    return Rule::kDenseActivation;
  } else {
    return Rule::kAsWritten;
  }
}

struct NoLayer {};

// What a user layer runs as: itself, or the layer inside a regulariser
// (L2<λ, Dense<…>> runs, and fuses, as the Dense; its penalty is applied to
// the gradient buffer after backward, outside the plan).
template <class Info>
using run_layer_t = unwrap_regularizer_t<typename Info::layer>;

template <class Steps, class Infos, PlanKind Kind, Fusion F, bool LossFuses>
struct rewrite {
  using type = Steps;
};

template <class Steps, class I0, class... Rest, PlanKind Kind, Fusion F,
          bool LossFuses>
struct rewrite<Steps, TypeList<I0, Rest...>, Kind, F, LossFuses> {
  using next_layer =
      typename at<0, TypeList<run_layer_t<Rest>..., NoLayer>>::type;
  using next_layer2 =
      typename at<1, TypeList<run_layer_t<Rest>..., NoLayer, NoLayer>>::type;
  using next_layer3 = typename at<
      2, TypeList<run_layer_t<Rest>..., NoLayer, NoLayer, NoLayer>>::type;
  static constexpr Rule rule =
      rule_for<Kind, F, LossFuses, sizeof...(Rest) == 0, run_layer_t<I0>,
               next_layer, next_layer2, next_layer3>();
  static constexpr bool kFolded = Kind == PlanKind::kInference;

  template <Rule R, class... Tail>
  struct apply {  // kAsWritten
    using type = typename rewrite<
        append_t<Steps, Step<run_layer_t<I0>, I0, I0>>, TypeList<Tail...>,
        Kind, F, LossFuses>::type;
  };
  template <class... Tail>
  struct apply<Rule::kDrop, Tail...> {
    using type = typename rewrite<
        append_t<Steps, Step<fused::Absorbed<run_layer_t<I0>>, I0, I0>>,
        TypeList<Tail...>, Kind, F, LossFuses>::type;
  };
  template <class... Tail>
  struct apply<Rule::kSoftmaxIntoLoss, Tail...> {
    using type =
        append_t<Steps, Step<fused::Absorbed<run_layer_t<I0>>, I0, I0>>;
  };
  // Replaces I0 … Last by one Step running Exec, and goes on with Tail.
  template <class Exec, class Last, class... Tail>
  using fuse = typename rewrite<append_t<Steps, Step<Exec, I0, Last>>,
                                TypeList<Tail...>, Kind, F, LossFuses>::type;

  template <class I1, class... Tail>
  struct apply<Rule::kDenseActivation, I1, Tail...> {
    using type = fuse<
        fused::DenseActivation<run_layer_t<I0>, run_layer_t<I1>>, I1,
        Tail...>;
  };
  template <class I1, class... Tail>
  struct apply<Rule::kConvActivation, I1, Tail...> {
    using type = fuse<
        fused::ConvActivation<run_layer_t<I0>, run_layer_t<I1>>, I1,
        Tail...>;
  };
  template <class I1, class... Tail>
  struct apply<Rule::kBatchNormActivation, I1, Tail...> {
    using type = fuse<
        fused::BatchNormActivation<run_layer_t<I0>, run_layer_t<I1>>,
        I1, Tail...>;
  };
  template <class I1, class... Tail>
  struct apply<Rule::kConvBatchNorm, I1, Tail...> {
    using type = fuse<fused::ConvBatchNorm<run_layer_t<I0>,
                                           run_layer_t<I1>,
                                           fused::NoActivation, kFolded>,
                      I1, Tail...>;
  };
  template <class I1, class I2, class... Tail>
  struct apply<Rule::kConvBatchNormActivation, I1, I2, Tail...> {
    using type = fuse<fused::ConvBatchNorm<run_layer_t<I0>,
                                           run_layer_t<I1>,
                                           run_layer_t<I2>, kFolded>,
                      I2, Tail...>;
  };
  template <class I1, class I2, class... Tail>
  struct apply<Rule::kConvActivationPool, I1, I2, Tail...> {
    using type = fuse<
        fused::ConvActivation<run_layer_t<I0>, run_layer_t<I1>, true>, I2,
        Tail...>;
  };
  template <class I1, class I2, class... Tail>
  struct apply<Rule::kConvActivationMaxPool, I1, I2, Tail...> {
    using type = fuse<fused::ConvMaxPool<run_layer_t<I0>, run_layer_t<I1>,
                                         run_layer_t<I2>>,
                      I2, Tail...>;
  };
  template <class I1, class... Tail>
  struct apply<Rule::kConvMaxPool, I1, Tail...> {
    using type = fuse<fused::ConvMaxPool<run_layer_t<I0>, fused::NoActivation,
                                         run_layer_t<I1>>,
                      I1, Tail...>;
  };
  template <class I1, class I2, class... Tail>
  struct apply<Rule::kConvBatchNormPool, I1, I2, Tail...> {
    using type = fuse<fused::ConvBatchNorm<run_layer_t<I0>,
                                           run_layer_t<I1>,
                                           fused::NoActivation, true, true>,
                      I2, Tail...>;
  };
  template <class I1, class I2, class I3, class... Tail>
  struct apply<Rule::kConvBatchNormActivationPool, I1, I2, I3, Tail...> {
    using type = fuse<fused::ConvBatchNorm<run_layer_t<I0>,
                                           run_layer_t<I1>,
                                           run_layer_t<I2>, true, true>,
                      I3, Tail...>;
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
