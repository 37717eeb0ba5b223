// ConvForwardMaxPool — inference's Conv2D[+BatchNorm][+activation] followed
// by MaxPool2D<2> as one kernel — on every compiled SIMD target: bitwise
// equal to ConvForward then MaxPoolForward (the plan it replaces), within
// float tolerance of the scalar references, for Winograd layers (pooled in
// the output transform) and for the others (pooled from `unpooled`), with
// odd output sizes, partial tiles, every epilogue, prepared and unprepared
// Winograd weights, ties and NaN, and 1 or 2 threads.
#define BOOST_TEST_MODULE conv_pool
#include <omp.h>

#include <algorithm>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "hwy_targets.hpp"
#include "sequent/kernels/conv.hpp"
#include "sequent/kernels/pool.hpp"

namespace {

using sequent::kernels::Activation;
using sequent::kernels::ConvShape;
using sequent::kernels::Epilogue;
using sequent::kernels::PoolShape;

constexpr float kSentinel = -12345.0f;

// A 3×3 or 5×5 stride-1 convolution, Same (pad = k / 2) or Valid.
ConvShape Shape(std::size_t batch, std::size_t h, std::size_t w,
                std::size_t in_c, std::size_t out_c, std::size_t k, bool same) {
  ConvShape s;
  s.batch = batch;
  s.in_h = h;
  s.in_w = w;
  s.in_c = in_c;
  s.out_c = out_c;
  s.kernel_h = s.kernel_w = k;
  s.pad_top = s.pad_left = same ? k / 2 : 0;
  s.out_h = same ? h : h - k + 1;
  s.out_w = same ? w : w - k + 1;
  return s;
}

PoolShape PoolOf(const ConvShape& s) {
  PoolShape p;
  p.batch = s.batch;
  p.in_h = s.out_h;
  p.in_w = s.out_w;
  p.channels = s.out_c;
  p.out_h = s.out_h / 2;
  p.out_w = s.out_w / 2;
  p.window_h = p.window_w = 2;
  p.stride_h = p.stride_w = 2;
  return p;
}

std::vector<float> Random(std::size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

struct Case {
  ConvShape shape;
  Activation activation = Activation::kIdentity;
  bool bias = false;
  bool prepared = false;        // Winograd weights transformed beforehand
  bool special_values = false;  // ties (ReLU zeros) and a NaN input pixel
};

void CheckCase(const Case& c, std::mt19937& rng) {
  const ConvShape& s = c.shape;
  const PoolShape pool = PoolOf(s);
  const std::size_t conv_floats = s.batch * s.out_h * s.out_w * s.out_c;
  const std::size_t pooled_floats = s.batch * pool.out_h * pool.out_w * s.out_c;
  std::vector<float> in = Random(s.batch * s.in_h * s.in_w * s.in_c, rng);
  if (c.special_values) in[in.size() / 3] = std::nanf("");
  const std::vector<float> weights =
      Random(s.kernel_h * s.kernel_w * s.in_c * s.out_c, rng);
  const std::vector<float> bias = Random(s.out_c, rng);
  const Epilogue epilogue{c.bias ? bias.data() : nullptr, c.activation, 0.1f};
  std::vector<float> u;
  const std::size_t u_floats = sequent::kernels::WinogradWeightFloats(
      s.kernel_h, s.kernel_w, s.stride_h, s.stride_w, s.in_c, s.out_c);
  if (c.prepared && u_floats > 0) {
    u.resize(u_floats);
    sequent::kernels::ConvWinogradWeights(s, weights.data(), u.data());
  }
  const float* prepared = u.empty() ? nullptr : u.data();

  // What the unfused inference plan computes.
  std::vector<float> conv(conv_floats), want(pooled_floats);
  sequent::kernels::ConvForward(s, in.data(), weights.data(), conv.data(),
                                epilogue, prepared);
  sequent::kernels::MaxPoolForward(pool, conv.data(), want.data(), nullptr);

  std::vector<float> unpooled(conv_floats, kSentinel),
      got(pooled_floats + 2, kSentinel);
  sequent::kernels::ConvForwardMaxPool(s, in.data(), weights.data(),
                                       unpooled.data(), got.data() + 1,
                                       epilogue, prepared);
  BOOST_TEST_CONTEXT(
      "conv " << s.batch << "x" << s.in_h << "x" << s.in_w << "x" << s.in_c
              << " -> " << s.out_h << "x" << s.out_w << "x" << s.out_c
              << ", kernel " << s.kernel_h << ", activation "
              << static_cast<int>(c.activation) << (c.bias ? ", bias" : "")
              << (prepared ? ", prepared" : "")) {
    BOOST_TEST(got.front() == kSentinel);
    BOOST_TEST(got.back() == kSentinel);
    std::size_t differing = 0;
    for (std::size_t i = 0; i < pooled_floats; ++i) {
      // Bitwise, NaN included.
      differing += std::memcmp(&got[i + 1], &want[i], sizeof(float)) != 0;
    }
    BOOST_TEST(differing == 0u);
    // A prepared Winograd layer with enough tiles (ConvForward's rule)
    // pools in its output transform and leaves `unpooled` alone; a layer of
    // few channels pools in its pixel tiles on targets with room for two
    // rows of them and leaves it alone too; any other layer writes its
    // convolution there.
    const std::size_t tiles =
        s.batch * sequent::kernels::WinogradTiles(s.out_h, s.out_w);
    const bool pooled_in_transform =
        prepared != nullptr &&
        tiles >= sequent::kernels::kWinogradMinTilesPrepared;
    std::size_t untouched = 0;
    for (float v : unpooled) untouched += v == kSentinel;
    if (pooled_in_transform) {
      BOOST_TEST(untouched == conv_floats);
    } else if (u_floats == 0 && untouched != conv_floats) {
      BOOST_TEST(std::memcmp(unpooled.data(), conv.data(),
                             conv_floats * sizeof(float)) == 0);
    }

    // And within float tolerance of the scalar references (but for a NaN
    // input, which Winograd spreads to whole tiles and the reference only
    // to the outputs whose window holds it).
    if (c.special_values) return;
    std::vector<float> ref_conv(conv_floats), ref(pooled_floats);
    sequent::kernels::ConvForwardReference(s, in.data(), weights.data(),
                                           ref_conv.data(), epilogue);
    sequent::kernels::MaxPoolForwardReference(pool, ref_conv.data(), ref.data(),
                                              nullptr);
    const float tolerance =
        1e-5f * static_cast<float>(s.kernel_h * s.kernel_w * s.in_c);
    std::size_t far = 0;
    for (std::size_t i = 0; i < pooled_floats; ++i) {
      if (std::isnan(ref[i])) {
        far += !std::isnan(got[i + 1]);
      } else {
        far += !(std::fabs(got[i + 1] - ref[i]) <= tolerance);
      }
    }
    BOOST_TEST(far == 0u);
  }
}

const Activation kActivations[] = {Activation::kIdentity, Activation::kReLU,
                                   Activation::kLeakyReLU, Activation::kSigmoid,
                                   Activation::kTanh};

// ConvForwardMaxPool of s on 1 and on 2 threads, bitwise the same.
void CheckThreadIndependence(const ConvShape& s, std::mt19937& rng) {
  const PoolShape pool = PoolOf(s);
  const std::vector<float> in = Random(s.batch * s.in_h * s.in_w * s.in_c, rng);
  const std::vector<float> weights =
      Random(s.kernel_h * s.kernel_w * s.in_c * s.out_c, rng);
  const std::vector<float> bias = Random(s.out_c, rng);
  const Epilogue epilogue{bias.data(), Activation::kReLU, 0.0f};
  const std::size_t pooled = s.batch * pool.out_h * pool.out_w * s.out_c;
  std::vector<float> unpooled(s.batch * s.out_h * s.out_w * s.out_c);
  std::vector<float> one(pooled), two(pooled);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  sequent::kernels::ConvForwardMaxPool(s, in.data(), weights.data(),
                                       unpooled.data(), one.data(), epilogue);
  omp_set_num_threads(2);
  sequent::kernels::ConvForwardMaxPool(s, in.data(), weights.data(),
                                       unpooled.data(), two.data(), epilogue);
  omp_set_num_threads(saved);
  BOOST_TEST(std::memcmp(one.data(), two.data(), pooled * sizeof(float)) == 0);
}

}  // namespace

// Winograd shapes (3×3, 16–128 channels): even and odd outputs, tiles cut
// by the image edge, channels that are not whole vectors, several column
// panels, enough tiles for the dynamic split; and, at batch 1, few enough
// tiles that only prepared weights run as Winograd.
BOOST_DATA_TEST_CASE(pooled_winograd_matches_conv_then_pool,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  std::mt19937 rng(11);
  const ConvShape shapes[] = {
      Shape(2, 16, 16, 32, 32, 3, true),  Shape(1, 13, 11, 17, 33, 3, true),
      Shape(3, 9, 10, 40, 16, 3, false),  Shape(2, 8, 8, 64, 100, 3, true),
      Shape(16, 16, 16, 16, 24, 3, true), Shape(1, 8, 8, 64, 128, 3, true),
      Shape(1, 6, 7, 16, 16, 3, true),    Shape(4, 21, 19, 20, 40, 3, false)};
  std::size_t index = 0;
  for (const ConvShape& s : shapes) {
    for (bool prepared : {false, true}) {
      Case c;
      c.shape = s;
      c.activation = kActivations[index % 5];
      c.bias = index % 3 != 1;
      c.prepared = prepared;
      CheckCase(c, rng);
      ++index;
    }
  }
}

// The shape with every second row of the input: a row stride of 2.
ConvShape RowStride2(ConvShape s) {
  s.stride_h = 2;
  s.out_h = (s.in_h + 2 * s.pad_top - s.kernel_h) / 2 + 1;
  return s;
}

// Layers that do not run as Winograd (5×5, few channels, wide inputs)
// pool from `unpooled`, or in their pixel tiles (at most 8 channels):
// LeNet's first layer, odd output sizes (the last row or column dropped),
// rows of one, two and several vectors, 3 to 8 channels (one or two
// channel groups), and a row stride of 2.
BOOST_DATA_TEST_CASE(pooled_other_layers_match_conv_then_pool,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  std::mt19937 rng(12);
  const ConvShape shapes[] = {Shape(2, 32, 32, 3, 6, 5, false),
                              Shape(3, 14, 14, 6, 16, 5, false),
                              Shape(1, 9, 9, 3, 32, 3, true),
                              Shape(2, 8, 8, 160, 16, 3, true),
                              Shape(1, 13, 11, 2, 5, 3, true),
                              Shape(3, 9, 20, 1, 8, 3, false),
                              Shape(2, 6, 40, 3, 3, 5, true),
                              Shape(1, 7, 70, 4, 7, 3, true),
                              RowStride2(Shape(2, 19, 17, 3, 6, 5, false)),
                              RowStride2(Shape(1, 12, 9, 2, 4, 3, true))};
  std::size_t index = 0;
  for (const ConvShape& s : shapes) {
    Case c;
    c.shape = s;
    c.activation = kActivations[index % 5];
    c.bias = true;
    c.prepared = true;
    CheckCase(c, rng);
    ++index;
  }
}

// ReLU makes ties (windows of zeros) and a NaN input pixel spreads NaN to
// the outputs whose patches hold it: both must pool as MaxPoolForward does.
BOOST_DATA_TEST_CASE(pooled_ties_and_nan_match_conv_then_pool,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  std::mt19937 rng(13);
  for (const ConvShape& s :
       {Shape(2, 12, 12, 16, 16, 3, true), Shape(1, 10, 10, 3, 8, 3, true),
        Shape(2, 12, 14, 2, 6, 5, false)}) {
    for (Activation activation : {Activation::kReLU, Activation::kIdentity}) {
      Case c;
      c.shape = s;
      c.activation = activation;
      c.special_values = true;
      c.prepared = true;  // Winograd on every target, however few tiles
      CheckCase(c, rng);
    }
  }
}

// Output tiles are split over threads; 1 and 2 threads agree to the bit
// (Winograd, and pixel tiles: split across images, and inside one image,
// where each thread fills only the rows of the planes it reads).
BOOST_DATA_TEST_CASE(pooled_is_independent_of_thread_count,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  std::mt19937 rng(14);
  for (const ConvShape& s :
       {Shape(8, 16, 16, 32, 48, 3, true), Shape(8, 32, 32, 3, 6, 5, false),
        Shape(3, 32, 32, 3, 6, 5, false), Shape(1, 32, 32, 3, 6, 5, false),
        Shape(1, 30, 30, 3, 7, 5, true),
        RowStride2(Shape(1, 40, 31, 3, 6, 5, true))}) {
    CheckThreadIndependence(s, rng);
  }
}