// L1, L2 and L1L2 through whole models: the compile-time table, fusion
// through the wrapper, the penalty in the training loss and not in
// evaluate(), the gradient against finite differences, only kernels
// touched, fused and unfused plans agreeing, weights shared with the bare
// architecture, and what each penalty does to trained kernels.
#define BOOST_TEST_MODULE regularization
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <sequent/sequent.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "finite_differences.hpp"
#include "quadrants.hpp"
#include "temp_dir.hpp"

namespace sq = sequent;
namespace tt = boost::test_tools;
using sq::test::check_step_against_differences;
using sq::test::first_batch;
using sq::test::params_of;
using sq::test::quadrant_images;

namespace {

using Loss = sq::SparseCategoricalCrossentropy;

// Layers 1 and 5 regularised (kernels of 36×16 and 8×4), layer 3 not.
using RegMlp =
    sq::Sequential<sq::Input<6, 6, 1>, sq::Flatten, sq::L2<0.05, sq::Dense<16>>,
                   sq::ReLU, sq::Dense<8>, sq::Tanh, sq::L2<0.02, sq::Dense<4>>,
                   sq::Softmax>;
using PlainMlp =
    sq::Sequential<sq::Input<6, 6, 1>, sq::Flatten, sq::Dense<16>, sq::ReLU,
                   sq::Dense<8>, sq::Tanh, sq::Dense<4>, sq::Softmax>;
// The same MLP under L1 on layer 1 and both penalties on layer 5.
using MixedMlp =
    sq::Sequential<sq::Input<6, 6, 1>, sq::Flatten, sq::L1<0.01, sq::Dense<16>>,
                   sq::ReLU, sq::Dense<8>, sq::Tanh,
                   sq::L1L2<0.01, 0.02, sq::Dense<4>>, sq::Softmax>;

// Both convolutions and the last Dense regularised; BatchNorm follows the
// first convolution and the unregularised Dense<6>.
using RegCnn =
    sq::Sequential<sq::Input<6, 6, 1>, sq::L2<0.05, sq::Conv2D<4, 3, sq::Same>>,
                   sq::BatchNorm<>, sq::ReLU, sq::MaxPool2D<2>,
                   sq::L2<0.03, sq::Conv2D<5, 3, sq::Valid>>, sq::ReLU,
                   sq::Flatten, sq::Dense<6>, sq::BatchNorm<>, sq::Tanh,
                   sq::L2<0.02, sq::Dense<4>>, sq::Softmax>;
using PlainCnn = sq::Sequential<
    sq::Input<6, 6, 1>, sq::Conv2D<4, 3, sq::Same>, sq::BatchNorm<>, sq::ReLU,
    sq::MaxPool2D<2>, sq::Conv2D<5, 3, sq::Valid>, sq::ReLU, sq::Flatten,
    sq::Dense<6>, sq::BatchNorm<>, sq::Tanh, sq::Dense<4>, sq::Softmax>;

// ---- type level
// ---------------------------------------------------------------

template <class Net, std::size_t Layer>
constexpr std::size_t offset_of =
    sq::at_t<Layer, typename Net::layers>::param_offset;

using MlpTable = sq::PenaltyTable<RegMlp>;
static_assert(MlpTable::size == 2);
static_assert(MlpTable::ranges[0].offset == offset_of<RegMlp, 1>);
static_assert(MlpTable::ranges[0].count == 36 * 16);  // kernel, not bias
static_assert(MlpTable::ranges[0].l1 == 0.0f);
static_assert(MlpTable::ranges[0].l2 == 0.05f);
static_assert(MlpTable::ranges[1].offset == offset_of<RegMlp, 5>);
static_assert(MlpTable::ranges[1].count == 8 * 4);
static_assert(MlpTable::ranges[1].l2 == 0.02f);
static_assert(MlpTable::weights == 36 * 16 + 8 * 4);
static_assert(MlpTable::l1_kernels == 0 && MlpTable::l2_kernels == 2);
static_assert(sq::PenaltyTable<PlainMlp>::size == 0);

using MixedTable = sq::PenaltyTable<MixedMlp>;
static_assert(MixedTable::size == 2);
static_assert(MixedTable::ranges[0].offset == offset_of<MixedMlp, 1>);
static_assert(MixedTable::ranges[0].l1 == 0.01f);
static_assert(MixedTable::ranges[0].l2 == 0.0f);
static_assert(MixedTable::ranges[1].offset == offset_of<MixedMlp, 5>);
static_assert(MixedTable::ranges[1].l1 == 0.01f);
static_assert(MixedTable::ranges[1].l2 == 0.02f);
static_assert(MixedTable::l1_kernels == 2 && MixedTable::l2_kernels == 1);
static_assert(MixedMlp::fingerprint == PlainMlp::fingerprint);

using CnnTable = sq::PenaltyTable<RegCnn>;
static_assert(CnnTable::size == 3);
static_assert(CnnTable::ranges[0].count == 3 * 3 * 1 * 4);
static_assert(CnnTable::ranges[1].offset == offset_of<RegCnn, 4>);
static_assert(CnnTable::ranges[1].count == 3 * 3 * 4 * 5);
static_assert(CnnTable::ranges[2].offset == offset_of<RegCnn, 10>);

// Factors of 0 are allowed (as Keras' l2(0.)) and cost nothing at run time.
static_assert(
    sq::PenaltyTable<sq::Sequential<sq::Input<3>, sq::L2<0.0, sq::Dense<2>>,
                                    sq::L1<0.0, sq::Dense<2>>,
                                    sq::L1L2<0.0, 0.0, sq::Dense<2>>>>::size ==
    0);

// The wrapper changes neither the layout nor the architecture's identity.
static_assert(RegMlp::param_buffer_size == PlainMlp::param_buffer_size);
static_assert(RegMlp::fingerprint == PlainMlp::fingerprint);
static_assert(RegCnn::fingerprint == PlainCnn::fingerprint);

// Fusion sees through it: Dense+ReLU is one GEMM, Conv2D+BatchNorm+ReLU one
// convolution with a batch-norm kernel, folded at inference (where the
// MaxPool2D after it joins the same kernel).
template <class Net, sq::PlanKind Kind, std::size_t Step>
using exec_t =
    typename sq::at_t<Step, sq::plan_t<Net, Loss, Kind, sq::Fusion::kOn>>::exec;
static_assert(
    std::is_same_v<exec_t<RegMlp, sq::PlanKind::kTraining, 1>,
                   sq::fused::DenseActivation<sq::Dense<16>, sq::ReLU>>);
static_assert(
    std::is_same_v<exec_t<RegCnn, sq::PlanKind::kTraining, 0>,
                   sq::fused::ConvBatchNorm<sq::Conv2D<4, 3, sq::Same>,
                                            sq::BatchNorm<>, sq::ReLU, false>>);
static_assert(
    std::is_same_v<exec_t<RegCnn, sq::PlanKind::kInference, 0>,
                   sq::fused::ConvBatchNorm<sq::Conv2D<4, 3, sq::Same>,
                                            sq::BatchNorm<>, sq::ReLU, true,
                                            true>>);
static_assert(
    std::is_same_v<
        exec_t<RegCnn, sq::PlanKind::kTraining, 2>,
        sq::fused::ConvActivation<sq::Conv2D<5, 3, sq::Valid>, sq::ReLU>>);
// The same kernels as the bare networks, step for step, in every plan.
template <class A, class B>
struct same_execs;
template <class... A, class... B>
struct same_execs<sq::TypeList<A...>, sq::TypeList<B...>> {
  static constexpr bool value =
      (std::is_same_v<typename A::exec, typename B::exec> && ...);
};
template <class Reg, class Plain, sq::PlanKind Kind, sq::Fusion F>
constexpr bool same_plans = same_execs<sq::plan_t<Reg, Loss, Kind, F>,
                                       sq::plan_t<Plain, Loss, Kind, F>>::value;
static_assert(
    same_plans<RegCnn, PlainCnn, sq::PlanKind::kTraining, sq::Fusion::kOn>);
static_assert(
    same_plans<RegCnn, PlainCnn, sq::PlanKind::kInference, sq::Fusion::kOn>);
static_assert(
    same_plans<RegCnn, PlainCnn, sq::PlanKind::kTraining, sq::Fusion::kOff>);
static_assert(
    same_plans<RegMlp, PlainMlp, sq::PlanKind::kTraining, sq::Fusion::kOn>);

// ---- helpers ----------------------------------------------------------------

// Σ (l1·Σ |w| + l2·Σ w²) over the kernels of the given layers, from
// get_weights: the penalty computed independently of the library's table
// and kernel.
struct Penalty {
  int layer;
  double l1, l2;
};
template <class M>
double hand_penalty(const M& m, std::initializer_list<Penalty> layers) {
  double total = 0;
  for (const Penalty& p : layers) {
    double absolutes = 0, squares = 0;
    const auto tensors = m.get_weights(p.layer);  // kernel first
    for (float w : tensors[0]) {
      absolutes += std::fabs(double(w));
      squares += double(w) * w;
    }
    total += p.l1 * absolutes + p.l2 * squares;
  }
  return total;
}
double mlp_penalty(const sq::Model<RegMlp, Loss>& m) {
  return hand_penalty(m, {{1, 0.0, 0.05}, {5, 0.0, 0.02}});
}
double mixed_penalty(const sq::Model<MixedMlp, Loss>& m) {
  return hand_penalty(m, {{1, 0.01, 0.0}, {5, 0.01, 0.02}});
}

using sequent::test::TempDir;

}  // namespace

BOOST_AUTO_TEST_CASE(training_loss_includes_the_penalty_evaluation_does_not) {
  const auto data = quadrant_images(8, 41);
  const auto batch = first_batch(data, 8);
  sq::Model<RegMlp, Loss> model{sq::Seed{3}};
  const double penalty = mlp_penalty(model);
  BOOST_TEST(penalty > 0.05);  // large enough to be seen below
  BOOST_TEST(model.regularization_loss() == penalty, tt::tolerance(1e-6));
  const double data_loss = model.evaluate(data).loss;
  // lr = 0 leaves the weights where they are and reports the step's loss.
  const auto r = model.train_step(batch.view(), sq::SGD{.lr = 0.0f});
  BOOST_TEST(r.loss == data_loss + penalty, tt::tolerance(1e-6));
  BOOST_TEST(model.evaluate(data).loss == data_loss, tt::tolerance(1e-12));
  // The same in fit: the epoch's loss carries the penalty, val_loss not.
  const auto h = model.fit(data, sq::SGD{.lr = 0.0f},
                           {.epochs = 1,
                            .batch_size = 3,
                            .validation = &data,
                            .verbose = sq::Verbosity::kSilent});
  BOOST_TEST(h.last().loss == data_loss + penalty, tt::tolerance(1e-6));
  BOOST_TEST(h.last().val_loss == data_loss, tt::tolerance(1e-9));
  // A bare model of the same weights reports the data loss only.
  sq::Model<PlainMlp, Loss> plain{sq::Seed{3}};
  BOOST_REQUIRE(params_of(plain) == params_of(model));
  BOOST_TEST(plain.regularization_loss() == 0.0);
  BOOST_TEST(
      plain.train_step(batch.view(), sq::SGD{.lr = 0.0f}).loss == data_loss,
      tt::tolerance(1e-6));
}

// d(mean loss + Σ λ·Σ w²)/dw through the whole model against central
// differences, the penalty measured by hand from get_weights. One SGD step
// with lr = 1 moves the parameters by exactly −grad.
BOOST_AUTO_TEST_CASE(regularised_gradient_matches_finite_differences) {
  const auto data = quadrant_images(5, 42);
  const auto batch = first_batch(data, 5);
  sq::Model<RegMlp, Loss> model{sq::Seed{5}};
  const auto before = params_of(model);
  model.train_step(batch.view(), sq::SGD{.lr = 1.0f});
  const auto after = params_of(model);
  const std::size_t checked = check_step_against_differences(
      model, before, after,
      [&] { return model.evaluate(data).loss + mlp_penalty(model); });
  BOOST_TEST(checked > 250u);
  // In the first kernel 2λw is ~0.03, ten times the tolerance: a missing
  // or wrongly scaled penalty gradient fails above.
  std::size_t penalised = 0;
  for (std::size_t i = 0; i < 36 * 16; i += 3) {
    penalised += std::fabs(0.1 * before[i]) > 1e-2;
  }
  BOOST_TEST(penalised > 50u);
}

// The same with L1 on one kernel and L1 + L2 on another: l1·sign(w) is 0.01
// on every kernel weight, five times the tolerance.
BOOST_AUTO_TEST_CASE(l1_gradient_matches_finite_differences) {
  const auto data = quadrant_images(5, 48);
  const auto batch = first_batch(data, 5);
  sq::Model<MixedMlp, Loss> model{sq::Seed{5}};
  const auto before = params_of(model);
  model.train_step(batch.view(), sq::SGD{.lr = 1.0f});
  const auto after = params_of(model);
  BOOST_TEST(model.regularization_loss() > 0.0);
  // Weights within 2h of 0 are skipped (a difference of step h crosses
  // |w|'s kink when |w| < h).
  const std::size_t checked = check_step_against_differences(
      model, before, after,
      [&] { return model.evaluate(data).loss + mixed_penalty(model); }, 1e-2f);
  BOOST_TEST(checked > 200u);
}

// Against the bare network of the same weights, one SGD step (lr = 1)
// differs by exactly 2λ·w on the regularised kernels and by nothing at all
// elsewhere: biases, BatchNorm's gamma and beta and running statistics, the
// unregularised Dense.
BOOST_AUTO_TEST_CASE(only_the_kernels_are_regularised) {
  const auto data = quadrant_images(16, 43);
  const auto batch = first_batch(data, 16);
  sq::Model<RegCnn, Loss> reg{sq::Seed{4}};
  sq::Model<PlainCnn, Loss> plain{sq::Seed{4}};
  const auto initial = params_of(reg);
  BOOST_REQUIRE(initial == params_of(plain));
  reg.train_step(batch.view(), sq::SGD{.lr = 1.0f});
  plain.train_step(batch.view(), sq::SGD{.lr = 1.0f});
  const auto a = params_of(reg), b = params_of(plain);
  std::vector<float> lambda(a.size(), 0.0f);
  for (const auto& r : sq::PenaltyTable<RegCnn>::ranges) {
    for (std::size_t i = r.offset; i < r.offset + r.count; ++i) {
      lambda[i] = r.l2;
    }
  }
  std::size_t kernel_weights = 0, others = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lambda[i] != 0.0f) {
      const double expected = 2.0 * lambda[i] * initial[i];
      BOOST_TEST(std::fabs((double(b[i]) - a[i]) - expected) <= 1e-6,
                 "kernel parameter " << i);
      ++kernel_weights;
    } else {
      BOOST_TEST(a[i] == b[i], "parameter " << i << " is not a kernel");
      ++others;
    }
  }
  BOOST_TEST(kernel_weights == sq::PenaltyTable<RegCnn>::weights);
  BOOST_TEST(others > 40u);  // biases, gammas, betas, Dense<6>, padding
  const std::vector<float> sa(reg.state().begin(), reg.state().end()),
      sb(plain.state().begin(), plain.state().end());
  BOOST_TEST(sa == sb);
  // Named tensors: the bias of layer 0 and BatchNorm's gamma/beta of
  // layer 1 moved identically.
  BOOST_TEST(reg.get_weights(0)[1] == plain.get_weights(0)[1]);
  BOOST_TEST(reg.get_weights(1)[0] == plain.get_weights(1)[0]);
  BOOST_TEST(reg.get_weights(1)[1] == plain.get_weights(1)[1]);
}

BOOST_AUTO_TEST_CASE(fused_and_unfused_regularised_cnn_agree) {
  const auto data = quadrant_images(16, 44);
  const auto batch = first_batch(data, 16);
  sq::Model<RegCnn, Loss, sq::Fusion::kOn> fused{sq::Seed{6}};
  sq::Model<RegCnn, Loss, sq::Fusion::kOff> plain{sq::Seed{6}};
  BOOST_REQUIRE(params_of(fused) == params_of(plain));
  for (int i = 0; i < 3; ++i) {
    const auto r1 = fused.train_step(batch.view(), sq::SGD{.lr = 0.1f});
    const auto r2 = plain.train_step(batch.view(), sq::SGD{.lr = 0.1f});
    BOOST_TEST(r1.loss == r2.loss, tt::tolerance(1e-4));
  }
  const auto a = params_of(fused), b = params_of(plain);
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST(std::fabs(a[i] - b[i]) <= 2e-5f, "parameter " << i);
  }
  BOOST_TEST(fused.regularization_loss() == plain.regularization_loss(),
             tt::tolerance(1e-5));
  const auto p1 = fused.predict(data), p2 = plain.predict(data);
  for (std::size_t i = 0; i < p1.probabilities.size(); ++i) {
    BOOST_TEST(p1.probabilities[i] == p2.probabilities[i],
               tt::tolerance(2e-4f));
  }
}

BOOST_AUTO_TEST_CASE(summary_shows_the_regularisers_and_the_fusion) {
  const std::string s = sq::Model<RegCnn, Loss>::summary();
  BOOST_TEST_MESSAGE(s);
  for (const char* expected :
       {"L2<0.05, Conv2D<4, 3x3, same>>", "L2<0.03, Conv2D<5, 3x3, valid>>",
        "L2<0.02, Dense<4>>",
        "Conv2D<4, 3x3, same>+BatchNorm+ReLU: convolution, then batch-norm",
        "Conv2D<5, 3x3, valid>+ReLU: convolution, bias+ReLU epilogue",
        "L2 regularisation: 3 kernels, 240 weights"}) {
    BOOST_TEST(s.find(expected) != std::string::npos, "missing: " << expected);
  }
  const std::string mlp = sq::Model<RegMlp, Loss>::summary();
  BOOST_TEST(mlp.find("Dense<16>+ReLU: GEMM, bias+ReLU epilogue") !=
             std::string::npos);
  BOOST_TEST(mlp.find("L2 regularisation: 2 kernels, 608 weights") !=
             std::string::npos);
  const std::string bare = sq::Model<PlainMlp, Loss>::summary();
  BOOST_TEST(bare.find("L2") == std::string::npos);
}

// Weights saved from a regularised model load into the bare architecture
// (and back): the regulariser is a training choice, not part of the model.
BOOST_AUTO_TEST_CASE(weights_move_between_regularised_and_bare_models) {
  TempDir dir;
  sq::Model<RegCnn, Loss> reg{sq::Seed{7}};
  reg.fit(quadrant_images(64, 45), sq::Adam{.lr = 1e-2f},
          {.epochs = 1, .batch_size = 16, .verbose = sq::Verbosity::kSilent});
  reg.save(dir.path() / "reg.sqm");
  sq::Model<PlainCnn, Loss> plain{sq::Seed{8}};
  plain.load_weights(dir.path() / "reg.sqm");
  BOOST_TEST(params_of(plain) == params_of(reg));
  const auto data = quadrant_images(32, 46);
  BOOST_TEST(plain.predict(data).labels == reg.predict(data).labels);
}

// A strong penalty keeps the kernels small: the same run without it ends
// with a larger Σ w².
BOOST_AUTO_TEST_CASE(l2_shrinks_the_kernels) {
  const auto train = quadrant_images(256, 47);
  const sq::FitOptions options{
      .epochs = 4, .batch_size = 16, .verbose = sq::Verbosity::kSilent};
  sq::Model<RegMlp, Loss> reg{sq::Seed{9}};
  sq::Model<PlainMlp, Loss> plain{sq::Seed{9}};
  const auto h = reg.fit(train, sq::Adam{.lr = 1e-2f}, options);
  plain.fit(train, sq::Adam{.lr = 1e-2f}, options);
  const auto squares = [](const auto& m, int layer) {
    double s = 0;
    const auto tensors = m.get_weights(layer);
    for (float w : tensors[0]) s += double(w) * w;
    return s;
  };
  BOOST_TEST(squares(reg, 1) < 0.8 * squares(plain, 1));
  BOOST_TEST(squares(reg, 5) < squares(plain, 5));
  BOOST_TEST(h.last().loss < h.epochs.front().loss);
  BOOST_TEST(h.last().accuracy > 0.9);
}

// One SGD step (lr = 1) of the L1/L1L2 model against the bare one from the
// same weights: kernel weights differ by l1·sign(w) + 2·l2·w, nothing else
// differs at all.
BOOST_AUTO_TEST_CASE(l1_step_moves_each_kernel_weight_by_its_sign) {
  const auto data = quadrant_images(16, 49);
  const auto batch = first_batch(data, 16);
  sq::Model<MixedMlp, Loss> mixed{sq::Seed{4}};
  sq::Model<PlainMlp, Loss> plain{sq::Seed{4}};
  const auto initial = params_of(mixed);
  BOOST_REQUIRE(initial == params_of(plain));
  mixed.train_step(batch.view(), sq::SGD{.lr = 1.0f});
  plain.train_step(batch.view(), sq::SGD{.lr = 1.0f});
  const auto a = params_of(mixed), b = params_of(plain);
  std::vector<const sq::kernels::PenaltyRange*> range_of(a.size(), nullptr);
  for (const auto& r : MixedTable::ranges) {
    for (std::size_t i = r.offset; i < r.offset + r.count; ++i) {
      range_of[i] = &r;
    }
  }
  std::size_t kernel_weights = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (range_of[i] != nullptr) {
      const double w = initial[i];
      const double expected =
          range_of[i]->l1 * ((w > 0) - (w < 0)) + 2.0 * range_of[i]->l2 * w;
      BOOST_TEST(std::fabs((double(b[i]) - a[i]) - expected) <= 1e-6,
                 "kernel parameter " << i);
      ++kernel_weights;
    } else {
      BOOST_TEST(a[i] == b[i], "parameter " << i << " is not a kernel");
    }
  }
  BOOST_TEST(kernel_weights == 36 * 16 + 8 * 4);
  BOOST_TEST(mixed.regularization_loss() == mixed_penalty(mixed),
             tt::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(summary_names_l1_and_l1l2) {
  const std::string s = sq::Model<MixedMlp, Loss>::summary();
  BOOST_TEST_MESSAGE(s);
  for (const char* expected :
       {"L1<0.01, Dense<16>>", "L1L2<0.01, 0.02, Dense<4>>",
        "Dense<16>+ReLU: GEMM, bias+ReLU epilogue",
        "L1/L2 regularisation: 2 kernels, 608 weights; l1·Σ|w| + l2·Σw²"}) {
    BOOST_TEST(s.find(expected) != std::string::npos, "missing: " << expected);
  }
  using OnlyL1 =
      sq::Sequential<sq::Input<4>, sq::L1<0.5, sq::Dense<3>>, sq::Softmax>;
  const std::string only_l1 = sq::Model<OnlyL1, Loss>::summary();
  BOOST_TEST(only_l1.find("L1 regularisation: 1 kernel, 12 weights; λ·Σ|w|") !=
             std::string::npos);
}

// What L1 is for: trained under it, most of a kernel's weights end near 0
// (L1 pulls each by a constant step, so small ones cross zero and stay
// there, oscillating), while L2 of the same strength shrinks the weights
// in proportion and leaves few that small.
BOOST_AUTO_TEST_CASE(l1_makes_kernels_sparse) {
  const auto train = quadrant_images(256, 50);
  const sq::FitOptions options{
      .epochs = 4, .batch_size = 16, .verbose = sq::Verbosity::kSilent};
  using L1Mlp =
      sq::Sequential<sq::Input<6, 6, 1>, sq::Flatten,
                     sq::L1<0.01, sq::Dense<16>>, sq::ReLU, sq::Dense<8>,
                     sq::Tanh, sq::Dense<4>, sq::Softmax>;
  using L2Mlp =
      sq::Sequential<sq::Input<6, 6, 1>, sq::Flatten,
                     sq::L2<0.01, sq::Dense<16>>, sq::ReLU, sq::Dense<8>,
                     sq::Tanh, sq::Dense<4>, sq::Softmax>;
  sq::Model<L1Mlp, Loss> l1{sq::Seed{9}};
  sq::Model<L2Mlp, Loss> l2{sq::Seed{9}};
  sq::Model<PlainMlp, Loss> plain{sq::Seed{9}};
  const auto h = l1.fit(train, sq::Adam{.lr = 1e-2f}, options);
  l2.fit(train, sq::Adam{.lr = 1e-2f}, options);
  plain.fit(train, sq::Adam{.lr = 1e-2f}, options);
  const auto near_zero = [](const auto& m) {
    std::size_t n = 0;
    const auto tensors = m.get_weights(1);
    for (float w : tensors[0]) n += std::fabs(w) < 0.02f;
    return double(n) / double(tensors[0].size());
  };
  BOOST_TEST_MESSAGE("kernel weights below 0.02: L1 "
                     << near_zero(l1) << ", L2 " << near_zero(l2) << ", none "
                     << near_zero(plain));
  BOOST_TEST(near_zero(l1) > 0.5);
  BOOST_TEST(near_zero(l1) > 1.5 * near_zero(l2));
  BOOST_TEST(near_zero(l1) > 10 * near_zero(plain));
  BOOST_TEST(h.last().loss < h.epochs.front().loss);
  BOOST_TEST(h.last().accuracy > 0.9);
}
