// Every compiled SIMD target of the activation family against the scalar
// references in src/kernels/activation.cc: odd sizes, misaligned pointers,
// in-place calls, extreme inputs, and dropout's reproducibility contract.
#define BOOST_TEST_MODULE activation
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

namespace {

using sequent::kernels::Activation;
namespace kernels = sequent::kernels;

// Odd sizes exercise the vector tails; 300'001 is above the threshold at
// which element-wise kernels split over OpenMP threads.
const std::vector<std::size_t> kSizes = {0, 1, 3, 17, 33, 1000, 100'003};
constexpr std::size_t kThreadedSize = 300'001;

const Activation kActivations[] = {Activation::kIdentity, Activation::kReLU,
                                   Activation::kLeakyReLU, Activation::kSigmoid,
                                   Activation::kTanh};
constexpr float kLeakyAlpha = 0.1f;

// n floats starting one float past a 16-byte-aligned allocation, so no
// kernel can rely on aligned loads.
class MisalignedBuffer {
 public:
  explicit MisalignedBuffer(std::size_t n) : storage_(n + 1) {}
  float* data() { return storage_.data() + 1; }
  float& operator[](std::size_t i) { return data()[i]; }
  std::vector<float> copy() const {
    return {storage_.begin() + 1, storage_.end()};
  }

 private:
  std::vector<float> storage_;
};

void FillUniform(float* x, std::size_t n, float low, float high,
                 std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(low, high);
  for (std::size_t i = 0; i < n; ++i) x[i] = dist(rng);
}

std::string Name(Activation act) {
  switch (act) {
    case Activation::kIdentity:
      return "identity";
    case Activation::kReLU:
      return "relu";
    case Activation::kLeakyReLU:
      return "leaky_relu";
    case Activation::kSigmoid:
      return "sigmoid";
    case Activation::kTanh:
      return "tanh";
  }
  return "?";
}

// Checks |actual − expected| ≤ tolerance(i) everywhere and reports the first
// failure only, so one bug does not print a million lines.
template <class Tolerance>
void ExpectClose(const float* actual, const float* expected, std::size_t n,
                 const std::string& what, const Tolerance& tolerance) {
  for (std::size_t i = 0; i < n; ++i) {
    const double error = std::abs(double{actual[i]} - expected[i]);
    if (!(error <= tolerance(i))) {  // also catches NaN
      BOOST_ERROR(what << ": element " << i << " is " << actual[i]
                       << ", expected " << expected[i] << " (tolerance "
                       << tolerance(i) << ")");
      return;
    }
  }
}

void ExpectEqual(const float* actual, const float* expected, std::size_t n,
                 const std::string& what) {
  ExpectClose(actual, expected, n, what, [](std::size_t) { return 0.0; });
}

// Highway's Exp and Tanh are within a few ulp (≈ 6e-8 each) of the C
// library's; 1e-6 relative allows ~16 ulp and still catches any wrong
// formula. The absolute floor covers results that underflow to subnormals.
constexpr double kTranscendentalRelative = 1e-6;
constexpr double kUnderflowFloor = 1e-37;

bool IsExact(Activation act) {
  return act != Activation::kSigmoid && act != Activation::kTanh;
}

}  // namespace

BOOST_DATA_TEST_CASE(activation_forward_matches_reference,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  std::vector<std::size_t> sizes = kSizes;
  sizes.push_back(kThreadedSize);
  for (const Activation act : kActivations) {
    for (const std::size_t n : sizes) {
      MisalignedBuffer x(n), y(n);
      FillUniform(x.data(), n, -12.0f, 12.0f, 1 + n);
      // Extremes: exp would overflow or underflow without the stable forms.
      const float extremes[] = {0.0f, -0.0f, 100.0f, -100.0f, 1e-7f, -1e-7f};
      for (std::size_t i = 0; i < std::min<std::size_t>(n, 6); ++i) {
        x[i] = extremes[i];
      }
      std::vector<float> expected(n);
      kernels::ActivationForwardReference(act, kLeakyAlpha, x.data(),
                                          expected.data(), n);
      const std::string what = Name(act) + " n=" + std::to_string(n);
      const auto tolerance = [&](std::size_t i) {
        return IsExact(act) ? 0.0
                            : kTranscendentalRelative * std::abs(expected[i]) +
                                  kUnderflowFloor;
      };

      kernels::ActivationForward(act, kLeakyAlpha, x.data(), y.data(), n);
      ExpectClose(y.data(), expected.data(), n, what, tolerance);

      kernels::ActivationForward(act, kLeakyAlpha, x.data(), x.data(), n);
      ExpectClose(x.data(), expected.data(), n, what + " in place", tolerance);
    }
  }
}

BOOST_DATA_TEST_CASE(activation_backward_matches_reference,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  std::vector<std::size_t> sizes = kSizes;
  sizes.push_back(kThreadedSize);
  for (const Activation act : kActivations) {
    for (const std::size_t n : sizes) {
      MisalignedBuffer y(n), dy(n), dx(n);
      // y must be a possible output of f: produce it with the reference.
      FillUniform(y.data(), n, -6.0f, 6.0f, 2 + n);
      // Exact zeros, where f'(0) must follow the contract's "y > 0" rule.
      for (std::size_t i = 0; i < n; i += 5) y[i] = 0.0f;
      kernels::ActivationForwardReference(act, kLeakyAlpha, y.data(), y.data(),
                                          n);
      FillUniform(dy.data(), n, -2.0f, 2.0f, 3 + n);
      std::vector<float> expected(n);
      kernels::ActivationBackwardReference(act, kLeakyAlpha, y.data(),
                                           dy.data(), expected.data(), n);
      const std::string what = Name(act) + " n=" + std::to_string(n);
      // 1 − y² and y(1 − y) cancel as y → ±1; with or without FMA they round
      // differently, by up to an ulp of dy, so the bound scales with |dy|.
      const std::vector<float> dy_values = dy.copy();
      const auto tolerance = [&](std::size_t i) {
        return IsExact(act)
                   ? 0.0
                   : 2.5e-7 * std::abs(dy_values[i]) +
                         kTranscendentalRelative * std::abs(expected[i]);
      };

      kernels::ActivationBackward(act, kLeakyAlpha, y.data(), dy.data(),
                                  dx.data(), n);
      ExpectClose(dx.data(), expected.data(), n, what, tolerance);

      kernels::ActivationBackward(act, kLeakyAlpha, y.data(), dy.data(),
                                  dy.data(), n);
      ExpectClose(dy.data(), expected.data(), n, what + " in place", tolerance);
    }
  }
}

BOOST_DATA_TEST_CASE(softmax_forward_matches_reference,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  const std::pair<std::size_t, std::size_t> shapes[] = {
      {0, 10}, {1, 1}, {3, 17}, {7, 33}, {32, 10}, {5, 1000}, {2, 10'007}};
  for (const auto [rows, cols] : shapes) {
    const std::size_t n = rows * cols;
    MisalignedBuffer x(n), y(n);
    FillUniform(x.data(), n, -20.0f, 20.0f, 4 + n);
    // Shift whole rows far out: exp(x) would overflow or vanish without the
    // max subtraction, yet softmax is shift-invariant.
    for (std::size_t c = 0; rows >= 3 && c < cols; ++c) {
      x[0 * cols + c] += 1000.0f;
      x[1 * cols + c] -= 1000.0f;
    }
    std::vector<float> expected(n);
    kernels::SoftmaxForwardReference(x.data(), expected.data(), rows, cols);
    const std::string what =
        "softmax " + std::to_string(rows) + "x" + std::to_string(cols);
    // Each term's Exp is within ~2.4e-7 relative; the float difference
    // x − max rounds by half an ulp of itself, which exp turns into a
    // relative error of |x − max|·2^-24; the row sum is accumulated in float
    // over cols/lanes additions per lane.
    std::vector<double> tolerances(n);
    for (std::size_t r = 0; r < rows; ++r) {
      const float* x_row = x.data() + r * cols;
      const float max = *std::max_element(x_row, x_row + cols);
      for (std::size_t c = 0; c < cols; ++c) {
        const double relative =
            4e-7 + 1e-9 * double(cols) + 6e-8 * (double{max} - x_row[c]);
        tolerances[r * cols + c] =
            relative * expected[r * cols + c] + kUnderflowFloor;
      }
    }
    const auto tolerance = [&](std::size_t i) { return tolerances[i]; };

    kernels::SoftmaxForward(x.data(), y.data(), rows, cols);
    ExpectClose(y.data(), expected.data(), n, what, tolerance);
    for (std::size_t r = 0; r < rows; ++r) {
      double row_sum = 0.0;
      for (std::size_t c = 0; c < cols; ++c) row_sum += y[r * cols + c];
      BOOST_TEST(row_sum == 1.0, boost::test_tools::tolerance(1e-5));
    }

    kernels::SoftmaxForward(x.data(), x.data(), rows, cols);
    ExpectClose(x.data(), expected.data(), n, what + " in place", tolerance);
  }
}

BOOST_DATA_TEST_CASE(softmax_backward_matches_reference,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  const std::pair<std::size_t, std::size_t> shapes[] = {
      {0, 10}, {1, 1}, {3, 17}, {7, 33}, {32, 10}, {5, 1000}, {2, 10'007}};
  for (const auto [rows, cols] : shapes) {
    const std::size_t n = rows * cols;
    MisalignedBuffer y(n), dy(n), dx(n);
    FillUniform(y.data(), n, -4.0f, 4.0f, 5 + n);
    kernels::SoftmaxForwardReference(y.data(), y.data(), rows, cols);
    FillUniform(dy.data(), n, -1.0f, 1.0f, 6 + n);
    std::vector<float> expected(n);
    kernels::SoftmaxBackwardReference(y.data(), dy.data(), expected.data(),
                                      rows, cols);
    const std::string what =
        "softmax backward " + std::to_string(rows) + "x" + std::to_string(cols);
    // dx = y·(dy − Σ dy·y): the float dot product carries a relative error
    // of a few ulp times √cols of its terms (|dy| ≤ 1), which y then scales.
    const std::vector<float> y_values = y.copy();
    const auto tolerance = [&](std::size_t i) {
      return y_values[i] * 3e-7 * std::sqrt(double(cols)) +
             1e-6 * std::abs(expected[i]);
    };

    kernels::SoftmaxBackward(y.data(), dy.data(), dx.data(), rows, cols);
    ExpectClose(dx.data(), expected.data(), n, what, tolerance);

    kernels::SoftmaxBackward(y.data(), dy.data(), dy.data(), rows, cols);
    ExpectClose(dy.data(), expected.data(), n, what + " in place", tolerance);
  }
}

BOOST_DATA_TEST_CASE(dropout_mask_is_bit_identical_to_reference,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  std::vector<std::size_t> sizes = kSizes;
  sizes.push_back(kThreadedSize);
  // The last offset makes the counter cross 2^32, where the keys change.
  const std::uint64_t offsets[] = {0, 12'345, (std::uint64_t{1} << 32) - 7};
  const float rates[] = {0.0f, 0.1f, 0.5f, 0.9f, 1.0f};
  for (const std::size_t n : sizes) {
    for (const std::uint64_t offset : offsets) {
      for (const float rate : rates) {
        const std::uint64_t seed = 0x5EED0000u + n;
        MisalignedBuffer mask(n);
        std::vector<float> expected(n);
        kernels::DropoutMaskReference(seed, offset, rate, expected.data(), n);
        kernels::DropoutMask(seed, offset, rate, mask.data(), n);
        ExpectEqual(mask.data(), expected.data(), n,
                    "dropout n=" + std::to_string(n) +
                        " offset=" + std::to_string(offset) +
                        " rate=" + std::to_string(rate));
      }
    }
  }
}

BOOST_DATA_TEST_CASE(dropout_mask_depends_only_on_seed_and_index,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  constexpr std::size_t kCount = 1000;
  constexpr std::uint64_t kSeed = 42;
  std::vector<float> whole(kCount);
  kernels::DropoutMask(kSeed, 0, 0.5f, whole.data(), kCount);
  // Any slice, started anywhere, reproduces the same elements.
  for (const std::size_t start : {1, 17, 500, 999}) {
    std::vector<float> slice(kCount - start);
    kernels::DropoutMask(kSeed, start, 0.5f, slice.data(), slice.size());
    ExpectEqual(slice.data(), whole.data() + start, slice.size(),
                "slice from " + std::to_string(start));
  }
}

BOOST_DATA_TEST_CASE(dropout_mask_has_the_requested_statistics,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  constexpr std::size_t kCount = 100'000;
  for (const float rate : {0.1f, 0.5f, 0.8f}) {
    std::vector<float> mask(kCount), other_seed(kCount);
    kernels::DropoutMask(7, 0, rate, mask.data(), kCount);
    kernels::DropoutMask(8, 0, rate, other_seed.data(), kCount);
    const float keep_value = 1.0f / (1.0f - rate);
    std::size_t dropped = 0, both_dropped = 0, neighbours_dropped = 0;
    for (std::size_t i = 0; i < kCount; ++i) {
      BOOST_REQUIRE(mask[i] == 0.0f || mask[i] == keep_value);
      dropped += mask[i] == 0.0f;
      both_dropped += mask[i] == 0.0f && other_seed[i] == 0.0f;
      neighbours_dropped += i > 0 && mask[i] == 0.0f && mask[i - 1] == 0.0f;
    }
    // σ of a drop fraction over 1e5 draws is ≤ 0.0016, so ±0.01 is > 6σ.
    const double drop_fraction = double(dropped) / kCount;
    BOOST_TEST(std::abs(drop_fraction - rate) < 0.01,
               "rate " << rate << ": dropped " << drop_fraction);
    // Seeds and neighbouring indices draw independently: P(both) = rate².
    BOOST_TEST(std::abs(double(both_dropped) / kCount - rate * rate) < 0.01);
    BOOST_TEST(std::abs(double(neighbours_dropped) / kCount - rate * rate) <
               0.01);
  }
}

// The ends of the range: nothing dropped and nothing scaled at rate 0,
// everything dropped at rate 1 (no 1/0 leaks into the mask).
BOOST_DATA_TEST_CASE(dropout_mask_at_rates_zero_and_one,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  constexpr std::size_t kCount = 1000;
  std::vector<float> mask(kCount);
  kernels::DropoutMask(1, 0, 0.0f, mask.data(), kCount);
  BOOST_TEST(std::count(mask.begin(), mask.end(), 1.0f) == kCount);
  kernels::DropoutMask(1, 0, 1.0f, mask.data(), kCount);
  BOOST_TEST(std::count(mask.begin(), mask.end(), 0.0f) == kCount);
}

BOOST_DATA_TEST_CASE(multiply_matches_reference, sequent::test::targets(),
                     target) {
  sequent::test::TargetScope scope(target);
  std::vector<std::size_t> sizes = kSizes;
  sizes.push_back(kThreadedSize);
  for (const std::size_t n : sizes) {
    MisalignedBuffer a(n), b(n), out(n);
    FillUniform(a.data(), n, -3.0f, 3.0f, 7 + n);
    FillUniform(b.data(), n, -3.0f, 3.0f, 8 + n);
    std::vector<float> expected(n);
    kernels::MultiplyReference(a.data(), b.data(), expected.data(), n);
    const std::string what = "multiply n=" + std::to_string(n);

    kernels::Multiply(a.data(), b.data(), out.data(), n);
    ExpectEqual(out.data(), expected.data(), n, what);
    MisalignedBuffer a_copy = a;
    kernels::Multiply(a_copy.data(), b.data(), a_copy.data(), n);
    ExpectEqual(a_copy.data(), expected.data(), n, what + " into a");
    kernels::Multiply(a.data(), b.data(), b.data(), n);
    ExpectEqual(b.data(), expected.data(), n, what + " into b");
  }
}

BOOST_DATA_TEST_CASE(accumulate_matches_reference, sequent::test::targets(),
                     target) {
  sequent::test::TargetScope scope(target);
  std::vector<std::size_t> sizes = kSizes;
  sizes.push_back(kThreadedSize);
  for (const std::size_t n : sizes) {
    MisalignedBuffer x(n), sum(n);
    FillUniform(x.data(), n, -3.0f, 3.0f, 9 + n);
    FillUniform(sum.data(), n, -3.0f, 3.0f, 10 + n);
    std::vector<float> expected(sum.data(), sum.data() + n);
    kernels::AccumulateReference(x.data(), expected.data(), n);
    kernels::Accumulate(x.data(), sum.data(), n);
    ExpectEqual(sum.data(), expected.data(), n,
                "accumulate n=" + std::to_string(n));
  }
}

// Element-wise kernels split over threads only above a size threshold; the
// split must not change a single bit.
BOOST_AUTO_TEST_CASE(results_do_not_depend_on_thread_count) {
  const std::size_t n = kThreadedSize;
  std::vector<float> x(n), one_thread(n), all_threads(n);
  FillUniform(x.data(), n, -5.0f, 5.0f, 9);
  const int max_threads = omp_get_max_threads();
  const auto run_both = [&](const auto& kernel, const std::string& what) {
    omp_set_num_threads(1);
    kernel(one_thread.data());
    omp_set_num_threads(std::max(2, max_threads));
    kernel(all_threads.data());
    ExpectEqual(all_threads.data(), one_thread.data(), n, what);
  };
  run_both(
      [&](float* out) {
        kernels::ActivationForward(Activation::kTanh, 0, x.data(), out, n);
      },
      "tanh");
  run_both([&](float* out) { kernels::DropoutMask(3, 5, 0.5f, out, n); },
           "dropout");
  omp_set_num_threads(max_threads);
}
