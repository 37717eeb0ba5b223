// Every layer (and every fused layer) forward against a naive loop, and
// backward against central finite differences of a scalar loss
// L = Σ out ⊙ R, whose gradient with respect to out is R.
#define BOOST_TEST_MODULE layers
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <functional>
#include <sequent/sequent.hpp>
#include <vector>

#include "random_values.hpp"

namespace sq = sequent;
using sq::test::random_vector;

namespace {

// Keeps values away from ReLU's kink so that finite differences are exact.
void push_from_zero(std::vector<float>& v, float margin) {
  for (float& x : v) {
    if (std::fabs(x) < margin) x = x < 0 ? x - margin : x + margin;
  }
}

// Runs L::forward / L::backward on one batch and compares with naive and
// finite-difference results.
template <class Exec, class In, class Out>
struct LayerHarness {
  std::size_t batch;
  std::vector<float> params;
  std::vector<float> input;
  std::uint64_t seed = 99;

  std::vector<float> aux =
      std::vector<float>(batch * Exec::template aux_size<In>);
  std::vector<float> state =
      std::vector<float>(1024, 0.0f);  // fused steps use their parts' state
  std::vector<float> scratch =
      std::vector<float>(Exec::template scratch_size<In> + 1);

  std::vector<float> forward(const std::vector<float>& in,
                             const std::vector<float>& p) {
    std::vector<float> out(batch * Out::size);
    if constexpr (Exec::aliases_input) {
      out = in;
    } else {
      Exec::template forward<In, Out>({in.data(), out.data(), p.data(),
                                       aux.data(), batch, true, seed,
                                       state.data(), scratch.data()});
    }
    return out;
  }

  double loss(const std::vector<float>& out, const std::vector<float>& r) {
    double sum = 0;
    for (std::size_t i = 0; i < out.size(); ++i) sum += double(out[i]) * r[i];
    return sum;
  }

  // Analytic gradients from backward, then finite differences of
  // loss(forward(·)) for every input and parameter.
  void check_gradients(float h, float tolerance) {
    const auto out = forward(input, params);
    const auto r = random_vector(out.size(), 5);
    std::vector<float> dout = r, din(input.size(), 0.0f),
                       dparams(params.size(), 0.0f);
    // forward() above left this input's statistics in scratch.
    Exec::template backward<In, Out>(
        {input.data(), out.data(), dout.data(), din.data(), params.data(),
         dparams.data(), aux.data(), batch, state.data(), scratch.data()});
    auto numeric = [&](std::vector<float>& x, std::size_t i) {
      const float saved = x[i];
      x[i] = saved + h;
      const double up = loss(forward(input, params), r);
      x[i] = saved - h;
      const double down = loss(forward(input, params), r);
      x[i] = saved;
      return (up - down) / (2.0 * h);
    };
    for (std::size_t i = 0; i < input.size(); ++i) {
      const double expected = numeric(input, i);
      BOOST_TEST(
          std::fabs(din[i] - expected) <= tolerance * (1 + std::fabs(expected)),
          "input " << i << ": backward " << din[i] << ", finite difference "
                   << expected);
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      const double expected = numeric(params, i);
      BOOST_TEST(std::fabs(dparams[i] - expected) <=
                     tolerance * (1 + std::fabs(expected)),
                 "param " << i << ": backward " << dparams[i]
                          << ", finite difference " << expected);
    }
  }
};

template <class L, class In>
using OutOf = typename L::template output<In>::type;

// Dense's naive forward with an activation applied afterwards.
std::vector<float> naive_dense(const std::vector<float>& x,
                               const std::vector<float>& p, std::size_t batch,
                               std::size_t in, std::size_t units, bool bias,
                               const std::function<float(float)>& act) {
  std::vector<float> y(batch * units);
  for (std::size_t b = 0; b < batch; ++b) {
    for (std::size_t u = 0; u < units; ++u) {
      double sum = bias ? p[in * units + u] : 0.0;
      for (std::size_t k = 0; k < in; ++k) {
        sum += double(x[b * in + k]) * p[k * units + u];
      }
      y[b * units + u] = act(static_cast<float>(sum));
    }
  }
  return y;
}

float relu(float x) { return x > 0 ? x : 0; }
float identity(float x) { return x; }
float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
float leaky(float x) { return x > 0 ? x : 0.3f * x; }

template <class Exec, class DenseL, class In>
void check_dense(std::size_t batch, const std::function<float(float)>& act,
                 float margin) {
  using Out = OutOf<DenseL, In>;
  LayerHarness<Exec, In, Out> h{batch};
  h.params = random_vector(DenseL::template param_count<In>, 3);
  h.input = random_vector(batch * In::size, 4);
  // Keep pre-activations away from kinks: check a few and nudge the bias.
  auto expected = naive_dense(h.input, h.params, batch, In::size, DenseL::units,
                              DenseL::use_bias, act);
  const auto got = h.forward(h.input, h.params);
  BOOST_REQUIRE_EQUAL(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    BOOST_TEST(got[i] == expected[i], boost::test_tools::tolerance(1e-4f));
  }
  if (margin > 0) {
    // Finite differences across ReLU's kink are meaningless: only check
    // where every pre-activation is at least `margin` from zero.
    auto pre = naive_dense(h.input, h.params, batch, In::size, DenseL::units,
                           DenseL::use_bias, identity);
    for (float v : pre) {
      if (std::fabs(v) < margin) return;  // rare for these seeds
    }
  }
  h.check_gradients(1e-3f, 2e-2f);
}

}  // namespace

BOOST_AUTO_TEST_CASE(dense_forward_and_backward) {
  check_dense<sq::Dense<5>, sq::Dense<5>, sq::Shape<7>>(3, identity, 0);
  check_dense<sq::Dense<1>, sq::Dense<1>, sq::Shape<1>>(1, identity, 0);
  check_dense<sq::Dense<17, false>, sq::Dense<17, false>, sq::Shape<33>>(
      4, identity, 0);
}

BOOST_AUTO_TEST_CASE(fused_dense_activation_forward_and_backward) {
  using In = sq::Shape<6>;
  check_dense<sq::fused::DenseActivation<sq::Dense<4>, sq::Sigmoid>,
              sq::Dense<4>, In>(3, sigmoid, 0);
  check_dense<sq::fused::DenseActivation<sq::Dense<4>, sq::Tanh>, sq::Dense<4>,
              In>(
      3, [](float x) { return std::tanh(x); }, 0);
  check_dense<sq::fused::DenseActivation<sq::Dense<4>, sq::ReLU>, sq::Dense<4>,
              In>(2, relu, 0.01f);
  check_dense<sq::fused::DenseActivation<sq::Dense<4>, sq::LeakyReLU<>>,
              sq::Dense<4>, In>(2, leaky, 0.01f);
}

template <class L>
void check_elementwise(const std::function<float(float)>& f, bool kinked) {
  using In = sq::Shape<13>;
  LayerHarness<L, In, In> h{3};
  h.input = random_vector(3 * 13, 8, -3.0f, 3.0f);
  if (kinked) push_from_zero(h.input, 0.05f);
  const auto out = h.forward(h.input, h.params);
  for (std::size_t i = 0; i < out.size(); ++i) {
    BOOST_TEST(out[i] == f(h.input[i]), boost::test_tools::tolerance(1e-5f));
  }
  h.check_gradients(1e-3f, 1e-2f);
}

BOOST_AUTO_TEST_CASE(activations_forward_and_backward) {
  check_elementwise<sq::ReLU>(relu, true);
  check_elementwise<sq::LeakyReLU<>>(leaky, true);
  check_elementwise<sq::LeakyReLU<0.01>>(
      [](float x) { return x > 0 ? x : 0.01f * x; }, true);
  check_elementwise<sq::Sigmoid>(sigmoid, false);
  check_elementwise<sq::Tanh>([](float x) { return std::tanh(x); }, false);
}

BOOST_AUTO_TEST_CASE(softmax_forward_and_backward) {
  using In = sq::Shape<7>;
  LayerHarness<sq::Softmax, In, In> h{4};
  h.input = random_vector(4 * 7, 9, -4.0f, 4.0f);
  const auto out = h.forward(h.input, h.params);
  for (std::size_t r = 0; r < 4; ++r) {
    double total = 0;
    for (std::size_t c = 0; c < 7; ++c) total += std::exp(h.input[r * 7 + c]);
    for (std::size_t c = 0; c < 7; ++c) {
      BOOST_TEST(out[r * 7 + c] == std::exp(h.input[r * 7 + c]) / total,
                 boost::test_tools::tolerance(1e-5));
    }
  }
  h.check_gradients(1e-3f, 1e-2f);
}

BOOST_AUTO_TEST_CASE(dropout_forward_and_backward) {
  using In = sq::Shape<1000>;
  LayerHarness<sq::Dropout<0.25>, In, In> h{2};
  h.input = random_vector(2 * 1000, 10);
  const auto out = h.forward(h.input, h.params);
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0.0f) {
      ++dropped;
    } else {
      BOOST_TEST(out[i] == h.input[i] / 0.75f,
                 boost::test_tools::tolerance(1e-6f));
    }
  }
  BOOST_TEST(dropped > 400u);  // 25% of 2000 is 500
  BOOST_TEST(dropped < 600u);
  // The mask is fixed by the seed, so the layer is linear: exact gradients.
  h.check_gradients(1e-2f, 1e-3f);
  // Another seed, another mask.
  const auto again = h.forward(h.input, h.params);
  h.seed = 100;
  const auto other = h.forward(h.input, h.params);
  BOOST_TEST(again == out);
  BOOST_TEST(other != out);
}

BOOST_AUTO_TEST_CASE(flatten_is_a_view) {
  static_assert(sq::Flatten::aliases_input);
  static_assert(
      std::is_same_v<OutOf<sq::Flatten, sq::Shape<4, 5, 3>>, sq::Shape<60>>);
}

// ---- convolutional layers ---------------------------------------------------

namespace {

// conv(in, kernel) + bias by the definition, NHWC, Keras kernel layout.
template <class Conv, class In>
std::vector<float> naive_conv(const std::vector<float>& x,
                              const std::vector<float>& p, std::size_t batch) {
  using Out = OutOf<Conv, In>;
  using g = typename Conv::template geometry<In>;
  const int H = In::dims[0], W = In::dims[1], C = In::dims[2];
  const int OH = Out::dims[0], OW = Out::dims[1], F = Out::dims[2];
  const int KH = Conv::kernel_size.h, KW = Conv::kernel_size.w;
  const std::size_t wc = std::size_t(KH) * KW * C * F;
  std::vector<float> y(batch * Out::size);
  for (std::size_t b = 0; b < batch; ++b)
    for (int oy = 0; oy < OH; ++oy)
      for (int ox = 0; ox < OW; ++ox)
        for (int f = 0; f < F; ++f) {
          double sum = Conv::use_bias ? p[wc + f] : 0.0;
          for (int ky = 0; ky < KH; ++ky)
            for (int kx = 0; kx < KW; ++kx) {
              const int iy = oy * Conv::stride.h + ky - g::y.pad_before;
              const int ix = ox * Conv::stride.w + kx - g::x.pad_before;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              for (int c = 0; c < C; ++c) {
                sum += double(x[((b * H + iy) * W + ix) * C + c]) *
                       p[((ky * KW + kx) * C + c) * F + f];
              }
            }
          y[((b * OH + oy) * OW + ox) * F + f] = static_cast<float>(sum);
        }
  return y;
}

template <class Conv, class In>
void check_conv(std::size_t batch) {
  using Out = OutOf<Conv, In>;
  LayerHarness<Conv, In, Out> h{batch};
  h.params = random_vector(Conv::template param_count<In>, 31);
  h.input = random_vector(batch * In::size, 32);
  const auto expected = naive_conv<Conv, In>(h.input, h.params, batch);
  const auto got = h.forward(h.input, h.params);
  BOOST_REQUIRE_EQUAL(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    BOOST_TEST(got[i] == expected[i], boost::test_tools::tolerance(1e-4f));
  }
  h.check_gradients(1e-2f, 1e-2f);  // linear: larger steps are exact
}

}  // namespace

BOOST_AUTO_TEST_CASE(conv2d_same_and_valid_strides_1_and_2) {
  check_conv<sq::Conv2D<4, 3, sq::Same>, sq::Shape<5, 6, 2>>(2);
  check_conv<sq::Conv2D<3, 3, sq::Valid>, sq::Shape<5, 6, 2>>(2);
  check_conv<sq::Conv2D<4, 3, sq::Same, 2>, sq::Shape<7, 6, 3>>(2);
  check_conv<sq::Conv2D<2, 3, sq::Valid, 2>, sq::Shape<7, 6, 3>>(1);
  check_conv<sq::Conv2D<5, {1, 3}, sq::Same>, sq::Shape<4, 5, 2>>(2);
  check_conv<sq::Conv2D<2, 5, sq::Valid, 1, false>, sq::Shape<6, 6, 1>>(2);
  static_assert(
      std::is_same_v<OutOf<sq::Conv2D<8, 3, sq::Same, 2>, sq::Shape<7, 6, 3>>,
                     sq::Shape<4, 3, 8>>);
  static_assert(std::is_same_v<OutOf<sq::Conv2D<8, 5>, sq::Shape<32, 32, 3>>,
                               sq::Shape<28, 28, 8>>);
}

template <class Pool, class In>
void check_pool(std::size_t batch, bool max) {
  using Out = OutOf<Pool, In>;
  LayerHarness<Pool, In, Out> h{batch};
  h.input = random_vector(batch * In::size, 41);
  const auto got = h.forward(h.input, h.params);
  using g = typename Pool::template geometry<In>;
  const int H = In::dims[0], W = In::dims[1], C = In::dims[2];
  const int OH = Out::dims[0], OW = Out::dims[1];
  for (std::size_t b = 0; b < batch; ++b)
    for (int oy = 0; oy < OH; ++oy)
      for (int ox = 0; ox < OW; ++ox)
        for (int c = 0; c < C; ++c) {
          double acc = max ? -1e30 : 0.0;
          int count = 0;
          for (int ky = 0; ky < Pool::template pool_shape<In>(1).window_h; ++ky)
            for (int kx = 0; kx < Pool::template pool_shape<In>(1).window_w;
                 ++kx) {
              const int iy =
                  oy * int(Pool::template pool_shape<In>(1).stride_h) + ky -
                  g::y.pad_before;
              const int ix =
                  ox * int(Pool::template pool_shape<In>(1).stride_w) + kx -
                  g::x.pad_before;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              const double v = h.input[((b * H + iy) * W + ix) * C + c];
              acc = max ? std::max(acc, v) : acc + v;
              ++count;
            }
          if (!max) acc /= count;
          BOOST_TEST(got[((b * OH + oy) * OW + ox) * C + c] == acc,
                     boost::test_tools::tolerance(1e-5));
        }
  h.check_gradients(1e-3f, 1e-2f);
}

BOOST_AUTO_TEST_CASE(pooling_forward_and_backward) {
  check_pool<sq::MaxPool2D<2>, sq::Shape<6, 4, 3>>(2, true);
  check_pool<sq::MaxPool2D<3, 2>, sq::Shape<7, 7, 2>>(2, true);
  check_pool<sq::MaxPool2D<2, 2, sq::Same>, sq::Shape<5, 5, 3>>(1, true);
  check_pool<sq::AvgPool2D<2>, sq::Shape<6, 4, 3>>(2, false);
  check_pool<sq::AvgPool2D<3, 2, sq::Same>, sq::Shape<5, 6, 2>>(2, false);
  static_assert(std::is_same_v<OutOf<sq::MaxPool2D<2>, sq::Shape<5, 5, 3>>,
                               sq::Shape<2, 2, 3>>);
}

BOOST_AUTO_TEST_CASE(global_average_pooling) {
  using In = sq::Shape<3, 4, 5>;
  LayerHarness<sq::GlobalAveragePooling2D, In, sq::Shape<5>> h{2};
  h.input = random_vector(2 * In::size, 42);
  const auto got = h.forward(h.input, h.params);
  for (std::size_t b = 0; b < 2; ++b)
    for (std::size_t c = 0; c < 5; ++c) {
      double sum = 0;
      for (std::size_t p = 0; p < 12; ++p) sum += h.input[(b * 12 + p) * 5 + c];
      BOOST_TEST(got[b * 5 + c] == sum / 12,
                 boost::test_tools::tolerance(1e-5));
    }
  h.check_gradients(1e-2f, 1e-3f);
}

BOOST_AUTO_TEST_CASE(batchnorm_training_forward_and_backward) {
  using In = sq::Shape<3, 2, 4>;
  using BN = sq::BatchNorm<>;
  LayerHarness<BN, In, In> h{3};
  h.params = random_vector(8, 43, 0.5f, 1.5f);  // gamma, beta
  h.input = random_vector(3 * In::size, 44, -2.0f, 3.0f);
  const auto y = h.forward(h.input, h.params);
  // Per channel over batch·H·W = 18 rows: normalised, then gamma, beta.
  for (std::size_t c = 0; c < 4; ++c) {
    double mean = 0, var = 0;
    for (std::size_t r = 0; r < 18; ++r) mean += h.input[r * 4 + c];
    mean /= 18;
    for (std::size_t r = 0; r < 18; ++r) {
      var += (h.input[r * 4 + c] - mean) * (h.input[r * 4 + c] - mean);
    }
    var /= 18;
    for (std::size_t r = 0; r < 18; ++r) {
      const double expected =
          h.params[c] * (h.input[r * 4 + c] - mean) / std::sqrt(var + 1e-3) +
          h.params[4 + c];
      BOOST_TEST(y[r * 4 + c] == expected, boost::test_tools::tolerance(1e-4));
    }
  }
  h.check_gradients(1e-3f, 2e-2f);
}

BOOST_AUTO_TEST_CASE(fused_conv_layers_forward_and_backward) {
  using In = sq::Shape<5, 5, 2>;
  using Conv = sq::Conv2D<3, 3, sq::Same>;
  using ConvOut = OutOf<Conv, In>;
  // Conv2D + ReLU: forward equals conv then ReLU.
  {
    using Exec = sq::fused::ConvActivation<Conv, sq::Tanh>;
    LayerHarness<Exec, In, ConvOut> h{2};
    h.params = random_vector(Conv::param_count<In>, 51);
    h.input = random_vector(2 * In::size, 52);
    const auto got = h.forward(h.input, h.params);
    const auto z = naive_conv<Conv, In>(h.input, h.params, 2);
    for (std::size_t i = 0; i < got.size(); ++i) {
      BOOST_TEST(got[i] == std::tanh(z[i]),
                 boost::test_tools::tolerance(1e-4f));
    }
    h.check_gradients(1e-3f, 2e-2f);
  }
  // Conv2D + BatchNorm + Sigmoid in training mode.
  {
    using Exec =
        sq::fused::ConvBatchNorm<Conv, sq::BatchNorm<>, sq::Sigmoid, false>;
    LayerHarness<Exec, In, ConvOut> h{3};
    auto conv_params = random_vector(Conv::param_count<In>, 53);
    conv_params.resize(sq::padded_size(conv_params.size()), 0.0f);
    const auto gamma_beta = random_vector(6, 54, 0.5f, 1.5f);
    h.params = conv_params;
    h.params.insert(h.params.end(), gamma_beta.begin(), gamma_beta.end());
    h.input = random_vector(3 * In::size, 55);
    h.check_gradients(1e-3f, 3e-2f);
  }
}
