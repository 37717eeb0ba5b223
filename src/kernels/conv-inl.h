// Convolutions for every SIMD target: the entry points, which pick the
// algorithm by shape, and the drivers that split it over threads.
//
//   3×3 stride 1, 16–128 channels   Winograd F(4×4, 3×3)  conv_winograd*-inl.h
//   up to 8 output channels         pixel vectors         conv_planar-inl.h
//   1 or 3 input channels           direct                conv_direct-inl.h
//   backward data, mostly padding   product + scatter     conv_col2im-inl.h
//   everything else                 implicit GEMM         conv_implicit-inl.h
//   backward behind a max-pool      pooled maxima only    conv_pool_backward-inl.h
//
// All of them run on the micro-kernel of conv_microkernel-inl.h. Work is
// split over threads by output blocks only, so every result is bitwise
// independent of the thread count (within one target).

#if defined(SEQUENT_SRC_KERNELS_CONV_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_CONV_INL_H_
#undef SEQUENT_SRC_KERNELS_CONV_INL_H_
#else
#define SEQUENT_SRC_KERNELS_CONV_INL_H_
#endif

#include <omp.h>

#include <algorithm>
#include <cstddef>

#include "conv_col2im-inl.h"
#include "conv_direct-inl.h"
#include "conv_implicit-inl.h"
#include "conv_microkernel-inl.h"
#include "conv_pack-inl.h"
#include "conv_planar-inl.h"
#include "conv_pool_backward-inl.h"
#include "conv_winograd-inl.h"
#include "conv_winograd_weights-inl.h"
#include "hwy/highway.h"
#include "sequent/kernels/conv.hpp"
#include "sequent/kernels/pool.hpp"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {
namespace conv_internal {
namespace hn = hwy::HWY_NAMESPACE;

// Runs a Winograd convolution whose U is already in p, split over the
// threads by row tiles of kConvTileRows tiles (or by output columns when
// there are too few tiles).
inline void WinogradParallel(const WinogradProblem& p) {
  const std::size_t tiles = p.tiles();
  const std::size_t row_tiles = (tiles + kConvTileRows - 1) / kConvTileRows;
  const std::size_t col_vectors = (p.out_c + kConvLanes - 1) / kConvLanes;
  const int threads =
      ThreadsFor(tiles * kWinogradPositions * p.channels * p.out_c);
  // Many blocks of tiles: the threads take them one at a time, so that a
  // core slowed by the rest of the machine does fewer instead of keeping
  // the other waiting at the end (each tile's result does not depend on
  // who computes it or beside which others).
  const std::size_t blocks =
      (tiles + kWinogradBlockTiles - 1) / kWinogradBlockTiles;
  if (threads > 1 && blocks >= kWinogradDynamicMinBlocksPerThread *
                                   static_cast<std::size_t>(threads)) {
    WithChannelStride(p.channels, [&](auto stride) {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
      for (std::size_t b = 0; b < blocks; ++b) {
        WinogradBlock<decltype(stride)::value>(
            p, b * kWinogradBlockTiles,
            std::min(tiles, (b + 1) * kWinogradBlockTiles), 0, p.out_c);
      }
    });
    return;
  }
  WithChannelStride(p.channels, [&](auto stride) {
    SplitOverThreads(
        threads, row_tiles, col_vectors,
        [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
          WinogradBlock<decltype(stride)::value>(
              p, r0 * kConvTileRows, std::min(tiles, r1 * kConvTileRows),
              c0 * kConvLanes, std::min(p.out_c, c1 * kConvLanes));
        });
  });
}

// dW and dbias by Winograd (see conv_winograd_weights-inl.h); the scratch
// is the calling thread's, shared with the team it starts.
inline void WinogradGradientParallel(const ConvShape& s, const float* in,
                                     const float* dout, float* dweights,
                                     float* dbias, std::size_t tiles) {
  WinogradGradient w{};
  w.p.source = in;
  w.p.batch = s.batch;
  w.p.height = s.in_h;
  w.p.width = s.in_w;
  w.p.channels = s.in_c;
  w.p.out_h = s.out_h;
  w.p.out_w = s.out_w;
  w.p.out_c = s.out_c;
  w.p.pad_top = static_cast<std::ptrdiff_t>(s.pad_top);
  w.p.pad_left = static_cast<std::ptrdiff_t>(s.pad_left);
  w.dout = dout;
  w.o_stride = RoundUp(s.out_c, kConvLanes);
  w.dweights = dweights;
  w.dbias = dbias;
  constexpr std::size_t kBlock = kWinogradGradientBlockTiles;
  // The products' last channel tile may read a few floats past a V row.
  w.v = ThreadScratch(
      ScratchSlot::kPatches,
      kWinogradPositions * (kBlock * kWinogradMaxChannels + kPositionSkew) +
          kConvTileRows);
  w.dm =
      ThreadScratch(ScratchSlot::kPaddedGradient,
                    kWinogradPositions * (kBlock * w.o_stride + kPositionSkew));
  w.du = ThreadScratch(ScratchSlot::kOperandB,
                       kWinogradPositions * s.in_c * w.o_stride);
  const int threads = ThreadsFor(tiles * kWinogradPositions * s.in_c * s.out_c);
  // Always a parallel region, even of one thread: the work-sharing loops
  // inside must bind to a team of this call, never to a caller's.
  WithChannelStride(s.in_c, [&](auto stride) {
#pragma omp parallel num_threads(threads)
    WinogradGradientWork<decltype(stride)::value>(
        w, static_cast<std::size_t>(omp_get_thread_num()),
        static_cast<std::size_t>(omp_get_num_threads()));
  });
}

}  // namespace conv_internal

// Entry points (exported by conv.cc; contracts in conv.hpp).

// in: batch × in_h × in_w × in_c; weights: K × out_c (K = kh·kw·in_c);
// out: batch × out_h × out_w × out_c.
// u: 36 × in_c × WinogradWeightStride(out_c), zero past out_c (conv.hpp).
inline void ConvWinogradWeightsImpl(const ConvShape& s,
                                    const float* HWY_RESTRICT weights,
                                    float* HWY_RESTRICT u) {
  using namespace conv_internal;  // NOLINT(build/namespaces)
  if (!WinogradShape(s.kernel_h, s.kernel_w, s.stride_h, s.stride_w, s.in_c,
                     s.out_c)) {
    return;
  }
  TransformWeights(weights, s.in_c, s.out_c, WinogradWeightStride(s.out_c), u);
}

// Runs the convolution as Winograd, on weights prepared by
// ConvWinogradWeights or transformed here, if that pays for its shape and
// batch (WinogradApplies); returns whether it did. With max_pool_2x2, out
// receives the 2×2 max-pool of the result (see WinogradProblem).
inline bool TryWinogradForward(const ConvShape& s, const float* in,
                               const float* weights, float* out,
                               const Epilogue& epilogue,
                               const float* winograd_weights,
                               bool max_pool_2x2) {
  using namespace conv_internal;  // NOLINT(build/namespaces)
  const std::size_t tiles = s.batch * WinogradTiles(s.out_h, s.out_w);
  if (!WinogradApplies(s.kernel_h, s.kernel_w, s.stride_h, s.stride_w, s.in_c,
                       s.out_c, tiles, winograd_weights != nullptr)) {
    return false;
  }
  // Prepared weights, or this call's transform of them in the scratch.
  const float* u = winograd_weights;
  const std::size_t u_stride =
      u ? WinogradWeightStride(s.out_c) : RoundUp(s.out_c, kConvLanes);
  if (u == nullptr) {
    float* scratch = ThreadScratch(ScratchSlot::kOperandB,
                                   kWinogradPositions * s.in_c * u_stride);
    TransformWeights(weights, s.in_c, s.out_c, u_stride, scratch);
    u = scratch;
  }
  const bool trivial_epilogue =
      epilogue.bias == nullptr && epilogue.activation == Activation::kIdentity;
  WinogradProblem p{in,
                    s.batch,
                    s.in_h,
                    s.in_w,
                    s.in_c,
                    s.out_h,
                    s.out_w,
                    s.out_c,
                    static_cast<std::ptrdiff_t>(s.pad_top),
                    static_cast<std::ptrdiff_t>(s.pad_left),
                    u,
                    u_stride,
                    out,
                    trivial_epilogue ? nullptr : &epilogue};
  p.max_pool_2x2 = max_pool_2x2;
  WinogradParallel(p);
  return true;
}

inline void ConvForwardImpl(const ConvShape& s, const float* HWY_RESTRICT in,
                            const float* HWY_RESTRICT weights,
                            float* HWY_RESTRICT out, const Epilogue& epilogue,
                            const float* HWY_RESTRICT winograd_weights) {
  using namespace conv_internal;  // NOLINT(build/namespaces)
  const std::size_t pixels = s.batch * s.out_h * s.out_w;
  if (pixels == 0 || s.out_c == 0) return;
  const bool trivial_epilogue =
      epilogue.bias == nullptr && epilogue.activation == Activation::kIdentity;
  if (TryWinogradForward(s, in, weights, out, epilogue, winograd_weights,
                         /*max_pool_2x2=*/false)) {
    return;
  }
  if (PlanarForwardApplies(s.out_c, s.stride_w)) {
    const PlanarProblem planar = ForwardPlanar(
        s, in, weights, out, trivial_epilogue ? nullptr : &epilogue);
    const int threads =
        ThreadsFor(pixels * s.out_c * s.kernel_h * s.kernel_w * s.in_c);
    SplitOverThreads(threads, s.batch * s.out_h, 1,
                     [&](std::size_t r0, std::size_t r1, std::size_t,
                         std::size_t) { PlanarForwardRows(planar, r0, r1); });
    return;
  }
  PatchProduct p{ForwardGeometry(s, in),
                 pixels,
                 s.out_c,
                 weights,
                 s.out_c,
                 out,
                 trivial_epilogue ? nullptr : &epilogue};
  const std::size_t depth = p.g.depth();
  if (s.out_c % kConvLanes != 0) {
    // Whole-vector loads of the last weight row would leave the array.
    const std::size_t padded = RoundUp(s.out_c, kConvLanes);
    float* b =
        ThreadScratch(ScratchSlot::kOperandB, depth * padded + kConvLanes);
    PadColumns(hn::ScalableTag<float>(), weights, depth, s.out_c, s.out_c,
               padded, b);
    p.b = b;
    p.b_stride = padded;
  }
  if (DirectForwardApplies(s)) {
    const int threads = ThreadsFor(pixels * s.out_c * depth);
    using Rows = void (*)(const ConvShape&, const float*, const float*,
                          std::size_t, float*, const Epilogue*, std::size_t,
                          std::size_t, std::size_t, std::size_t);
    static constexpr Rows kByChannels[] = {nullptr,
                                           &DirectForwardRows<1>,
                                           &DirectForwardRows<2>,
                                           &DirectForwardRows<3>,
                                           &DirectForwardRows<4>,
                                           nullptr,
                                           &DirectForwardRows<6>,
                                           nullptr,
                                           &DirectForwardRows<8>};
    const Rows rows = kByChannels[s.in_c];
    SplitOverThreads(
        threads, s.batch * s.out_h, (s.out_c + kConvLanes - 1) / kConvLanes,
        [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
          rows(s, in, p.b, p.b_stride, out, p.epilogue, r0, r1, c0 * kConvLanes,
               std::min(s.out_c, c1 * kConvLanes));
        });
    return;
  }
  PatchProductParallel(p);
}

// out (batch × out_h/2 × out_w/2 × out_c) = the 2×2 max-pool, stride 2,
// valid, of ConvForwardImpl's result. Run as Winograd, or as pixel tiles
// (few output channels), each output tile is pooled before it is stored
// and `unpooled` is not touched; otherwise the convolution is written to
// `unpooled` (batch × out_h × out_w × out_c) and pooled from there by the
// max-pool kernel. Either way out is bitwise what the two kernels give one
// after the other.
inline void ConvForwardMaxPoolImpl(const ConvShape& s,
                                   const float* HWY_RESTRICT in,
                                   const float* HWY_RESTRICT weights,
                                   float* HWY_RESTRICT unpooled,
                                   float* HWY_RESTRICT out,
                                   const Epilogue& epilogue,
                                   const float* HWY_RESTRICT winograd_weights) {
  if (s.batch * s.out_h * s.out_w == 0 || s.out_c == 0) return;
  if (TryWinogradForward(s, in, weights, out, epilogue, winograd_weights,
                         /*max_pool_2x2=*/true)) {
    return;
  }
  using namespace conv_internal;  // NOLINT(build/namespaces)
  if (kPlanarPoolsInTiles && PlanarForwardApplies(s.out_c, s.stride_w) &&
      s.out_h >= 2 && s.out_w >= 2) {
    // Few channels (LeNet's first layer): pooled in the pixel tiles too.
    const bool trivial_epilogue = epilogue.bias == nullptr &&
                                  epilogue.activation == Activation::kIdentity;
    PlanarProblem planar = ForwardPlanar(
        s, in, weights, nullptr, trivial_epilogue ? nullptr : &epilogue);
    planar.pooled = out;
    const int threads = ThreadsFor(s.batch * s.out_h * s.out_w * s.out_c *
                                   s.kernel_h * s.kernel_w * s.in_c);
    SplitOverThreads(threads, s.batch * (s.out_h / 2), 1,
                     [&](std::size_t r0, std::size_t r1, std::size_t,
                         std::size_t) { PlanarForwardRows(planar, r0, r1); });
    return;
  }
  ConvForwardImpl(s, in, weights, unpooled, epilogue, winograd_weights);
  PoolShape pool;
  pool.batch = s.batch;
  pool.in_h = s.out_h;
  pool.in_w = s.out_w;
  pool.channels = s.out_c;
  pool.out_h = s.out_h / 2;
  pool.out_w = s.out_w / 2;
  pool.window_h = pool.window_w = 2;
  pool.stride_h = pool.stride_w = 2;
  MaxPoolForward(pool, unpooled, out, nullptr);
}

// The multiply-adds ConvForwardImpl's products execute for s: a Winograd
// pass multiplies 36 transformed values per 4×4 output tile and channel
// pair (a quarter of a 3×3 convolution's 144), the others pixels · out_c ·
// kh · kw · in_c. Transforms and padding are not counted.
inline double ConvForwardMacsImpl(const ConvShape& s) {
  using namespace conv_internal;  // NOLINT(build/namespaces)
  const std::size_t tiles = s.batch * WinogradTiles(s.out_h, s.out_w);
  if (WinogradApplies(s.kernel_h, s.kernel_w, s.stride_h, s.stride_w, s.in_c,
                      s.out_c, tiles)) {
    return double(tiles) * kWinogradPositions * s.in_c * s.out_c;
  }
  return double(s.batch) * s.out_h * s.out_w * s.out_c * s.kernel_h *
         s.kernel_w * s.in_c;
}

// din[b, iy, ix, c] = Σ dout[b, y, x, o] · W[ky, kx, c, o] over the (y, x,
// ky, kx) with iy = y·stride_h + ky − pad_top (and the same along x): a
// stride-1 convolution of dout upsampled by the stride, with the flipped,
// transposed kernel and padding kernel − 1 − pad.
inline void ConvBackwardDataImpl(const ConvShape& s,
                                 const float* HWY_RESTRICT dout,
                                 const float* HWY_RESTRICT weights,
                                 float* HWY_RESTRICT din) {
  using namespace conv_internal;  // NOLINT(build/namespaces)
  const std::size_t pixels = s.batch * s.in_h * s.in_w;
  if (pixels == 0 || s.in_c == 0) return;
  PatchGeometry g;
  g.source = dout;
  g.source_end = dout + s.batch * s.out_h * s.out_w * s.out_c;
  g.source_h = s.out_h;
  g.source_w = s.out_w;
  g.channels = s.out_c;
  g.grid_h = s.in_h;
  g.grid_w = s.in_w;
  g.kernel_h = s.kernel_h;
  g.kernel_w = s.kernel_w;
  g.upsample_h = s.stride_h;
  g.upsample_w = s.stride_w;
  g.pad_top = static_cast<std::ptrdiff_t>(s.kernel_h) - 1 -
              static_cast<std::ptrdiff_t>(s.pad_top);
  g.pad_left = static_cast<std::ptrdiff_t>(s.kernel_w) - 1 -
               static_cast<std::ptrdiff_t>(s.pad_left);
  const std::size_t tiles = s.batch * WinogradTiles(s.in_h, s.in_w);
  if (WinogradApplies(s.kernel_h, s.kernel_w, s.stride_h, s.stride_w, s.out_c,
                      s.in_c, tiles)) {
    // The flipped, transposed kernel (out_c → in_c), then its transform.
    float* flipped =
        ThreadScratch(ScratchSlot::kFlippedWeights, g.depth() * s.in_c);
    FlipAndTransposeWeights(s, weights, s.in_c, flipped);
    const std::size_t u_stride = RoundUp(s.in_c, kConvLanes);
    float* u = ThreadScratch(ScratchSlot::kOperandB,
                             kWinogradPositions * s.out_c * u_stride);
    TransformWeights(flipped, s.out_c, s.in_c, u_stride, u);
    WinogradParallel({dout, s.batch, s.out_h, s.out_w, s.out_c, s.in_h, s.in_w,
                      s.in_c, g.pad_top, g.pad_left, u, u_stride, din,
                      nullptr});
    return;
  }
  if (s.stride_h == 1 && PlanarForwardApplies(s.in_c, s.stride_w) &&
      s.pad_top < s.kernel_h && s.pad_left < s.kernel_w) {
    float* flipped =
        ThreadScratch(ScratchSlot::kFlippedWeights, g.depth() * s.in_c);
    FlipAndTransposeWeights(s, weights, s.in_c, flipped);
    const PlanarProblem planar = BackwardDataPlanar(s, dout, flipped, din);
    const int threads = ThreadsFor(pixels * s.out_c * g.depth());
    SplitOverThreads(threads, s.batch * s.in_h, 1,
                     [&](std::size_t r0, std::size_t r1, std::size_t,
                         std::size_t) { PlanarForwardRows(planar, r0, r1); });
    return;
  }
  if (Col2imApplies(s)) {
    Col2imBackwardData(s, dout, weights, din,
                       ThreadsFor(pixels * s.out_c * g.depth()));
    return;
  }
  const std::size_t stride = RoundUp(s.in_c, kConvLanes);
  float* flipped =
      ThreadScratch(ScratchSlot::kOperandB, g.depth() * stride + kConvLanes);
  FlipAndTransposeWeights(s, weights, stride, flipped);
  PatchProduct p{g, pixels, s.in_c, flipped, stride, din, nullptr};
  PatchProductParallel(p);
}

// dW (K × out_c) = patches(in)ᵀ · dout; dbias = column sums of dout.
inline void ConvBackwardWeightsImpl(const ConvShape& s,
                                    const float* HWY_RESTRICT in,
                                    const float* HWY_RESTRICT dout,
                                    float* HWY_RESTRICT dweights,
                                    float* HWY_RESTRICT dbias) {
  using namespace conv_internal;  // NOLINT(build/namespaces)
  const WeightGradient p{ForwardGeometry(s, in),
                         s.batch * s.out_h * s.out_w,
                         s.out_c,
                         dout,
                         dweights,
                         dbias};
  const std::size_t depth = p.g.depth();
  if (p.pixels == 0 || depth == 0) {
    // No patch columns (or no pixels): dW is empty (or zero), and dbias
    // sums the gradient alone.
    std::fill(dweights, dweights + depth * p.n, 0.0f);
    if (dbias != nullptr) {
      for (std::size_t o = 0; o < p.n; ++o) {
        float sum = 0.0f;
        for (std::size_t m = 0; m < p.pixels; ++m) sum += dout[m * p.n + o];
        dbias[o] = sum;
      }
    }
    return;
  }
  const std::size_t tiles = s.batch * WinogradTiles(s.out_h, s.out_w);
  if (WinogradGradientApplies(s, tiles)) {
    WinogradGradientParallel(s, in, dout, dweights, dbias, tiles);
    return;
  }
  const std::size_t col_vectors = (p.n + kConvLanes - 1) / kConvLanes;
  const int threads = ThreadsFor(p.pixels * p.n * depth);
  if (PlanarGradientApplies(s)) {
    const PlanarProblem planar =
        ForwardPlanar(s, in, nullptr, nullptr, nullptr);
    const std::size_t units = GradientUnits(planar).count(planar);
    SplitOverThreads(
        threads, units, 1,
        [&](std::size_t u0, std::size_t u1, std::size_t, std::size_t) {
          // The bias gradient on the thread that has the first units only,
          // so that its sums never depend on the thread count.
          float* bias = u0 == 0 ? dbias : nullptr;
          if (s.kernel_w == 3) {
            PlanarWeightGradientUnits<3>(planar, dout, dweights, bias, u0, u1);
          } else {
            PlanarWeightGradientUnits<5>(planar, dout, dweights, bias, u0, u1);
          }
        });
    return;
  }
  if (KernelRowGradientApplies(s)) {
    SplitOverThreads(
        threads, 1, s.out_c,
        [&](std::size_t, std::size_t, std::size_t o0, std::size_t o1) {
          for (std::size_t o = o0; o < o1; o += kKernelRowMaxOutputs) {
            const std::size_t o_end = std::min(o1, o + kKernelRowMaxOutputs);
            if (s.in_c == 1) {
              KernelRowGradientAnyHeight<1>(s, in, dout, dweights, dbias, o,
                                            o_end);
            } else {
              KernelRowGradientAnyHeight<3>(s, in, dout, dweights, dbias, o,
                                            o_end);
            }
          }
        });
    return;
  }
  if (DirectApplies(s)) {
    const float* b = dout;
    std::size_t b_stride = s.out_c;
    if (s.out_c % kConvLanes != 0) {
      b_stride = RoundUp(s.out_c, kConvLanes);
      float* padded = ThreadScratch(ScratchSlot::kPaddedGradient,
                                    p.pixels * b_stride + kConvLanes);
      PadColumns(hn::ScalableTag<float>(), dout, p.pixels, s.out_c, s.out_c,
                 b_stride, padded);
      b = padded;
    }
    const std::size_t kernel_row = s.kernel_w * s.in_c;
    const std::size_t row_tiles =
        s.kernel_h * ((kernel_row + kConvTileRows - 1) / kConvTileRows);
    SplitOverThreads(
        threads, row_tiles, col_vectors,
        [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
          auto tiles = s.in_c == 1 ? &DirectWeightGradientTiles<1>
                                   : &DirectWeightGradientTiles<3>;
          tiles(s, in, b, b_stride, dweights, dbias, r0, r1, c0 * kConvLanes,
                std::min(s.out_c, c1 * kConvLanes));
        });
    return;
  }
  const std::size_t k_tiles = (depth + kConvTileRows - 1) / kConvTileRows;
  SplitOverThreads(
      threads, k_tiles, col_vectors,
      [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
        WeightGradientBlock(p, r0 * kConvTileRows,
                            std::min(depth, r1 * kConvTileRows),
                            c0 * kConvLanes, std::min(p.n, c1 * kConvLanes));
      });
}

}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
