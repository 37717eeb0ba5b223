// BatchNorm inside whole models, against formulas written out here rather
// than the library's own code: inference with running statistics (Keras'
// defaults eps = 1e-3, momentum = 0.99), the running statistics after a
// training step, the inference fold of Conv2D+BatchNorm(+ReLU) into the
// convolution against naive loops, and fused against unfused training
// including the running statistics.
#define BOOST_TEST_MODULE model_batchnorm
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <sequent/sequent.hpp>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "random_values.hpp"

namespace sq = sequent;
using sq::test::random_vector;

namespace {

constexpr double kEps = 1e-3;       // Keras' BatchNormalization epsilon
constexpr double kMomentum = 0.99;  // and momentum
static_assert(sq::BatchNorm<>::epsilon == 1e-3f);
static_assert(sq::BatchNorm<>::momentum == 0.99f);

template <class M>
std::vector<float> params_of(const M& m) {
  return {m.parameters().begin(), m.parameters().end()};
}
template <class M>
std::vector<float> state_of(const M& m) {
  return {m.state().begin(), m.state().end()};
}

// gamma, beta, moving mean and a small moving variance (so that eps
// matters: sqrt(0.02 + 1e-3) and sqrt(0.02 + 1e-5) differ by 2.5%).
std::vector<std::vector<float>> bn_weights(std::size_t c, std::uint64_t seed) {
  return {random_vector(c, seed, 0.5f, 2.0f), random_vector(c, seed + 1),
          random_vector(c, seed + 2), random_vector(c, seed + 3, 0.01f, 0.05f)};
}

// y = gamma·(x − mean)/sqrt(var + eps) + beta, channel = last dimension.
double bn_inference(double x, const std::vector<std::vector<float>>& w,
                    std::size_t c) {
  return w[0][c] * (x - w[2][c]) / std::sqrt(w[3][c] + kEps) + w[1][c];
}

double relu(double x) { return x > 0 ? x : 0; }

// conv(in, kernel) + bias by the definition: NHWC, kernel (kh, kw, C, F),
// TensorFlow's Same padding (the odd pixel at the bottom/right).
struct ConvSpec {
  int h, w, c, f, kh, kw, stride;
  bool same;
  bool bias;
  int out_h() const {
    return same ? (h + stride - 1) / stride : (h - kh) / stride + 1;
  }
  int out_w() const {
    return same ? (w + stride - 1) / stride : (w - kw) / stride + 1;
  }
  int pad(int n, int k, int out) const {
    const int total = (out - 1) * stride + k - n;
    return same && total > 0 ? total / 2 : 0;
  }
};
std::vector<double> naive_conv(const ConvSpec& s, const std::vector<float>& x,
                               const std::vector<float>& kernel,
                               const std::vector<float>& bias,
                               std::size_t batch) {
  const int oh = s.out_h(), ow = s.out_w();
  const int py = s.pad(s.h, s.kh, oh), px = s.pad(s.w, s.kw, ow);
  std::vector<double> y(batch * oh * ow * s.f);
  for (std::size_t b = 0; b < batch; ++b)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox)
        for (int f = 0; f < s.f; ++f) {
          double sum = s.bias ? bias[f] : 0.0;
          for (int ky = 0; ky < s.kh; ++ky)
            for (int kx = 0; kx < s.kw; ++kx) {
              const int iy = oy * s.stride + ky - py;
              const int ix = ox * s.stride + kx - px;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
              for (int c = 0; c < s.c; ++c) {
                sum += double(x[((b * s.h + iy) * s.w + ix) * s.c + c]) *
                       kernel[((ky * s.kw + kx) * s.c + c) * s.f + f];
              }
            }
          y[((b * oh + oy) * ow + ox) * s.f + f] = sum;
        }
  return y;
}

// Batch mean and unbiased variance of each channel (the last dimension)
// of rows × channels values.
template <class T>
void channel_moments(const std::vector<T>& x, std::size_t channels,
                     std::vector<double>& mean, std::vector<double>& var) {
  const std::size_t rows = x.size() / channels;
  mean.assign(channels, 0.0);
  var.assign(channels, 0.0);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < channels; ++c) mean[c] += x[r * channels + c];
  for (double& m : mean) m /= rows;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < channels; ++c) {
      const double d = x[r * channels + c] - mean[c];
      var[c] += d * d;
    }
  for (double& v : var) v /= rows - 1;
}

}  // namespace

// ---- inference with running statistics
// ------------------------------------------

BOOST_AUTO_TEST_CASE(inference_uses_running_statistics_and_keras_epsilon) {
  using Net = sq::Sequential<sq::Input<3, 2, 4>, sq::BatchNorm<>>;
  using NetRelu = sq::Sequential<sq::Input<3, 2, 4>, sq::BatchNorm<>, sq::ReLU>;
  using Vec = sq::Sequential<sq::Input<6>, sq::BatchNorm<>>;
  sq::Model<Net, sq::MeanSquaredError> m;
  sq::Model<NetRelu, sq::MeanSquaredError> mr;  // BatchNorm+ReLU, one kernel
  sq::Model<Vec, sq::MeanSquaredError> mv;      // 6 channels of a vector
  const auto w = bn_weights(4, 10);
  m.set_weights(0, w);
  mr.set_weights(0, w);
  const auto wv = bn_weights(6, 20);
  mv.set_weights(0, wv);
  constexpr std::size_t n = 5;
  const auto x = random_vector(n * 24, 11, -2.0f, 2.0f);
  const auto y = m.predict(x);
  const auto yr = mr.predict(x);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double expected = bn_inference(x[i], w, i % 4);
    BOOST_TEST(y[i] == expected, boost::test_tools::tolerance(1e-5));
    BOOST_TEST(yr[i] == relu(expected), boost::test_tools::tolerance(1e-5));
  }
  const auto xv = random_vector(n * 6, 12, -2.0f, 2.0f);
  const auto yv = mv.predict(xv);
  for (std::size_t i = 0; i < xv.size(); ++i) {
    BOOST_TEST(yv[i] == bn_inference(xv[i], wv, i % 6),
               boost::test_tools::tolerance(1e-5));
  }
  // evaluate() also normalises with the running statistics, not the batch's.
  const auto t = random_vector(n * 24, 13);
  const sq::data::FloatDataset data(x, 24, t, 24);
  double mse = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = bn_inference(x[i], w, i % 4) - t[i];
    mse += d * d;
  }
  mse /= x.size();
  BOOST_TEST(m.evaluate(data).loss == mse, boost::test_tools::tolerance(1e-5));
}

// ---- running statistics after training steps
// -------------------------------------

BOOST_AUTO_TEST_CASE(running_statistics_follow_keras_momentum) {
  using Net = sq::Sequential<sq::Input<3, 2, 4>, sq::BatchNorm<>>;
  sq::Model<Net, sq::MeanSquaredError> m;
  auto w = bn_weights(4, 30);
  m.set_weights(0, w);
  std::vector<double> mean(4), var(4);
  for (int step = 0; step < 2; ++step) {
    constexpr std::size_t n = 5;  // 5 · 3 · 2 = 30 rows per channel
    const auto x = random_vector(n * 24, 31 + step, -1.0f, 3.0f);
    const auto t = random_vector(n * 24, 41 + step);
    m.train_step({x, {}, t, n}, sq::SGD{.lr = 0.1f});
    std::vector<double> bm, bv;
    channel_moments(x, 4, bm, bv);
    const auto got = m.get_weights(0);
    for (std::size_t c = 0; c < 4; ++c) {
      const double mean_expected =
          kMomentum * w[2][c] + (1 - kMomentum) * bm[c];
      const double var_expected = kMomentum * w[3][c] + (1 - kMomentum) * bv[c];
      BOOST_TEST(got[2][c] == mean_expected,
                 boost::test_tools::tolerance(1e-5));
      BOOST_TEST(got[3][c] == var_expected, boost::test_tools::tolerance(1e-5));
    }
    w = got;
  }
}

// After a convolution the statistics are those of the convolution's output
// (the fused Conv2D+BatchNorm+ReLU group keeps its state where BatchNorm's is).
BOOST_AUTO_TEST_CASE(running_statistics_after_a_fused_convolution) {
  using Net = sq::Sequential<sq::Input<5, 4, 2>, sq::Conv2D<3, 3, sq::Same>,
                             sq::BatchNorm<>, sq::ReLU>;
  const ConvSpec spec{5, 4, 2, 3, 3, 3, 1, true, true};
  sq::Model<Net, sq::MeanSquaredError> m{sq::Seed{3}};
  auto conv = m.get_weights(0);
  conv[1] = random_vector(3, 50);  // a bias, so that it is not left out
  m.set_weights(0, conv);
  const auto w = bn_weights(3, 51);
  m.set_weights(1, w);
  constexpr std::size_t n = 4;
  const auto x = random_vector(n * 40, 52);
  const auto t = random_vector(n * 60, 53);
  m.train_step({x, {}, t, n}, sq::SGD{.lr = 0.1f});
  const auto z = naive_conv(spec, x, conv[0], conv[1], n);
  std::vector<double> bm, bv;
  channel_moments(z, 3, bm, bv);
  const auto got = m.get_weights(1);
  for (std::size_t c = 0; c < 3; ++c) {
    BOOST_TEST(got[2][c] == kMomentum * w[2][c] + (1 - kMomentum) * bm[c],
               boost::test_tools::tolerance(1e-5));
    BOOST_TEST(got[3][c] == kMomentum * w[3][c] + (1 - kMomentum) * bv[c],
               boost::test_tools::tolerance(1e-5));
  }
}

// ---- the inference fold
// ------------------------------------------------------------

namespace {

// Sets random weights on layers 0 (Conv2D) and 1 (BatchNorm), predicts,
// and compares with conv → BatchNorm formula → (ReLU) by naive loops.
template <class Net>
void check_folded(const ConvSpec& spec, bool with_relu, std::uint64_t seed) {
  sq::Model<Net, sq::MeanSquaredError> m{sq::Seed{seed}};
  auto conv = m.get_weights(0);
  if (spec.bias) conv[1] = random_vector(spec.f, seed + 1);
  m.set_weights(0, conv);
  const auto w = bn_weights(spec.f, seed + 2);
  m.set_weights(1, w);
  constexpr std::size_t n = 3;
  const auto x = random_vector(n * spec.h * spec.w * spec.c, seed + 3);
  const auto z = naive_conv(spec, x, conv[0],
                            spec.bias ? conv[1] : std::vector<float>{}, n);
  const auto y = m.predict(x);
  BOOST_REQUIRE_EQUAL(y.size(), z.size());
  std::size_t positive = 0;
  for (std::size_t i = 0; i < z.size(); ++i) {
    double expected = bn_inference(z[i], w, i % spec.f);
    if (with_relu) expected = relu(expected);
    positive += expected > 0;
    BOOST_TEST(std::fabs(y[i] - expected) <= 1e-4 * (1 + std::fabs(expected)),
               "output " << i << ": " << y[i] << ", expected " << expected);
  }
  BOOST_TEST(positive > 0u);
  // The same model without fusion (BatchNorm run on its own, with the
  // running statistics) agrees.
  sq::Model<Net, sq::MeanSquaredError, sq::Fusion::kOff> plain;
  plain.set_weights(0, conv);
  plain.set_weights(1, w);
  const auto y2 = plain.predict(x);
  for (std::size_t i = 0; i < y.size(); ++i) {
    BOOST_TEST(y2[i] == y[i], boost::test_tools::tolerance(1e-4f));
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(folded_conv_batchnorm_relu_matches_naive_loops) {
  check_folded<sq::Sequential<sq::Input<6, 5, 2>, sq::Conv2D<4, 3, sq::Same>,
                              sq::BatchNorm<>, sq::ReLU>>(
      {6, 5, 2, 4, 3, 3, 1, true, true}, true, 61);
  check_folded<
      sq::Sequential<sq::Input<7, 6, 3>, sq::Conv2D<3, {3, 2}, sq::Valid, 2>,
                     sq::BatchNorm<>>>({7, 6, 3, 3, 3, 2, 2, false, true},
                                       false, 62);
  check_folded<
      sq::Sequential<sq::Input<5, 5, 1>, sq::Conv2D<5, 3, sq::Same, 1, false>,
                     sq::BatchNorm<>, sq::ReLU>>(
      {5, 5, 1, 5, 3, 3, 1, true, false}, true, 63);
}

// ---- fused against unfused training
// ------------------------------------------------

BOOST_AUTO_TEST_CASE(fused_and_unfused_training_agree_on_running_statistics) {
  using Net = sq::Sequential<sq::Input<6, 6, 1>, sq::Conv2D<4, 3, sq::Same>,
                             sq::BatchNorm<>, sq::ReLU, sq::MaxPool2D<2>,
                             sq::Flatten, sq::Dense<5>, sq::BatchNorm<>,
                             sq::Tanh, sq::Dense<3>, sq::Softmax>;
  using Loss = sq::SparseCategoricalCrossentropy;
  sq::Model<Net, Loss, sq::Fusion::kOn> fused{sq::Seed{4}};
  sq::Model<Net, Loss, sq::Fusion::kOff> plain{sq::Seed{4}};
  constexpr std::size_t n = 12;
  const auto x = random_vector(n * 36, 70, 0.0f, 1.0f);
  std::vector<std::int32_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) labels[i] = i % 3;
  const auto initial = state_of(fused);
  for (int i = 0; i < 3; ++i) {
    fused.train_step({x, labels, {}, n}, sq::SGD{.lr = 0.1f});
    plain.train_step({x, labels, {}, n}, sq::SGD{.lr = 0.1f});
  }
  const auto a = state_of(fused), b = state_of(plain);
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST(std::fabs(a[i] - b[i]) <= 1e-5f, "state " << i);
  }
  BOOST_TEST(a != initial);
  const auto pa = params_of(fused), pb = params_of(plain);
  for (std::size_t i = 0; i < pa.size(); ++i) {
    BOOST_TEST(std::fabs(pa[i] - pb[i]) <= 2e-5f, "parameter " << i);
  }
}

// Copies fused's weights (layers [0, layers)) into plain and checks that
// both predict the same, within float tolerance, for the first `counts`
// images of x; again after three training steps of fused.
template <class Fused, class Plain>
void expect_fused_predicts_as_plain(Fused& fused, Plain& plain,
                                    const std::vector<float>& x,
                                    const std::vector<std::int32_t>& labels,
                                    std::size_t size, std::size_t layers,
                                    std::initializer_list<std::size_t> counts) {
  const std::size_t n = labels.size();
  const auto compare = [&](const char* when) {
    for (std::size_t layer = 0; layer < layers; ++layer) {
      plain.set_weights(layer, fused.get_weights(layer));
    }
    for (std::size_t count : counts) {
      const std::span<const float> some(x.data(), count * size);
      const auto a = fused.predict(some), b = plain.predict(some);
      BOOST_REQUIRE_EQUAL(a.size(), b.size());
      for (std::size_t i = 0; i < a.size(); ++i) {
        BOOST_TEST(std::fabs(a[i] - b[i]) <= 2e-5f,
                   when << ", batch " << count << ", output " << i << ": "
                        << a[i] << " vs " << b[i]);
      }
    }
  };
  compare("as initialised");
  for (int i = 0; i < 3; ++i) {
    fused.train_step({x, labels, {}, n}, sq::Adam{.lr = 0.05f});
  }
  compare("after training");
}

// At inference a fused 3×3 layer with 16 or more input channels keeps its
// kernel in the Winograd domain, prepared once, and runs as Winograd even
// for one image (4 tiles here). It predicts what the unfused model
// predicts (which transforms nothing ahead and, at these batches, runs the
// direct convolution), before and after the weights change.
BOOST_AUTO_TEST_CASE(prepared_winograd_inference_matches_unfused_model) {
  using Net =
      sq::Sequential<sq::Input<8, 8, 16>, sq::Conv2D<16, 3, sq::Same>,
                     sq::BatchNorm<>, sq::ReLU, sq::Conv2D<24, 3, sq::Same>,
                     sq::ReLU, sq::Flatten, sq::Dense<3>, sq::Softmax>;
  using Loss = sq::SparseCategoricalCrossentropy;
  sq::Model<Net, Loss, sq::Fusion::kOn> fused{sq::Seed{5}};
  sq::Model<Net, Loss, sq::Fusion::kOff> plain{sq::Seed{5}};
  constexpr std::size_t n = 5, size = 8 * 8 * 16;
  const auto x = random_vector(n * size, 71, 0.0f, 1.0f);
  std::vector<std::int32_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) labels[i] = i % 3;
  expect_fused_predicts_as_plain(fused, plain, x, labels, size, 8, {1, n});
}

// At inference Conv2D[+BatchNorm]+ReLU+MaxPool2D<2> is one step: a
// Winograd layer pools each output tile before storing it. The fused model
// predicts what the unfused one does (a convolution, then a max-pool
// kernel), for one image, a few, and enough for the threads to share tiles
// dynamically, before and after the weights change.
using PooledNet =
    sq::Sequential<sq::Input<16, 16, 16>, sq::Conv2D<16, 3, sq::Same>,
                   sq::BatchNorm<>, sq::ReLU, sq::MaxPool2D<2>,
                   sq::Conv2D<24, 3, sq::Same>, sq::ReLU, sq::MaxPool2D<2>,
                   sq::Flatten, sq::Dense<3>, sq::Softmax>;
using PooledPlan = sq::plan_t<PooledNet, sq::SparseCategoricalCrossentropy,
                              sq::PlanKind::kInference, sq::Fusion::kOn>;
static_assert(std::is_same_v<
              typename sq::at_t<0, PooledPlan>::exec,
              sq::fused::ConvBatchNorm<sq::Conv2D<16, 3, sq::Same>,
                                       sq::BatchNorm<>, sq::ReLU, true, true>>);
static_assert(std::is_same_v<typename sq::at_t<1, PooledPlan>::exec,
                             sq::fused::ConvActivation<
                                 sq::Conv2D<24, 3, sq::Same>, sq::ReLU, true>>);
static_assert(sq::at_t<1, PooledPlan>::last_layer == 6);
// Training keeps the pools: backward needs where each maximum was.
static_assert(
    std::is_same_v<
        typename sq::at_t<
            1, sq::plan_t<PooledNet, sq::SparseCategoricalCrossentropy,
                          sq::PlanKind::kTraining, sq::Fusion::kOn>>::exec,
        sq::MaxPool2D<2>>);

BOOST_AUTO_TEST_CASE(pooled_convolution_inference_matches_unfused_model) {
  using Loss = sq::SparseCategoricalCrossentropy;
  sq::Model<PooledNet, Loss, sq::Fusion::kOn> fused{sq::Seed{6}};
  sq::Model<PooledNet, Loss, sq::Fusion::kOff> plain{sq::Seed{6}};
  constexpr std::size_t n = 13, size = 16 * 16 * 16;
  const auto x = random_vector(n * size, 72, 0.0f, 1.0f);
  std::vector<std::int32_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) labels[i] = i % 3;
  expect_fused_predicts_as_plain(fused, plain, x, labels, size, 10, {1, 4, n});
}

// The same network with a Dropout before each MaxPool2D, which inference
// removes but which keeps the pool out of the convolution's step: its
// prediction is the unfused pooling's, and the pooled model must give the
// same bits (an odd image size: partial tiles, an unpooled last row).
BOOST_AUTO_TEST_CASE(pooled_convolution_inference_is_bitwise_conv_then_pool) {
  using Pooled =
      sq::Sequential<sq::Input<15, 15, 16>, sq::Conv2D<16, 3, sq::Same>,
                     sq::BatchNorm<>, sq::ReLU, sq::MaxPool2D<2>,
                     sq::Conv2D<24, 3, sq::Same>, sq::ReLU, sq::MaxPool2D<2>,
                     sq::Flatten, sq::Dense<3>, sq::Softmax>;
  using Blocked =
      sq::Sequential<sq::Input<15, 15, 16>, sq::Conv2D<16, 3, sq::Same>,
                     sq::BatchNorm<>, sq::ReLU, sq::Dropout<0.25>,
                     sq::MaxPool2D<2>, sq::Conv2D<24, 3, sq::Same>, sq::ReLU,
                     sq::Dropout<0.25>, sq::MaxPool2D<2>, sq::Flatten,
                     sq::Dense<3>, sq::Softmax>;
  using Loss = sq::SparseCategoricalCrossentropy;
  static_assert(sq::at_t<0, sq::plan_t<Blocked, Loss, sq::PlanKind::kInference,
                                       sq::Fusion::kOn>>::last_layer == 2);
  sq::Model<Pooled, Loss> pooled{sq::Seed{7}};
  sq::Model<Blocked, Loss> blocked{sq::Seed{8}};
  constexpr std::size_t n = 9, size = 15 * 15 * 16;
  const auto x = random_vector(n * size, 73, 0.0f, 1.0f);
  std::vector<std::int32_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) labels[i] = i % 3;
  for (int i = 0; i < 2; ++i) {  // running statistics away from 0 and 1
    pooled.train_step({x, labels, {}, n}, sq::Adam{.lr = 0.05f});
  }
  // Pooled layer → blocked layer holding the same weights.
  const std::pair<std::size_t, std::size_t> same[] = {
      {0, 0}, {1, 1}, {4, 5}, {8, 10}};
  for (const auto& [from, to] : same) {
    blocked.set_weights(to, pooled.get_weights(from));
  }
  for (std::size_t count : {std::size_t{1}, std::size_t{2}, n}) {
    const std::span<const float> some(x.data(), count * size);
    const auto a = pooled.predict(some), b = blocked.predict(some);
    BOOST_REQUIRE_EQUAL(a.size(), b.size());
    std::size_t differing = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      differing += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
    }
    BOOST_TEST(differing == 0u, "batch " << count);
  }
}

// Only a 2×2, stride-2, valid MaxPool2D joins the convolution, and only at
// inference with fusion on.
template <class Net, sq::PlanKind Kind, sq::Fusion F = sq::Fusion::kOn>
constexpr std::size_t first_step_end = sq::at_t<
    0, sq::plan_t<Net, sq::SparseCategoricalCrossentropy, Kind, F>>::last_layer;
template <class Pool>
using ConvReluPool =
    sq::Sequential<sq::Input<8, 8, 16>, sq::Conv2D<16, 3, sq::Same>, sq::ReLU,
                   Pool, sq::Flatten, sq::Dense<2>, sq::Softmax>;
static_assert(
    first_step_end<ConvReluPool<sq::MaxPool2D<2>>, sq::PlanKind::kInference> ==
    2);
static_assert(first_step_end<ConvReluPool<sq::MaxPool2D<2, 1>>,
                             sq::PlanKind::kInference> == 1);
static_assert(first_step_end<ConvReluPool<sq::MaxPool2D<2, 2, sq::Same>>,
                             sq::PlanKind::kInference> == 1);
static_assert(
    first_step_end<ConvReluPool<sq::MaxPool2D<3>>, sq::PlanKind::kInference> ==
    1);
static_assert(
    first_step_end<ConvReluPool<sq::AvgPool2D<2>>, sq::PlanKind::kInference> ==
    1);
static_assert(
    first_step_end<ConvReluPool<sq::MaxPool2D<2>>, sq::PlanKind::kEvaluation> ==
    1);
static_assert(first_step_end<ConvReluPool<sq::MaxPool2D<2>>,
                             sq::PlanKind::kInference, sq::Fusion::kOff> == 0);
