// Every compiled SIMD target of the pooling family against the scalar
// references in src/kernels/pool.cc: odd channel counts (vector tails and
// channels below one vector), Valid and Same padding, strides 1 and 2,
// overlapping and rectangular windows, global pooling, ties, misaligned
// pointers, and results that do not depend on the thread count.
#define BOOST_TEST_MODULE pool
#include <omp.h>

#include <algorithm>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "hwy_targets.hpp"
#include "sequent/kernels/pool.hpp"
#include "sequent/layers/geometry.hpp"

namespace {

namespace kernels = sequent::kernels;
using kernels::PoolShape;

// n values starting one element past the allocation, so no kernel can rely
// on aligned loads.
template <class T>
class MisalignedBuffer {
 public:
  explicit MisalignedBuffer(std::size_t n, T fill = T{})
      : storage_(n + 1, fill) {}
  T* data() { return storage_.data() + 1; }
  std::size_t size() const { return storage_.size() - 1; }

 private:
  std::vector<T> storage_;
};

// A pooling case as a layer would describe it; the kernel shape follows
// from Keras' geometry (the same helper the layers use).
struct Case {
  std::size_t batch, height, width, channels;
  int window_h, window_w, stride_h, stride_w;
  sequent::Padding padding;
};

PoolShape ShapeOf(const Case& k) {
  const auto y =
      sequent::detail::axis(int(k.height), k.window_h, k.stride_h, k.padding);
  const auto x =
      sequent::detail::axis(int(k.width), k.window_w, k.stride_w, k.padding);
  return {k.batch,
          k.height,
          k.width,
          k.channels,
          std::size_t(y.out),
          std::size_t(x.out),
          std::size_t(k.window_h),
          std::size_t(k.window_w),
          std::size_t(k.stride_h),
          std::size_t(k.stride_w),
          std::size_t(y.pad_before),
          std::size_t(x.pad_before)};
}

std::string Describe(const PoolShape& s) {
  return std::to_string(s.batch) + "x" + std::to_string(s.in_h) + "x" +
         std::to_string(s.in_w) + "x" + std::to_string(s.channels) +
         " window " + std::to_string(s.window_h) + "x" +
         std::to_string(s.window_w) + " stride " + std::to_string(s.stride_h) +
         "x" + std::to_string(s.stride_w) + " pad " +
         std::to_string(s.pad_top) + "," + std::to_string(s.pad_left);
}

// The channel counts of real layers (1, 3, 6, 16, 32, 64) and odd ones
// around the vector widths (4, 8, 16 lanes).
const std::size_t kChannels[] = {1, 3, 5, 6, 16, 17, 32, 33, 64};

// Geometries: the hot 2×2/2 (VGG, LeNet), overlapping 3×3/2 and 3×3/1, a
// stride wider than the window (uncovered input positions), rectangular
// windows, global pooling (window = image), each Valid and Same where it
// differs.
std::vector<Case> Cases(std::size_t channels) {
  using sequent::Padding;
  const Padding kValid = Padding::kValid, kSame = Padding::kSame;
  return {
      {2, 8, 8, channels, 2, 2, 2, 2, kValid},
      {2, 7, 9, channels, 2, 2, 2, 2, kValid},  // odd sizes drop an edge
      {2, 7, 9, channels, 2, 2, 2, 2, kSame},   // … or pad it
      {2, 7, 7, channels, 3, 3, 2, 2, kValid},  // overlapping windows
      {2, 7, 6, channels, 3, 3, 2, 2, kSame},
      {1, 6, 5, channels, 3, 3, 1, 1, kSame},  // stride 1, pads both sides
      {1, 6, 5, channels, 2, 2, 1, 1, kValid},
      {2, 9, 8, channels, 2, 1, 3, 2, kValid},  // gaps between windows
      {1, 9, 8, channels, 2, 3, 3, 2, kSame},
      {1, 5, 7, channels, 1, 1, 2, 2, kSame},   // 1×1 window, stride 2
      {3, 4, 5, channels, 4, 5, 1, 1, kValid},  // global pooling
  };
}

void FillUniform(float* x, std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-4.0f, 4.0f);
  for (std::size_t i = 0; i < n; ++i) x[i] = dist(rng);
}

// Few distinct values, so most windows hold ties and the first-in-scan-order
// rule is exercised.
void FillWithTies(float* x, std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(-2, 2);
  for (std::size_t i = 0; i < n; ++i) x[i] = float(dist(rng));
}

std::size_t InputSize(const PoolShape& s) {
  return s.batch * s.in_h * s.in_w * s.channels;
}
std::size_t OutputSize(const PoolShape& s) {
  return s.batch * s.out_h * s.out_w * s.channels;
}

// Checks |actual − expected| ≤ tolerance·(1 + |expected|) everywhere as one
// assertion that names the first failure only, so one bug does not print
// thousands of lines.
template <class T>
void ExpectClose(const T* actual, const T* expected, std::size_t n,
                 double tolerance, const std::string& what) {
  std::size_t i = 0;
  for (; i < n; ++i) {
    const double error = std::abs(double(actual[i]) - double(expected[i]));
    if (!(error <= tolerance * (1.0 + std::abs(double(expected[i]))))) break;
  }
  BOOST_TEST(i == n, what << ": element " << i << " is "
                          << (i < n ? double(actual[i]) : 0.0) << ", expected "
                          << (i < n ? double(expected[i]) : 0.0));
}

// Max pooling selects and routes values without arithmetic (backward adds
// each gradient to a zero, or to the sum of earlier ones in the reference's
// order), so it must match bit for bit.
constexpr double kExact = 0.0;
// Average pooling sums a window in float (the reference in double) and
// scales by 1/count instead of dividing: a few ulp.
constexpr double kAverageTolerance = 1e-6;

}  // namespace

BOOST_DATA_TEST_CASE(max_pool_forward_matches_reference,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  for (const std::size_t channels : kChannels) {
    for (const Case& k : Cases(channels)) {
      const PoolShape s = ShapeOf(k);
      for (const bool ties : {false, true}) {
        MisalignedBuffer<float> in(InputSize(s));
        if (ties) {
          FillWithTies(in.data(), in.size(), std::uint32_t(in.size()));
        } else {
          FillUniform(in.data(), in.size(), std::uint32_t(in.size()));
        }
        const std::size_t n = OutputSize(s);
        std::vector<float> expected(n);
        std::vector<std::int32_t> expected_argmax(n);
        kernels::MaxPoolForwardReference(s, in.data(), expected.data(),
                                         expected_argmax.data());

        MisalignedBuffer<float> out(n);
        MisalignedBuffer<std::int32_t> argmax(n);
        kernels::MaxPoolForward(s, in.data(), out.data(), argmax.data());
        const std::string what =
            "max pool " + Describe(s) + (ties ? " with ties" : "");
        ExpectClose(out.data(), expected.data(), n, kExact, what);
        ExpectClose(argmax.data(), expected_argmax.data(), n, kExact,
                    what + " argmax");

        // Inference passes no argmax and must give the same values.
        MisalignedBuffer<float> out_only(n);
        kernels::MaxPoolForward(s, in.data(), out_only.data(), nullptr);
        ExpectClose(out_only.data(), expected.data(), n, kExact,
                    what + " without argmax");
      }
    }
  }
}

BOOST_DATA_TEST_CASE(max_pool_backward_matches_reference,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  for (const std::size_t channels : kChannels) {
    for (const Case& k : Cases(channels)) {
      const PoolShape s = ShapeOf(k);
      // Ties make overlapping windows pick the same input, whose gradient
      // then sums several outputs.
      std::vector<float> in(InputSize(s));
      FillWithTies(in.data(), in.size(), 11);
      const std::size_t n = OutputSize(s);
      std::vector<float> out(n);
      MisalignedBuffer<std::int32_t> argmax(n);
      kernels::MaxPoolForwardReference(s, in.data(), out.data(), argmax.data());
      MisalignedBuffer<float> dout(n);
      FillUniform(dout.data(), n, 12);

      std::vector<float> expected(in.size());
      kernels::MaxPoolBackwardReference(s, dout.data(), argmax.data(),
                                        expected.data());
      // din starts as garbage: the kernel must write every element.
      MisalignedBuffer<float> din(in.size(),
                                  std::numeric_limits<float>::quiet_NaN());
      kernels::MaxPoolBackward(s, dout.data(), argmax.data(), din.data());
      ExpectClose(din.data(), expected.data(), in.size(), kExact,
                  "max pool backward " + Describe(s));
    }
  }
}

BOOST_DATA_TEST_CASE(avg_pool_forward_matches_reference,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  for (const std::size_t channels : kChannels) {
    for (const Case& k : Cases(channels)) {
      const PoolShape s = ShapeOf(k);
      MisalignedBuffer<float> in(InputSize(s));
      FillUniform(in.data(), in.size(), std::uint32_t(3 * in.size()));
      const std::size_t n = OutputSize(s);
      std::vector<float> expected(n);
      kernels::AvgPoolForwardReference(s, in.data(), expected.data());
      MisalignedBuffer<float> out(n);
      kernels::AvgPoolForward(s, in.data(), out.data());
      ExpectClose(out.data(), expected.data(), n, kAverageTolerance,
                  "avg pool " + Describe(s));
    }
  }
}

BOOST_DATA_TEST_CASE(avg_pool_backward_matches_reference,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  for (const std::size_t channels : kChannels) {
    for (const Case& k : Cases(channels)) {
      const PoolShape s = ShapeOf(k);
      const std::size_t n = OutputSize(s);
      MisalignedBuffer<float> dout(n);
      FillUniform(dout.data(), n, 13);
      std::vector<float> expected(InputSize(s));
      kernels::AvgPoolBackwardReference(s, dout.data(), expected.data());
      MisalignedBuffer<float> din(expected.size(),
                                  std::numeric_limits<float>::quiet_NaN());
      kernels::AvgPoolBackward(s, dout.data(), din.data());
      ExpectClose(din.data(), expected.data(), expected.size(),
                  kAverageTolerance, "avg pool backward " + Describe(s));
    }
  }
}

// The references themselves, on cases small enough to check by hand.
BOOST_AUTO_TEST_CASE(references_follow_keras_semantics) {
  // One 3×3 single-channel image, 2×2 windows, stride 2, Same padding:
  // out is 2×2 and the right column and bottom row are half-empty windows.
  const PoolShape s{1, 3, 3, 1, 2, 2, 2, 2, 2, 2, 0, 0};
  const float in[9] = {1, 5, 2,  //
                       3, 5, 4,  //
                       6, 0, 8};
  float out[4];
  std::int32_t argmax[4];
  kernels::MaxPoolForwardReference(s, in, out, argmax);
  BOOST_TEST(std::vector<float>(out, out + 4) ==
             std::vector<float>({5, 4, 6, 8}));
  // The tie between in[1] and in[4] goes to the first in scan order.
  BOOST_TEST(std::vector<std::int32_t>(argmax, argmax + 4) ==
             std::vector<std::int32_t>({1, 5, 6, 8}));
  // Average pooling counts only the positions inside the image.
  kernels::AvgPoolForwardReference(s, in, out);
  BOOST_TEST(std::vector<float>(out, out + 4) ==
             std::vector<float>({3.5f, 3.0f, 3.0f, 8.0f}));
  const float dout[4] = {4, 2, 2, 1};
  float din[9];
  kernels::AvgPoolBackwardReference(s, dout, din);
  BOOST_TEST(std::vector<float>(din, din + 9) ==
             std::vector<float>({1, 1, 1, 1, 1, 1, 1, 1, 1}));
}

// Large enough to split over threads (the kernels' threshold is 16K input
// floats): the split, by output rows forward and by samples backward, must
// not change a single bit.
BOOST_AUTO_TEST_CASE(results_do_not_depend_on_thread_count) {
  const std::vector<Case> cases = {
      {16, 32, 32, 32, 2, 2, 2, 2, sequent::Padding::kValid},
      {7, 31, 29, 17, 3, 3, 2, 2, sequent::Padding::kSame}};
  const int max_threads = omp_get_max_threads();
  for (const Case& k : cases) {
    const PoolShape s = ShapeOf(k);
    std::vector<float> in(InputSize(s)), dout(OutputSize(s));
    FillUniform(in.data(), in.size(), 21);
    FillUniform(dout.data(), dout.size(), 22);
    struct Results {
      std::vector<float> max, avg, max_din, avg_din;
      std::vector<std::int32_t> argmax;
    };
    const auto run = [&](int threads) {
      omp_set_num_threads(threads);
      Results r{std::vector<float>(dout.size()),
                std::vector<float>(dout.size()), std::vector<float>(in.size()),
                std::vector<float>(in.size()),
                std::vector<std::int32_t>(dout.size())};
      kernels::MaxPoolForward(s, in.data(), r.max.data(), r.argmax.data());
      kernels::AvgPoolForward(s, in.data(), r.avg.data());
      kernels::MaxPoolBackward(s, dout.data(), r.argmax.data(),
                               r.max_din.data());
      kernels::AvgPoolBackward(s, dout.data(), r.avg_din.data());
      return r;
    };
    const Results one = run(1);
    const Results all = run(std::max(2, max_threads));
    const std::string what = Describe(s);
    BOOST_TEST(one.max == all.max, what);
    BOOST_TEST(one.argmax == all.argmax, what);
    BOOST_TEST(one.avg == all.avg, what);
    BOOST_TEST(one.max_din == all.max_din, what);
    BOOST_TEST(one.avg_din == all.avg_din, what);
    // And the threaded run still matches the reference.
    std::vector<float> expected(dout.size());
    kernels::MaxPoolForwardReference(s, in.data(), expected.data(), nullptr);
    BOOST_TEST(all.max == expected, what);
  }
  omp_set_num_threads(max_threads);
}
