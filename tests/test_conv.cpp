// ConvForward, ConvBackwardData and ConvBackwardWeights on every compiled
// SIMD target against their scalar references: odd channel counts, image
// sizes and kernels, Same and Valid padding, strides 1 and 2, batch 1 and 3,
// misaligned pointers, every epilogue, shapes that take several K slices,
// and bitwise independence from the thread count. The references themselves
// are checked once against a hand-worked example and numerical gradients.
#define BOOST_TEST_MODULE conv
#include <omp.h>

#include <algorithm>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <map>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "hwy_targets.hpp"
#include "sequent/kernels/conv.hpp"

namespace {

using sequent::kernels::Activation;
using sequent::kernels::ConvShape;
using sequent::kernels::Epilogue;

enum class Padding { kSame, kValid };

constexpr float kSentinel = -12345.0f;  // around every output, must survive

// The shape of a Keras Conv2D: Same → out = ceil(in / stride) with the
// padding split as evenly as possible (the extra row at the bottom);
// Valid → out = (in − k) / stride + 1, no padding.
ConvShape MakeShape(std::size_t batch, std::size_t in_h, std::size_t in_w,
                    std::size_t in_c, std::size_t out_c, std::size_t kernel_h,
                    std::size_t kernel_w, std::size_t stride_h,
                    std::size_t stride_w, Padding padding) {
  ConvShape s;
  s.batch = batch;
  s.in_h = in_h;
  s.in_w = in_w;
  s.in_c = in_c;
  s.out_c = out_c;
  s.kernel_h = kernel_h;
  s.kernel_w = kernel_w;
  s.stride_h = stride_h;
  s.stride_w = stride_w;
  auto axis = [&](std::size_t in, std::size_t k, std::size_t stride,
                  std::size_t* out, std::size_t* pad_before) {
    if (padding == Padding::kValid) {
      *out = (in - k) / stride + 1;
      *pad_before = 0;
      return;
    }
    *out = (in + stride - 1) / stride;
    const std::size_t needed = (*out - 1) * stride + k;
    *pad_before = needed > in ? (needed - in) / 2 : 0;
  };
  axis(in_h, kernel_h, stride_h, &s.out_h, &s.pad_top);
  axis(in_w, kernel_w, stride_w, &s.out_w, &s.pad_left);
  return s;
}

std::size_t InputSize(const ConvShape& s) {
  return s.batch * s.in_h * s.in_w * s.in_c;
}
std::size_t OutputSize(const ConvShape& s) {
  return s.batch * s.out_h * s.out_w * s.out_c;
}
std::size_t WeightSize(const ConvShape& s) {
  return s.kernel_h * s.kernel_w * s.in_c * s.out_c;
}

std::string ShapeText(const ConvShape& s) {
  std::ostringstream os;
  os << s.batch << "x" << s.in_h << "x" << s.in_w << "x" << s.in_c << " -> "
     << s.out_h << "x" << s.out_w << "x" << s.out_c << ", kernel " << s.kernel_h
     << "x" << s.kernel_w << ", stride " << s.stride_h << "x" << s.stride_w
     << ", pad " << s.pad_top << "," << s.pad_left;
  return os.str();
}

struct ConvCase {
  ConvShape shape;
  bool misaligned = false;  // offset every base pointer by one float
  bool bias = false;
  Activation activation = Activation::kIdentity;
};

std::ostream& operator<<(std::ostream& os, const ConvCase& c) {
  return os << ShapeText(c.shape) << (c.misaligned ? ", misaligned" : "")
            << (c.bias ? ", bias" : "") << ", activation "
            << static_cast<int>(c.activation);
}

// A float array with one sentinel before and after its n values; the
// values start at an offset of 1 (aligned + 4 bytes) or 2 floats.
class Buffer {
 public:
  Buffer(std::size_t n, bool misaligned)
      : offset_(misaligned ? 1 : 2), storage_(n + 4, kSentinel), n_(n) {}
  float* data() { return storage_.data() + offset_; }
  const float* data() const { return storage_.data() + offset_; }
  std::size_t size() const { return n_; }
  float operator[](std::size_t i) const { return data()[i]; }
  void Fill(std::mt19937& rng) {
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (std::size_t i = 0; i < n_; ++i) data()[i] = dist(rng);
  }
  bool SentinelsIntact() const {
    return storage_[offset_ - 1] == kSentinel &&
           storage_[offset_ + n_] == kSentinel;
  }

 private:
  std::size_t offset_;
  std::vector<float> storage_;
  std::size_t n_;
};

// Float sums of n products drift from the double reference by at most about
// n·ε·Σ|terms|; `magnitude` is that Σ|terms| per element (the reference run
// on absolute values), `terms` the longest sum of the pass.
void ExpectClose(const char* pass, const ConvCase& c, const Buffer& got,
                 const std::vector<float>& want,
                 const std::vector<float>& magnitude, std::size_t terms) {
  BOOST_CHECK_MESSAGE(got.SentinelsIntact(),
                      pass << " wrote outside its output: " << c);
  const double relative = 1.2e-7 * static_cast<double>(terms + 4);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double tolerance = relative * (magnitude[i] + 1.0) + 1e-6;
    if (!(std::fabs(double{got[i]} - want[i]) <= tolerance)) {
      if (++bad <= 3) {
        BOOST_ERROR(pass << ", " << c << ": element " << i << " is " << got[i]
                         << ", expected " << want[i]);
      }
    }
  }
  BOOST_CHECK_MESSAGE(bad == 0, pass << ", " << c << ": " << bad
                                     << " wrong elements of " << got.size());
}

// The operands of one case, drawn from rng.
struct ConvOperands {
  Buffer in, weights, bias, dout;
  ConvOperands(const ConvShape& s, bool misaligned, std::mt19937& rng)
      : in(InputSize(s), misaligned),
        weights(WeightSize(s), misaligned),
        bias(s.out_c, misaligned),
        dout(OutputSize(s), misaligned) {
    in.Fill(rng);
    weights.Fill(rng);
    bias.Fill(rng);
    dout.Fill(rng);
  }
};

// The references' results for one case and, per element, the Σ|terms| that
// bounds their distance to a float computation.
struct Expected {
  std::vector<float> out, out_magnitude, din, din_magnitude;
  std::vector<float> dweights, dweights_magnitude, dbias, dbias_magnitude;
};

std::vector<float> Abs(const Buffer& b) {
  std::vector<float> v(b.data(), b.data() + b.size());
  for (float& x : v) x = std::fabs(x);
  return v;
}

Expected ComputeExpected(const ConvCase& c, const ConvOperands& x) {
  const ConvShape& s = c.shape;
  Expected e;
  e.out.resize(OutputSize(s));
  e.out_magnitude.resize(OutputSize(s));
  e.din.resize(InputSize(s));
  e.din_magnitude.resize(InputSize(s));
  e.dweights.resize(WeightSize(s));
  e.dweights_magnitude.resize(WeightSize(s));
  e.dbias.resize(s.out_c);
  e.dbias_magnitude.resize(s.out_c);
  const Epilogue epilogue{c.bias ? x.bias.data() : nullptr, c.activation, 0.1f};
  const std::vector<float> abs_in = Abs(x.in), abs_weights = Abs(x.weights),
                           abs_dout = Abs(x.dout);
  using namespace sequent::kernels;  // NOLINT(build/namespaces)
  ConvForwardReference(s, x.in.data(), x.weights.data(), e.out.data(),
                       epilogue);
  ConvForwardReference(s, abs_in.data(), abs_weights.data(),
                       e.out_magnitude.data());
  ConvBackwardDataReference(s, x.dout.data(), x.weights.data(), e.din.data());
  ConvBackwardDataReference(s, abs_dout.data(), abs_weights.data(),
                            e.din_magnitude.data());
  ConvBackwardWeightsReference(s, x.in.data(), x.dout.data(), e.dweights.data(),
                               e.dbias.data());
  ConvBackwardWeightsReference(s, abs_in.data(), abs_dout.data(),
                               e.dweights_magnitude.data(),
                               e.dbias_magnitude.data());
  return e;
}

// Every target sees the same cases with the same operands (each test
// restarts its generator), so the references run once per case, not once
// per target. The key is the case and its first operand values.
const Expected& ExpectedFor(const ConvCase& c, const ConvOperands& x) {
  static std::map<std::string, Expected> cache;
  std::ostringstream key;
  key << c << " " << x.in[0] << " " << x.weights[0] << " " << x.dout[0];
  auto it = cache.find(key.str());
  if (it == cache.end()) {
    it = cache.emplace(key.str(), ComputeExpected(c, x)).first;
  }
  return it->second;
}

// Runs all three passes of one case on the current target and compares each
// with its reference.
void CheckConvCase(const ConvCase& c, std::mt19937& rng) {
  const ConvShape& s = c.shape;
  const bool m = c.misaligned;
  const ConvOperands x(s, m, rng);
  const Expected& want = ExpectedFor(c, x);
  const std::size_t terms = std::max({s.kernel_h * s.kernel_w * s.in_c,
                                      s.kernel_h * s.kernel_w * s.out_c,
                                      s.batch * s.out_h * s.out_w});

  const Epilogue epilogue{c.bias ? x.bias.data() : nullptr, c.activation, 0.1f};
  Buffer out(OutputSize(s), m);
  sequent::kernels::ConvForward(s, x.in.data(), x.weights.data(), out.data(),
                                epilogue);
  ExpectClose("forward", c, out, want.out, want.out_magnitude, terms);
  // With the weights transformed once beforehand (as inference prepares
  // them), a layer that may run as Winograd does so from fewer tiles on;
  // within the same tolerance, and out of bounds of nothing.
  const std::size_t u_floats = sequent::kernels::WinogradWeightFloats(
      s.kernel_h, s.kernel_w, s.stride_h, s.stride_w, s.in_c, s.out_c);
  if (u_floats > 0) {
    Buffer u(u_floats, m), prepared(OutputSize(s), m);
    sequent::kernels::ConvWinogradWeights(s, x.weights.data(), u.data());
    sequent::kernels::ConvForward(s, x.in.data(), x.weights.data(),
                                  prepared.data(), epilogue, u.data());
    ExpectClose("forward, prepared Winograd weights", c, prepared, want.out,
                want.out_magnitude, terms);
    BOOST_CHECK_MESSAGE(u.SentinelsIntact(),
                        "Winograd weights written out of bounds: " << c);
  }

  Buffer din(InputSize(s), m);
  sequent::kernels::ConvBackwardData(s, x.dout.data(), x.weights.data(),
                                     din.data());
  ExpectClose("backward data", c, din, want.din, want.din_magnitude, terms);

  Buffer dweights(WeightSize(s), m), dbias(s.out_c, m);
  // Half of the cases ask for no bias gradient.
  sequent::kernels::ConvBackwardWeights(s, x.in.data(), x.dout.data(),
                                        dweights.data(),
                                        c.bias ? dbias.data() : nullptr);
  ExpectClose("backward weights", c, dweights, want.dweights,
              want.dweights_magnitude, terms);
  if (c.bias) {
    ExpectClose("bias gradient", c, dbias, want.dbias, want.dbias_magnitude,
                terms);
  } else {
    BOOST_CHECK_MESSAGE(dbias.data()[0] == kSentinel || s.out_c == 0,
                        "dbias written although null was passed");
  }
}

const Activation kActivations[] = {Activation::kIdentity, Activation::kReLU,
                                   Activation::kLeakyReLU, Activation::kSigmoid,
                                   Activation::kTanh};

}  // namespace

// Every (in_c, out_c) pair × every kernel × padding × stride, with image
// sizes, batch, alignment and epilogue varying from case to case.
BOOST_DATA_TEST_CASE(conv_matches_reference_over_odd_shapes,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  std::mt19937 rng(1);
  const std::size_t in_channels[] = {1, 3, 5, 17};
  const std::size_t out_channels[] = {1, 6, 16, 33};
  const std::size_t sizes[] = {1, 5, 7, 13};
  struct Kernel {
    std::size_t h, w;
  };
  const Kernel kernels[] = {{1, 1}, {3, 3}, {5, 5}, {1, 3}, {3, 1}};
  std::size_t index = 0;
  for (const Kernel& k : kernels) {
    for (Padding padding : {Padding::kSame, Padding::kValid}) {
      for (std::size_t stride : {1, 2}) {
        for (std::size_t in_c : in_channels) {
          for (std::size_t out_c : out_channels) {
            ++index;
            // Vary the image with the case; Valid needs it ≥ the kernel.
            std::size_t h = sizes[index % 4], w = sizes[(index / 4 + 1) % 4];
            if (padding == Padding::kValid) {
              h = std::max(h, k.h);
              w = std::max(w, k.w);
            }
            ConvCase c;
            c.shape =
                MakeShape(index % 3 == 0 ? 3 : 1, h, w, in_c, out_c, k.h, k.w,
                          stride, index % 5 == 0 ? 1 : stride, padding);
            c.misaligned = index % 2 == 1;
            c.bias = index % 3 != 1;
            c.activation = kActivations[index % 5];
            CheckConvCase(c, rng);
          }
        }
      }
    }
  }
}

// Shapes of real networks at small batch, and ones that reach the other
// blocking paths: several K slices on tap boundaries (in_c 64, 130), channel
// chunks within a tap (in_c 400), output widths of one, two and three
// vectors plus remainders, and enough work to use every thread.
BOOST_DATA_TEST_CASE(conv_matches_reference_on_network_shapes,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  std::mt19937 rng(2);
  const ConvShape shapes[] = {
      MakeShape(2, 32, 32, 3, 32, 3, 3, 1, 1, Padding::kSame),   // VGG 1
      MakeShape(2, 16, 16, 32, 32, 3, 3, 1, 1, Padding::kSame),  // VGG 2
      MakeShape(2, 8, 8, 64, 64, 3, 3, 1, 1, Padding::kSame),    // VGG 4
      MakeShape(1, 4, 4, 128, 128, 3, 3, 1, 1, Padding::kSame),  // VGG 6
      MakeShape(2, 28, 28, 1, 32, 3, 3, 1, 1, Padding::kSame),   // Fashion
      MakeShape(4, 32, 32, 3, 6, 5, 5, 1, 1, Padding::kValid),   // LeNet 1
      MakeShape(4, 14, 14, 6, 16, 5, 5, 1, 1, Padding::kValid),  // LeNet 2
      MakeShape(2, 9, 7, 130, 70, 3, 3, 1, 1, Padding::kSame),
      MakeShape(2, 5, 6, 400, 24, 1, 1, 1, 1, Padding::kValid),
      MakeShape(3, 11, 10, 33, 50, 3, 3, 2, 2, Padding::kSame),
      MakeShape(1, 3, 4, 64, 128, 3, 3, 1, 1, Padding::kSame),
      // Pixel-vector tiles (few output channels, or few input channels for
      // backward data): whole and partial channel groups, rows of several
      // tiles, a row stride of 2, kernels wider than the gradient tiles
      // take, and rows narrower than one vector.
      MakeShape(3, 17, 45, 2, 8, 3, 3, 1, 1, Padding::kSame),
      MakeShape(2, 12, 30, 4, 7, 5, 5, 2, 1, Padding::kSame),
      MakeShape(2, 9, 21, 8, 5, 7, 7, 1, 1, Padding::kSame),
      MakeShape(1, 6, 3, 6, 16, 5, 3, 1, 1, Padding::kSame),
      MakeShape(2, 11, 40, 16, 3, 3, 5, 1, 1, Padding::kValid),
      // Rows that are not a whole number of pixel tiles run as tiles of
      // several rows and one vector: rows left over after them, half a
      // 16-lane vector stored (8 and 12 pixels), few channels (stored
      // through memory), and a row stride of 2 between a tile's rows.
      MakeShape(2, 11, 12, 3, 6, 3, 3, 1, 1, Padding::kSame),
      MakeShape(3, 9, 8, 1, 5, 3, 3, 1, 1, Padding::kSame),
      MakeShape(1, 13, 20, 2, 3, 3, 3, 2, 1, Padding::kSame),
  };
  std::size_t index = 0;
  for (const ConvShape& s : shapes) {
    ConvCase c;
    c.shape = s;
    c.misaligned = index % 2 == 1;
    c.bias = true;
    c.activation = index % 3 == 0 ? Activation::kReLU : Activation::kIdentity;
    CheckConvCase(c, rng);
    ++index;
  }
}

// 3×3 stride-1 layers with 16 to 128 channels on both sides and enough
// 4×4 output tiles take the Winograd path (forward, backward data with the
// channel roles swapped, and backward weights from 96 tiles): tiles cut by
// the image edge on every side, channel counts that are not whole vectors
// or channel tiles, several column panels and tile blocks.
BOOST_DATA_TEST_CASE(conv_winograd_shapes_match_reference,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  std::mt19937 rng(6);
  const ConvShape shapes[] = {
      MakeShape(2, 13, 11, 17, 33, 3, 3, 1, 1, Padding::kSame),
      MakeShape(6, 9, 10, 40, 16, 3, 3, 1, 1, Padding::kValid),
      MakeShape(1, 30, 17, 16, 20, 3, 3, 1, 1, Padding::kSame),
      MakeShape(2, 16, 16, 128, 128, 3, 3, 1, 1, Padding::kSame),
      MakeShape(8, 8, 8, 64, 100, 3, 3, 1, 1, Padding::kSame),
      MakeShape(3, 14, 14, 33, 70, 3, 3, 1, 1, Padding::kSame),
      // ≥ 96 tiles: backward weights too, over one and several blocks.
      MakeShape(6, 16, 16, 17, 33, 3, 3, 1, 1, Padding::kSame),
      MakeShape(4, 21, 19, 20, 40, 3, 3, 1, 1, Padding::kSame),
      MakeShape(4, 22, 22, 128, 20, 3, 3, 1, 1, Padding::kValid),
      // Few tiles: direct, or Winograd from prepared weights.
      MakeShape(1, 8, 8, 64, 128, 3, 3, 1, 1, Padding::kSame),
      MakeShape(1, 7, 9, 16, 16, 3, 3, 1, 1, Padding::kSame),
      MakeShape(2, 4, 4, 128, 24, 3, 3, 1, 1, Padding::kSame),
  };
  std::size_t index = 0;
  for (const ConvShape& s : shapes) {
    ConvCase c;
    c.shape = s;
    c.misaligned = index % 2 == 0;
    c.bias = index % 3 != 2;
    c.activation = kActivations[index % 5];
    CheckConvCase(c, rng);
    ++index;
  }
}

BOOST_DATA_TEST_CASE(conv_bias_and_every_activation, sequent::test::targets(),
                     target) {
  sequent::test::TargetScope scope(target);
  std::mt19937 rng(3);
  const ConvShape shapes[] = {
      MakeShape(1, 7, 5, 5, 33, 3, 3, 1, 1, Padding::kSame),
      MakeShape(3, 6, 6, 3, 6, 5, 5, 2, 1, Padding::kSame),
      MakeShape(1, 9, 9, 17, 16, 3, 1, 1, 1, Padding::kValid),
  };
  for (Activation activation : kActivations) {
    for (const ConvShape& s : shapes) {
      for (bool bias : {false, true}) {
        ConvCase c;
        c.shape = s;
        c.bias = bias;
        c.activation = activation;
        c.misaligned = bias;
        CheckConvCase(c, rng);
      }
    }
  }
}

// Work is split over threads by output blocks only, so 1 and 2 threads must
// agree to the bit, for splits along pixels, along output channels, along
// patch columns (backward weights) and in the Winograd passes.
BOOST_DATA_TEST_CASE(conv_is_independent_of_thread_count,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  const ConvShape shapes[] = {
      MakeShape(3, 16, 16, 32, 32, 3, 3, 1, 1, Padding::kSame),
      MakeShape(1, 3, 4, 64, 128, 3, 3, 1, 1, Padding::kSame),
      MakeShape(3, 16, 16, 1, 64, 3, 3, 1, 1, Padding::kSame),
      MakeShape(4, 32, 32, 3, 6, 5, 5, 1, 1, Padding::kValid),
      MakeShape(4, 14, 14, 6, 16, 5, 5, 1, 1, Padding::kValid),
      MakeShape(5, 20, 23, 3, 7, 3, 3, 1, 1, Padding::kSame),
      MakeShape(2, 15, 13, 17, 33, 3, 3, 2, 2, Padding::kSame),
      MakeShape(8, 16, 16, 32, 64, 3, 3, 1, 1, Padding::kSame),  // Winograd
      // One image in pixel tiles: each thread fills only the rows of the
      // planes its output rows read (padded, and with a row stride).
      MakeShape(1, 32, 32, 3, 6, 5, 5, 1, 1, Padding::kValid),
      MakeShape(1, 29, 30, 3, 7, 5, 5, 2, 1, Padding::kSame),
      MakeShape(1, 30, 30, 6, 3, 5, 5, 1, 1, Padding::kSame),
  };
  const int saved_threads = omp_get_max_threads();
  std::mt19937 rng(4);
  for (const ConvShape& s : shapes) {
    Buffer in(InputSize(s), false), weights(WeightSize(s), false),
        bias(s.out_c, false), dout(OutputSize(s), false);
    in.Fill(rng);
    weights.Fill(rng);
    bias.Fill(rng);
    dout.Fill(rng);
    const Epilogue epilogue{bias.data(), Activation::kReLU, 0.0f};
    std::vector<std::vector<float>> results[2];
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      Buffer out(OutputSize(s), false), din(InputSize(s), false),
          dweights(WeightSize(s), false), dbias(s.out_c, false);
      sequent::kernels::ConvForward(s, in.data(), weights.data(), out.data(),
                                    epilogue);
      sequent::kernels::ConvBackwardData(s, dout.data(), weights.data(),
                                         din.data());
      sequent::kernels::ConvBackwardWeights(s, in.data(), dout.data(),
                                            dweights.data(), dbias.data());
      for (const Buffer* b : {&out, &din, &dweights, &dbias}) {
        results[threads - 1].emplace_back(b->data(), b->data() + b->size());
      }
    }
    const char* passes[] = {"forward", "backward data", "backward weights",
                            "bias gradient"};
    for (std::size_t p = 0; p < 4; ++p) {
      BOOST_CHECK_MESSAGE(
          results[0][p] == results[1][p],
          passes[p] << " differs between 1 and 2 threads: " << ShapeText(s));
    }
  }
  omp_set_num_threads(saved_threads);
}

// The references are the specification, so they are checked against the
// definition independently: a hand-worked example of the forward pass, and
// the backward passes against central differences of the forward one.
BOOST_AUTO_TEST_CASE(conv_forward_reference_matches_hand_worked_example) {
  // in (1×3×3×1) = 1..9; kernel 2×2 = [[1, 0], [0, −1]], so each output is
  // in[y][x] − in[y+1][x+1] = −4 (Valid), and with Same padding at stride 2
  // the outputs sit at (0,0), (0,2), (2,0), (2,2) with the bottom/right
  // padding supplying zeros: 1−5, 3−0, 7−0, 9−0.
  const float in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const float kernel[4] = {1, 0, 0, -1};
  const float bias = 0.5f;
  float out[4];
  const ConvShape valid = MakeShape(1, 3, 3, 1, 1, 2, 2, 1, 1, Padding::kValid);
  sequent::kernels::ConvForwardReference(valid, in, kernel, out);
  for (float v : out) BOOST_TEST(v == -4.0f);
  const ConvShape same = MakeShape(1, 3, 3, 1, 1, 2, 2, 2, 2, Padding::kSame);
  BOOST_TEST(same.out_h == 2u);
  BOOST_TEST(same.pad_top == 0u);
  sequent::kernels::ConvForwardReference(same, in, kernel, out,
                                         {&bias, Activation::kReLU, 0.0f});
  const float expected[4] = {0.0f, 3.5f, 7.5f, 9.5f};  // ReLU(−4 + 0.5) = 0
  for (int i = 0; i < 4; ++i) BOOST_TEST(out[i] == expected[i]);
}

BOOST_AUTO_TEST_CASE(conv_backward_references_match_numerical_gradients) {
  // L = Σ G ⊙ conv(in, W) + bias is linear in each argument, so central
  // differences with a step of 1/4 are exact up to rounding.
  const ConvShape s = MakeShape(2, 5, 4, 3, 2, 3, 2, 2, 1, Padding::kSame);
  std::mt19937 rng(5);
  Buffer in(InputSize(s), false), weights(WeightSize(s), false),
      bias(s.out_c, false), g(OutputSize(s), false);
  in.Fill(rng);
  weights.Fill(rng);
  bias.Fill(rng);
  g.Fill(rng);
  std::vector<float> out(OutputSize(s));
  auto loss = [&] {
    sequent::kernels::ConvForwardReference(s, in.data(), weights.data(),
                                           out.data(), {bias.data()});
    double sum = 0.0;
    for (std::size_t i = 0; i < out.size(); ++i) sum += double{g[i]} * out[i];
    return sum;
  };
  constexpr float kStep = 0.25f;
  auto numerical = [&](float* x) {
    const float saved = *x;
    *x = saved + kStep;
    const double up = loss();
    *x = saved - kStep;
    const double down = loss();
    *x = saved;
    return (up - down) / (2.0 * kStep);
  };
  std::vector<float> din(InputSize(s)), dweights(WeightSize(s)), dbias(s.out_c);
  sequent::kernels::ConvBackwardDataReference(s, g.data(), weights.data(),
                                              din.data());
  sequent::kernels::ConvBackwardWeightsReference(s, in.data(), g.data(),
                                                 dweights.data(), dbias.data());
  for (std::size_t i = 0; i < din.size(); ++i) {
    BOOST_TEST(std::fabs(din[i] - numerical(in.data() + i)) <= 1e-4);
  }
  for (std::size_t i = 0; i < dweights.size(); ++i) {
    BOOST_TEST(std::fabs(dweights[i] - numerical(weights.data() + i)) <= 1e-4);
  }
  for (std::size_t i = 0; i < dbias.size(); ++i) {
    BOOST_TEST(std::fabs(dbias[i] - numerical(bias.data() + i)) <= 1e-4);
  }
}
