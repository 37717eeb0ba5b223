// Convolutions: run-time dispatch to the per-target code in conv-inl.h, and
// the scalar references that specify them (plain loops over the definition
// in conv.hpp, accumulated in double).

// foreach_target.h re-includes this file once per target; it is found
// through the public include directory (include/), hence the relative path.
// The order below is Highway's and must survive include sorting.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/kernels/conv.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "conv-inl.h"
// clang-format on

#if HWY_ONCE

#include "sequent/kernels/conv.hpp"

#include <cstddef>
#include <vector>

#include "sequent/kernels/activation.hpp"

namespace sequent::kernels {

HWY_EXPORT(ConvForwardImpl);
HWY_EXPORT(ConvForwardMaxPoolImpl);
HWY_EXPORT(ConvBackwardDataImpl);
HWY_EXPORT(ConvBackwardWeightsImpl);
HWY_EXPORT(ConvForwardMacsImpl);
HWY_EXPORT(ConvWinogradWeightsImpl);
HWY_EXPORT(ConvBackwardMaxPoolImpl);

void ConvForward(const ConvShape& s, const float* in, const float* weights,
                 float* out, const Epilogue& epilogue,
                 const float* winograd_weights) {
  HWY_DYNAMIC_DISPATCH(ConvForwardImpl)(s, in, weights, out, epilogue,
                                        winograd_weights);
}

void ConvForwardMaxPool(const ConvShape& s, const float* in,
                        const float* weights, float* unpooled, float* out,
                        const Epilogue& epilogue,
                        const float* winograd_weights) {
  HWY_DYNAMIC_DISPATCH(ConvForwardMaxPoolImpl)(s, in, weights, unpooled, out,
                                               epilogue, winograd_weights);
}

void ConvWinogradWeights(const ConvShape& s, const float* weights, float* u) {
  HWY_DYNAMIC_DISPATCH(ConvWinogradWeightsImpl)(s, weights, u);
}

double ConvForwardMultiplyAdds(const ConvShape& s) {
  return HWY_DYNAMIC_DISPATCH(ConvForwardMacsImpl)(s);
}

void ConvBackwardData(const ConvShape& s, const float* dout,
                      const float* weights, float* din) {
  HWY_DYNAMIC_DISPATCH(ConvBackwardDataImpl)(s, dout, weights, din);
}

void ConvBackwardWeights(const ConvShape& s, const float* in, const float* dout,
                         float* dweights, float* dbias) {
  HWY_DYNAMIC_DISPATCH(ConvBackwardWeightsImpl)(s, in, dout, dweights, dbias);
}

void ConvBackwardMaxPool(const ConvShape& s, const PoolShape& p,
                         const float* in, const float* weights,
                         const float* dpooled, const std::int32_t* argmax,
                         const float* pooled, Activation act, float alpha,
                         float* din, float* dweights, float* dbias) {
  HWY_DYNAMIC_DISPATCH(ConvBackwardMaxPoolImpl)(s, p, in, weights, dpooled,
                                                argmax, pooled, act, alpha,
                                                din, dweights, dbias);
}

void ConvBackwardMaxPoolReference(const ConvShape& s, const PoolShape& p,
                                  const float* in, const float* weights,
                                  const float* dpooled,
                                  const std::int32_t* argmax,
                                  const float* pooled, Activation act,
                                  float alpha, float* din, float* dweights,
                                  float* dbias) {
  // The activation's output at every position the pool reads: only the
  // maxima matter (dz is 0 elsewhere), and there y is the pooled value.
  const std::size_t conv_floats = s.batch * s.out_h * s.out_w * s.out_c;
  std::vector<float> dz(conv_floats), y(conv_floats, 0.0f);
  const std::size_t per_sample = p.out_h * p.out_w * p.channels;
  const std::size_t conv_sample = s.out_h * s.out_w * s.out_c;
  for (std::size_t b = 0; b < s.batch; ++b) {
    for (std::size_t i = 0; i < per_sample; ++i) {
      const std::int32_t at = argmax[b * per_sample + i];
      if (at >= 0) y[b * conv_sample + at] = pooled[b * per_sample + i];
    }
  }
  MaxPoolBackwardReference(p, dpooled, argmax, dz.data());
  ActivationBackwardReference(act, alpha, y.data(), dz.data(), dz.data(),
                              conv_floats);
  ConvBackwardWeightsReference(s, in, dz.data(), dweights, dbias);
  if (din != nullptr) ConvBackwardDataReference(s, dz.data(), weights, din);
}

namespace {

// Index of in[b, y, x, c] for the input row (y) and column (x) of kernel tap
// (ky, kx) under output pixel (oy, ox), or −1 in the padding.
std::ptrdiff_t InputIndex(const ConvShape& s, std::size_t b, std::size_t oy,
                          std::size_t ox, std::size_t ky, std::size_t kx,
                          std::size_t c) {
  const std::ptrdiff_t y = static_cast<std::ptrdiff_t>(oy * s.stride_h + ky) -
                           static_cast<std::ptrdiff_t>(s.pad_top);
  const std::ptrdiff_t x = static_cast<std::ptrdiff_t>(ox * s.stride_w + kx) -
                           static_cast<std::ptrdiff_t>(s.pad_left);
  if (y < 0 || x < 0 || y >= static_cast<std::ptrdiff_t>(s.in_h) ||
      x >= static_cast<std::ptrdiff_t>(s.in_w)) {
    return -1;
  }
  return static_cast<std::ptrdiff_t>(
      ((b * s.in_h + static_cast<std::size_t>(y)) * s.in_w +
       static_cast<std::size_t>(x)) *
          s.in_c +
      c);
}

std::size_t WeightIndex(const ConvShape& s, std::size_t ky, std::size_t kx,
                        std::size_t c, std::size_t o) {
  return ((ky * s.kernel_w + kx) * s.in_c + c) * s.out_c + o;
}

std::size_t OutputIndex(const ConvShape& s, std::size_t b, std::size_t oy,
                        std::size_t ox, std::size_t o) {
  return ((b * s.out_h + oy) * s.out_w + ox) * s.out_c + o;
}

// Calls f(input index, weight index, output index) for every product term
// of the convolution, in the order of the sums.
template <class Term>
void ForEachTerm(const ConvShape& s, const Term& term) {
  for (std::size_t b = 0; b < s.batch; ++b) {
    for (std::size_t oy = 0; oy < s.out_h; ++oy) {
      for (std::size_t ox = 0; ox < s.out_w; ++ox) {
        for (std::size_t o = 0; o < s.out_c; ++o) {
          for (std::size_t ky = 0; ky < s.kernel_h; ++ky) {
            for (std::size_t kx = 0; kx < s.kernel_w; ++kx) {
              for (std::size_t c = 0; c < s.in_c; ++c) {
                const std::ptrdiff_t i = InputIndex(s, b, oy, ox, ky, kx, c);
                if (i < 0) continue;
                term(static_cast<std::size_t>(i), WeightIndex(s, ky, kx, c, o),
                     OutputIndex(s, b, oy, ox, o));
              }
            }
          }
        }
      }
    }
  }
}

std::vector<float> ToFloat(const std::vector<double>& sums) {
  return std::vector<float>(sums.begin(), sums.end());
}

}  // namespace

void ConvForwardReference(const ConvShape& s, const float* in,
                          const float* weights, float* out,
                          const Epilogue& epilogue) {
  const std::size_t pixels = s.batch * s.out_h * s.out_w;
  std::vector<double> sums(pixels * s.out_c, 0.0);
  ForEachTerm(s, [&](std::size_t i, std::size_t w, std::size_t o) {
    sums[o] += static_cast<double>(in[i]) * weights[w];
  });
  // The sum is rounded to float before the epilogue, as the kernels do.
  std::vector<float> values = ToFloat(sums);
  if (epilogue.bias != nullptr) {
    for (std::size_t m = 0; m < pixels; ++m) {
      for (std::size_t o = 0; o < s.out_c; ++o) {
        values[m * s.out_c + o] += epilogue.bias[o];
      }
    }
  }
  ActivationForwardReference(epilogue.activation, epilogue.alpha, values.data(),
                             out, values.size());
}

// The transpose of the forward map: each product term's output gradient
// flows back to its input.
void ConvBackwardDataReference(const ConvShape& s, const float* dout,
                               const float* weights, float* din) {
  std::vector<double> sums(s.batch * s.in_h * s.in_w * s.in_c, 0.0);
  ForEachTerm(s, [&](std::size_t i, std::size_t w, std::size_t o) {
    sums[i] += static_cast<double>(dout[o]) * weights[w];
  });
  for (std::size_t i = 0; i < sums.size(); ++i) {
    din[i] = static_cast<float>(sums[i]);
  }
}

void ConvBackwardWeightsReference(const ConvShape& s, const float* in,
                                  const float* dout, float* dweights,
                                  float* dbias) {
  std::vector<double> sums(s.kernel_h * s.kernel_w * s.in_c * s.out_c, 0.0);
  ForEachTerm(s, [&](std::size_t i, std::size_t w, std::size_t o) {
    sums[w] += static_cast<double>(in[i]) * dout[o];
  });
  for (std::size_t w = 0; w < sums.size(); ++w) {
    dweights[w] = static_cast<float>(sums[w]);
  }
  if (dbias == nullptr) return;
  const std::size_t pixels = s.batch * s.out_h * s.out_w;
  for (std::size_t o = 0; o < s.out_c; ++o) {
    double sum = 0.0;
    for (std::size_t m = 0; m < pixels; ++m) sum += dout[m * s.out_c + o];
    dbias[o] = static_cast<float>(sum);
  }
}

}  // namespace sequent::kernels

#endif  // HWY_ONCE
