// Every compiled SIMD target of the batch-norm family against the scalar
// references in src/kernels/batchnorm.cc: odd channel counts (lines of
// lcm(channels, 16) floats, and the per-row slabs above 512), every fused
// activation, misaligned pointers, in-place calls, data with a large mean
// (precision), the reference's own gradient against finite differences,
// and results that do not depend on the thread count.
#define BOOST_TEST_MODULE batchnorm
#include <omp.h>

#include <algorithm>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "hwy_targets.hpp"
#include "sequent/kernels/activation.hpp"
#include "sequent/kernels/batchnorm.hpp"

namespace {

namespace kernels = sequent::kernels;
using kernels::Activation;

// n floats starting one float past the allocation, so no kernel can rely on
// aligned loads.
class MisalignedBuffer {
 public:
  explicit MisalignedBuffer(std::size_t n) : storage_(n + 1) {}
  MisalignedBuffer(const std::vector<float>& values)  // NOLINT: implicit
      : storage_(values.size() + 1) {
    std::copy(values.begin(), values.end(), data());
  }
  float* data() { return storage_.data() + 1; }
  float& operator[](std::size_t i) { return data()[i]; }
  std::vector<float> copy() const {
    return {storage_.begin() + 1, storage_.end()};
  }

 private:
  std::vector<float> storage_;
};

std::vector<float> Uniform(std::size_t n, float low, float high,
                           std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(low, high);
  std::vector<float> values(n);
  for (float& v : values) v = dist(rng);
  return values;
}

// rows × channels activations whose channels differ in mean and spread, as
// a convolution's outputs do.
std::vector<float> Activations(std::size_t rows, std::size_t channels,
                               std::uint32_t seed) {
  std::vector<float> x = Uniform(rows * channels, -1.0f, 1.0f, seed);
  const std::vector<float> offset = Uniform(channels, -3.0f, 3.0f, seed + 1);
  const std::vector<float> spread = Uniform(channels, 0.1f, 4.0f, seed + 2);
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = offset[i % channels] + spread[i % channels] * x[i];
  }
  return x;
}

const Activation kActivations[] = {Activation::kIdentity, Activation::kReLU,
                                   Activation::kLeakyReLU, Activation::kSigmoid,
                                   Activation::kTanh};
constexpr float kLeakyAlpha = 0.1f;

std::string Name(Activation act) {
  const char* names[] = {"identity", "relu", "leaky_relu", "sigmoid", "tanh"};
  return names[static_cast<int>(act)];
}

// Real layers have 16 … 128 channels; 1, 3, 5, 6, 17 make lines of 16, 48,
// 80, 48 and 272 floats; 33 and 600 take the per-row path (lcm > 512), 600
// in two slabs.
const std::size_t kChannels[] = {1, 3, 5, 6, 16, 17, 32, 33, 64, 128, 600};
const std::size_t kRows[] = {1, 2, 7, 33, 300};

// Checks |actual − expected| ≤ tolerance(i) everywhere as one assertion
// naming the first failure, so one bug does not print a million lines.
template <class Tolerance>
void ExpectClose(const float* actual, const float* expected, std::size_t n,
                 const std::string& what, const Tolerance& tolerance) {
  std::size_t i = 0;
  for (; i < n; ++i) {
    const double error = std::abs(double{actual[i]} - expected[i]);
    if (!(error <= tolerance(i))) break;  // also catches NaN
  }
  BOOST_TEST(i == n, what << ": element " << i << " is "
                          << (i < n ? actual[i] : 0.0f) << ", expected "
                          << (i < n ? expected[i] : 0.0f));
}

// A relative bound with a floor of 1·relative for values near zero.
auto Relative(const float* expected, double relative) {
  return [=](std::size_t i) {
    return relative * (1.0 + std::abs(double{expected[i]}));
  };
}

// Everything a training forward pass writes.
struct ForwardResult {
  std::vector<float> y, mean, inv_std, running_mean, running_var;
};

// Runs kernel (the dispatched function or its reference) on copies of the
// inputs, through misaligned buffers; y aliases x when in_place.
template <class Kernel>
ForwardResult RunForward(const Kernel& kernel, const std::vector<float>& x,
                         std::size_t rows, std::size_t channels, Activation act,
                         bool in_place) {
  MisalignedBuffer input(x), output(x.size());
  MisalignedBuffer gamma(Uniform(channels, 0.5f, 2.0f, 31));
  MisalignedBuffer beta(Uniform(channels, -1.0f, 1.0f, 32));
  MisalignedBuffer running_mean(Uniform(channels, -1.0f, 1.0f, 33));
  MisalignedBuffer running_var(Uniform(channels, 0.5f, 2.0f, 34));
  MisalignedBuffer mean(channels), inv_std(channels);
  float* y = in_place ? input.data() : output.data();
  kernel(input.data(), rows, channels, gamma.data(), beta.data(), 1e-3f, 0.99f,
         running_mean.data(), running_var.data(), mean.data(), inv_std.data(),
         y, act, kLeakyAlpha);
  return {in_place ? input.copy() : output.copy(), mean.copy(), inv_std.copy(),
          running_mean.copy(), running_var.copy()};
}

// The statistics are sums in double over float data, so they agree with
// the reference to the float rounding of the result (6e-8 relative); y adds
// a few float operations and, for sigmoid/tanh, Highway's Exp (a few ulp).
// Observed errors are ~5× below these bounds; a wrong formula, a missed
// tail or an uncorrected float mean (see the large-mean test) are off by
// 1e-5 or more.
void ExpectForwardClose(const ForwardResult& actual,
                        const ForwardResult& expected,
                        const std::string& what) {
  ExpectClose(actual.mean.data(), expected.mean.data(), expected.mean.size(),
              what + " mean", Relative(expected.mean.data(), 2e-7));
  ExpectClose(actual.inv_std.data(), expected.inv_std.data(),
              expected.inv_std.size(), what + " inv_std",
              Relative(expected.inv_std.data(), 2e-7));
  ExpectClose(actual.running_mean.data(), expected.running_mean.data(),
              expected.running_mean.size(), what + " running_mean",
              Relative(expected.running_mean.data(), 2e-7));
  ExpectClose(actual.running_var.data(), expected.running_var.data(),
              expected.running_var.size(), what + " running_var",
              Relative(expected.running_var.data(), 2e-7));
  ExpectClose(actual.y.data(), expected.y.data(), expected.y.size(),
              what + " y", Relative(expected.y.data(), 2e-6));
}

}  // namespace

BOOST_DATA_TEST_CASE(forward_training_matches_reference,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  for (const std::size_t channels : kChannels) {
    for (const std::size_t rows : kRows) {
      const std::vector<float> x =
          Activations(rows, channels, std::uint32_t(rows * channels));
      for (const Activation act : kActivations) {
        const ForwardResult expected =
            RunForward(kernels::BatchNormForwardTrainingReference, x, rows,
                       channels, act, false);
        const std::string what = Name(act) + " " + std::to_string(rows) + "x" +
                                 std::to_string(channels);
        for (const bool in_place : {false, true}) {
          ExpectForwardClose(RunForward(kernels::BatchNormForwardTraining, x,
                                        rows, channels, act, in_place),
                             expected, what + (in_place ? " in place" : ""));
        }
      }
    }
  }
}

// Values around 1000 ± 1: E[x²] − E[x]² in float would lose every digit of
// the variance (1e6 against 1), and a float running sum of the mean drifts
// by more than the tolerance. The kernel must match the double reference.
BOOST_DATA_TEST_CASE(forward_keeps_precision_with_large_mean,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  for (const std::size_t channels : {std::size_t{5}, std::size_t{32}}) {
    for (const std::size_t rows : {std::size_t{10}, std::size_t{65'536}}) {
      std::vector<float> x = Uniform(rows * channels, 999.0f, 1001.0f, 41);
      const ForwardResult expected =
          RunForward(kernels::BatchNormForwardTrainingReference, x, rows,
                     channels, Activation::kIdentity, false);
      const ForwardResult actual =
          RunForward(kernels::BatchNormForwardTraining, x, rows, channels,
                     Activation::kIdentity, false);
      const std::string what =
          "large mean " + std::to_string(rows) + "x" + std::to_string(channels);
      ExpectForwardClose(actual, expected, what);
      // Tighter on y than the general check: |y| ≲ 2·gamma here, and the
      // kernel centres on the exact mean, not on its float rounding.
      ExpectClose(actual.y.data(), expected.y.data(), expected.y.size(),
                  what + " y (absolute)", [](std::size_t) { return 2e-6; });
    }
  }
}

namespace {

// Everything a backward pass writes.
struct BackwardResult {
  std::vector<float> dx, dgamma, dbeta;
};

// A forward pass of the reference produces y, mean and inv_std; backward
// then runs on misaligned copies (dx aliasing dy when in_place).
struct BackwardCase {
  std::size_t rows, channels;
  Activation act;
  std::vector<float> x, y, dy, gamma, mean, inv_std;

  BackwardCase(std::size_t rows_in, std::size_t channels_in, Activation a)
      : rows(rows_in),
        channels(channels_in),
        act(a),
        x(Activations(rows, channels, std::uint32_t(7 * rows + channels))),
        y(x.size()),
        dy(Uniform(x.size(), -1.0f, 1.0f, std::uint32_t(rows + 3))),
        gamma(Uniform(channels, 0.5f, 2.0f, 35)),
        mean(channels),
        inv_std(channels) {
    const std::vector<float> beta = Uniform(channels, -1.0f, 1.0f, 36);
    std::vector<float> running_mean(channels), running_var(channels, 1.0f);
    kernels::BatchNormForwardTrainingReference(
        x.data(), rows, channels, gamma.data(), beta.data(), 1e-3f, 0.99f,
        running_mean.data(), running_var.data(), mean.data(), inv_std.data(),
        y.data(), act, kLeakyAlpha);
  }

  template <class Kernel>
  BackwardResult Run(const Kernel& kernel, bool in_place) const {
    MisalignedBuffer x_buffer(x), y_buffer(y), dy_buffer(dy), dx(x.size());
    MisalignedBuffer gamma_buffer(gamma), mean_buffer(mean),
        inv_std_buffer(inv_std), dgamma(channels), dbeta(channels);
    float* dx_data = in_place ? dy_buffer.data() : dx.data();
    kernel(x_buffer.data(), y_buffer.data(), dy_buffer.data(), rows, channels,
           gamma_buffer.data(), mean_buffer.data(), inv_std_buffer.data(), act,
           dx_data, dgamma.data(), dbeta.data(), kLeakyAlpha);
    return {in_place ? dy_buffer.copy() : dx.copy(), dgamma.copy(),
            dbeta.copy()};
  }
};

// dx = gamma·inv_std/rows · (rows·dz − dbeta − x̂·dgamma) cancels terms of
// size gamma·inv_std·|dz| (|dz| ≤ 1 here), so the bound is relative to that
// scale, per channel, not to dx itself. dgamma and dbeta are sums of rows
// terms of size ≲ |x̂|·|dz|, exact in double but for the float rounding of
// dz, whose tanh/sigmoid derivative may differ by an ulp.
void ExpectBackwardClose(const BackwardResult& actual,
                         const BackwardResult& expected, const BackwardCase& k,
                         const std::string& what) {
  ExpectClose(actual.dx.data(), expected.dx.data(), expected.dx.size(),
              what + " dx", [&](std::size_t i) {
                const std::size_t c = i % k.channels;
                return 2e-6 * (1.0 + k.gamma[c] * k.inv_std[c]);
              });
  const double rows = double(k.rows);
  ExpectClose(actual.dgamma.data(), expected.dgamma.data(), k.channels,
              what + " dgamma", [&](std::size_t) { return 2e-7 * rows; });
  ExpectClose(actual.dbeta.data(), expected.dbeta.data(), k.channels,
              what + " dbeta", [&](std::size_t) { return 2e-7 * rows; });
}

}  // namespace

BOOST_DATA_TEST_CASE(backward_matches_reference, sequent::test::targets(),
                     target) {
  sequent::test::TargetScope scope(target);
  for (const std::size_t channels : kChannels) {
    for (const std::size_t rows : kRows) {
      for (const Activation act : kActivations) {
        const BackwardCase k(rows, channels, act);
        const BackwardResult expected =
            k.Run(kernels::BatchNormBackwardReference, false);
        const std::string what = "backward " + Name(act) + " " +
                                 std::to_string(rows) + "x" +
                                 std::to_string(channels);
        ExpectBackwardClose(k.Run(kernels::BatchNormBackward, false), expected,
                            k, what);
        ExpectBackwardClose(k.Run(kernels::BatchNormBackward, true), expected,
                            k, what + " in place");
      }
    }
  }
}

BOOST_DATA_TEST_CASE(scale_shift_matches_reference, sequent::test::targets(),
                     target) {
  sequent::test::TargetScope scope(target);
  for (const std::size_t channels : kChannels) {
    for (const std::size_t rows : kRows) {
      const std::vector<float> x =
          Activations(rows, channels, std::uint32_t(rows + channels));
      MisalignedBuffer scale(Uniform(channels, -2.0f, 2.0f, 51));
      MisalignedBuffer shift(Uniform(channels, -1.0f, 1.0f, 52));
      for (const Activation act : kActivations) {
        std::vector<float> expected(x.size());
        kernels::ScaleShiftReference(x.data(), rows, channels, scale.data(),
                                     shift.data(), expected.data(), act,
                                     kLeakyAlpha);
        const std::string what = "scale-shift " + Name(act) + " " +
                                 std::to_string(rows) + "x" +
                                 std::to_string(channels);
        // One FMA (or a multiply and an add) in float, then the activation.
        MisalignedBuffer input(x), output(x.size());
        kernels::ScaleShift(input.data(), rows, channels, scale.data(),
                            shift.data(), output.data(), act, kLeakyAlpha);
        ExpectClose(output.data(), expected.data(), x.size(), what,
                    Relative(expected.data(), 5e-7));
        kernels::ScaleShift(input.data(), rows, channels, scale.data(),
                            shift.data(), input.data(), act, kLeakyAlpha);
        ExpectClose(input.data(), expected.data(), x.size(), what + " in place",
                    Relative(expected.data(), 5e-7));
      }
    }
  }
}

// Statistics over one row: mean = x, variance 0, running_var moves toward
// the variance without the rows/(rows − 1) factor (undefined for one row);
// no rows at all writes nothing.
BOOST_AUTO_TEST_CASE(one_row_and_no_rows) {
  const float x[2] = {3.0f, -2.0f}, gamma[2] = {1.0f, 1.0f},
              beta[2] = {0.5f, 0.5f};
  float running_mean[2] = {0.0f, 0.0f}, running_var[2] = {1.0f, 1.0f};
  float mean[2], inv_std[2], y[2];
  kernels::BatchNormForwardTraining(x, 1, 2, gamma, beta, 1e-3f, 0.9f,
                                    running_mean, running_var, mean, inv_std, y,
                                    Activation::kIdentity);
  BOOST_TEST(mean[0] == 3.0f);
  BOOST_TEST(y[1] == 0.5f);
  BOOST_TEST(inv_std[0] == float(1.0 / std::sqrt(double{1e-3f})));
  BOOST_TEST(running_mean[1] == -0.2f, boost::test_tools::tolerance(1e-6f));
  BOOST_TEST(running_var[0] == 0.9f, boost::test_tools::tolerance(1e-6f));

  float untouched[2] = {7.0f, 7.0f};
  kernels::BatchNormForwardTraining(x, 0, 2, gamma, beta, 1e-3f, 0.9f,
                                    untouched, untouched, untouched, untouched,
                                    untouched, Activation::kIdentity);
  BOOST_TEST(untouched[0] == 7.0f);
  BOOST_TEST(untouched[1] == 7.0f);
}

// The reference backward is the specification, so it is checked against
// central finite differences of the double loss L = Σ y·R through the
// reference forward, for x, gamma and beta, with smooth activations.
BOOST_AUTO_TEST_CASE(reference_backward_matches_finite_differences) {
  constexpr std::size_t kRowsFd = 6, kChannelsFd = 3;
  constexpr std::size_t n = kRowsFd * kChannelsFd;
  // h = 2^-7 is exact in float; the central difference's error is O(h²)
  // from curvature plus ~1e-6/h from the float rounding of y.
  constexpr float h = 1.0f / 128.0f;
  for (const Activation act :
       {Activation::kIdentity, Activation::kSigmoid, Activation::kTanh}) {
    std::vector<float> x = Activations(kRowsFd, kChannelsFd, 61);
    std::vector<float> gamma = Uniform(kChannelsFd, 0.5f, 2.0f, 62);
    std::vector<float> beta = Uniform(kChannelsFd, -1.0f, 1.0f, 63);
    const std::vector<float> weights = Uniform(n, -1.0f, 1.0f, 64);  // R

    const auto loss = [&]() {
      std::vector<float> y(n), mean(kChannelsFd), inv_std(kChannelsFd),
          running_mean(kChannelsFd), running_var(kChannelsFd);
      kernels::BatchNormForwardTrainingReference(
          x.data(), kRowsFd, kChannelsFd, gamma.data(), beta.data(), 1e-3f,
          0.99f, running_mean.data(), running_var.data(), mean.data(),
          inv_std.data(), y.data(), act, 0.0f);
      double sum = 0.0;
      for (std::size_t i = 0; i < n; ++i) sum += double{y[i]} * weights[i];
      return sum;
    };
    const auto numeric = [&](float& parameter) {
      const float saved = parameter;
      parameter = saved + h;
      const double plus = loss();
      parameter = saved - h;
      const double minus = loss();
      parameter = saved;
      return (plus - minus) / (2.0 * double{h});
    };

    std::vector<float> y(n), mean(kChannelsFd), inv_std(kChannelsFd),
        running_mean(kChannelsFd), running_var(kChannelsFd);
    kernels::BatchNormForwardTrainingReference(
        x.data(), kRowsFd, kChannelsFd, gamma.data(), beta.data(), 1e-3f, 0.99f,
        running_mean.data(), running_var.data(), mean.data(), inv_std.data(),
        y.data(), act, 0.0f);
    std::vector<float> dy = weights, dx(n), dgamma(kChannelsFd),
                       dbeta(kChannelsFd);
    kernels::BatchNormBackwardReference(x.data(), y.data(), dy.data(), kRowsFd,
                                        kChannelsFd, gamma.data(), mean.data(),
                                        inv_std.data(), act, dx.data(),
                                        dgamma.data(), dbeta.data(), 0.0f);
    const auto check = [&](double analytic, double finite,
                           const std::string& what) {
      BOOST_TEST(std::abs(analytic - finite) <= 5e-4 * (1.0 + std::abs(finite)),
                 Name(act) << " " << what << ": backward " << analytic
                           << ", finite difference " << finite);
    };
    for (std::size_t i = 0; i < n; ++i) {
      check(dx[i], numeric(x[i]), "dx[" + std::to_string(i) + "]");
    }
    for (std::size_t c = 0; c < kChannelsFd; ++c) {
      check(dgamma[c], numeric(gamma[c]), "dgamma[" + std::to_string(c) + "]");
      check(dbeta[c], numeric(beta[c]), "dbeta[" + std::to_string(c) + "]");
    }
  }
}

// Above 16K floats the passes split over threads. The reductions always use
// the same fixed row ranges, so 1, 2 or 3 threads give the same bits.
BOOST_AUTO_TEST_CASE(results_do_not_depend_on_thread_count) {
  const int max_threads = omp_get_max_threads();
  const std::pair<std::size_t, std::size_t> shapes[] = {
      {4096, 32}, {30'001, 3}, {200, 600}};
  for (const auto& [rows, channels] : shapes) {
    const std::vector<float> x = Activations(rows, channels, 71);
    const BackwardCase k(rows, channels, Activation::kReLU);
    std::vector<ForwardResult> forward;
    std::vector<BackwardResult> backward;
    for (const int threads : {1, 2, 3}) {
      omp_set_num_threads(threads);
      forward.push_back(RunForward(kernels::BatchNormForwardTraining, x, rows,
                                   channels, Activation::kReLU, false));
      backward.push_back(k.Run(kernels::BatchNormBackward, false));
    }
    omp_set_num_threads(max_threads);
    const std::string what =
        std::to_string(rows) + "x" + std::to_string(channels);
    for (std::size_t t = 1; t < forward.size(); ++t) {
      BOOST_TEST(forward[t].y == forward[0].y, what);
      BOOST_TEST(forward[t].mean == forward[0].mean, what);
      BOOST_TEST(forward[t].inv_std == forward[0].inv_std, what);
      BOOST_TEST(forward[t].running_var == forward[0].running_var, what);
      BOOST_TEST(backward[t].dx == backward[0].dx, what);
      BOOST_TEST(backward[t].dgamma == backward[0].dgamma, what);
      BOOST_TEST(backward[t].dbeta == backward[0].dbeta, what);
    }
    // And the threaded result is still the reference's.
    ExpectForwardClose(forward[1],
                       RunForward(kernels::BatchNormForwardTrainingReference, x,
                                  rows, channels, Activation::kReLU, false),
                       what + " threaded");
  }
}
