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
#include "sequent/kernels/pool.hpp"

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
// activation) applied in registers before the store. `winograd_weights`,
// if not null, are the weights as ConvWinogradWeights transformed them:
// a layer run as Winograd then skips that transform, and batches too small
// to repay it on every call run as Winograd too.
void ConvForward(const ConvShape& s, const float* in, const float* weights,
                 float* out, const Epilogue& epilogue = {},
                 const float* winograd_weights = nullptr);

// out (batch × ⌊out_h/2⌋ × ⌊out_w/2⌋ × out_c) = the 2×2 max-pool, stride 2,
// of ConvForward(s, in, weights, ·, epilogue, winograd_weights): inference's
// Conv2D[+BatchNorm][+activation]+MaxPool2D<2>. As Winograd, each output
// tile is pooled before it is stored, so the convolution's full output is
// never written; other layers write it to `unpooled` (batch × out_h × out_w
// × out_c floats) and pool it from there. Bitwise the same as the two
// kernels one after the other (MaxPoolForward's ties and NaN rules).
void ConvForwardMaxPool(const ConvShape& s, const float* in,
                        const float* weights, float* unpooled, float* out,
                        const Epilogue& epilogue = {},
                        const float* winograd_weights = nullptr);

// Whether ConvForward may run a layer of this shape as Winograd F(4×4, 3×3)
// (it does when the batch also has enough tiles): 3×3, stride 1, 16 to 128
// input channels, at least 16 output channels.
constexpr bool WinogradShape(std::size_t kernel_h, std::size_t kernel_w,
                             std::size_t stride_h, std::size_t stride_w,
                             std::size_t in_c, std::size_t out_c) {
  return kernel_h == 3 && kernel_w == 3 && stride_h == 1 && stride_w == 1 &&
         in_c >= 16 && in_c <= 128 && out_c >= 16;
}
// Winograd F(4×4, 3×3) cuts an out_h × out_w output into this many tiles
// of 4×4 (those at the edges cut short).
constexpr std::size_t kWinogradOutputTile = 4;
constexpr std::size_t WinogradTiles(std::size_t out_h, std::size_t out_w) {
  return (out_h + kWinogradOutputTile - 1) / kWinogradOutputTile *
         ((out_w + kWinogradOutputTile - 1) / kWinogradOutputTile);
}
// Tiles a batch needs before a Winograd shape runs as Winograd from
// weights prepared by ConvWinogradWeights (as inference prepares them;
// unprepared, it needs enough to fill the micro-kernel's rows). Measured,
// VGG at batch 1 (its 8×8 layers have 4 tiles): 610-715 µs direct, 470-547
// µs as Winograd, in interleaved runs.
constexpr std::size_t kWinogradMinTilesPrepared = 4;
// Floats from one input channel to the next in weights prepared by
// ConvWinogradWeights: out_c rounded up to 16, the widest vector, so that
// the layout does not depend on the target.
constexpr std::size_t WinogradWeightStride(std::size_t out_c) {
  return (out_c + 15) / 16 * 16;
}
// Floats of a layer's weights in the Winograd domain: 36 positions ×
// in_c × WinogradWeightStride(out_c); 0 for a layer that never runs as
// Winograd.
constexpr std::size_t WinogradWeightFloats(
    std::size_t kernel_h, std::size_t kernel_w, std::size_t stride_h,
    std::size_t stride_w, std::size_t in_c, std::size_t out_c) {
  return WinogradShape(kernel_h, kernel_w, stride_h, stride_w, in_c, out_c)
             ? 36 * in_c * WinogradWeightStride(out_c)
             : 0;
}
// Inference runs the same weights on every call: their Winograd transform
// (an eighth of a single-image VGG prediction) can be done once, here, into
// `u` of WinogradWeightFloats(…) floats, while the weights stay unchanged.
void ConvWinogradWeights(const ConvShape& s, const float* weights, float* u);
void ConvForwardReference(const ConvShape& s, const float* in,
                          const float* weights, float* out,
                          const Epilogue& epilogue = {});

// The multiply-adds ConvForward's products really execute on this CPU:
// batch·out_h·out_w·out_c·kh·kw·in_c, or a quarter of that for the 3×3
// layers it runs as Winograd F(4×4, 3×3) (36 products per 4×4 tile).
// Benchmarks divide by it to report the hardware's utilisation honestly.
// (For weights not prepared by ConvWinogradWeights, which lets smaller
// batches run as Winograd.)
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

// Training's backward of Conv2D[+activation] followed by MaxPool2D, from
// the pool's output gradient alone. The convolution's forward was
//   y = act(conv(in, weights) + bias),   pooled = MaxPoolForward(p, y, argmax)
// (p.in_* = the convolution's output). Each pooled gradient reaches only its
// window's maximum, so with dz = dpooled · act'(pooled) at argmax and 0
// elsewhere this computes what MaxPoolBackward, ActivationBackward,
// ConvBackwardWeights and ConvBackwardData would from the dense dz, visiting
// the non-zero dz only (at most a quarter of them behind a 2×2 pool):
// dweights, dbias (if non-null) and din (if non-null), all overwritten.
// act' is taken from the activation's output, as ActivationBackward does.
void ConvBackwardMaxPool(const ConvShape& s, const PoolShape& p,
                         const float* in, const float* weights,
                         const float* dpooled, const std::int32_t* argmax,
                         const float* pooled, Activation act, float alpha,
                         float* din, float* dweights, float* dbias);
// The dense composition of the scalar references named above.
void ConvBackwardMaxPoolReference(const ConvShape& s, const PoolShape& p,
                                  const float* in, const float* weights,
                                  const float* dpooled,
                                  const std::int32_t* argmax,
                                  const float* pooled, Activation act,
                                  float alpha, float* din, float* dweights,
                                  float* dbias);

}  // namespace sequent::kernels
