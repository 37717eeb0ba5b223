// 2-D convolution over NHWC tensors (channels last, as Keras stores them).
// Target-free declarations; SIMD code in src/kernels/conv-inl.h.
//
//   in      batch × in_h × in_w × in_c
//   weights kernel_h × kernel_w × in_c × out_c   (Keras' kernel layout)
//   out     batch × out_h × out_w × out_c
//   out[b,y,x,o] = bias[o] + Σ_{ky,kx,c} in[b, y·sh + ky − pad_top,
//                                           x·sw + kx − pad_left, c]
//                                      · weights[ky,kx,c,o]
// Input positions outside the image read as zero (padding).
#pragma once

#include <cstddef>

#include "sequent/kernels/gemm.hpp"

namespace sequent::kernels {

struct ConvShape {
  std::size_t batch = 0;
  std::size_t in_h = 0, in_w = 0, in_c = 0;
  std::size_t out_h = 0, out_w = 0, out_c = 0;
  std::size_t kernel_h = 0, kernel_w = 0;
  std::size_t stride_h = 1, stride_w = 1;
  std::size_t pad_top = 0, pad_left = 0;
};

// out = conv(in, weights), then the epilogue (bias per output channel and an
// activation) applied in registers before the store.
void ConvForward(const ConvShape& s, const float* in, const float* weights,
                 float* out, const Epilogue& epilogue = {});
void ConvForwardReference(const ConvShape& s, const float* in,
                          const float* weights, float* out,
                          const Epilogue& epilogue = {});

// The multiply-adds ConvForward's products really execute on this CPU:
// batch·out_h·out_w·out_c·kh·kw·in_c, or a quarter of that for the 3×3
// layers it runs as Winograd F(4×4, 3×3) (36 products per 4×4 tile).
// Benchmarks divide by it to report the hardware's utilisation honestly.
double ConvForwardMultiplyAdds(const ConvShape& s);

// din (batch × in_h × in_w × in_c) = d(loss)/d(in), overwritten.
void ConvBackwardData(const ConvShape& s, const float* dout,
                      const float* weights, float* din);
void ConvBackwardDataReference(const ConvShape& s, const float* dout,
                               const float* weights, float* din);

// dweights (kernel_h × kernel_w × in_c × out_c) and, if non-null,
// dbias (out_c) = d(loss)/d(weights, bias), overwritten.
void ConvBackwardWeights(const ConvShape& s, const float* in,
                         const float* dout, float* dweights, float* dbias);
void ConvBackwardWeightsReference(const ConvShape& s, const float* in,
                                  const float* dout, float* dweights,
                                  float* dbias);

}  // namespace sequent::kernels
