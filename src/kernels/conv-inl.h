// Convolutions for every SIMD target, as implicit GEMMs over the patch
// matrix (see conv_pack-inl.h), which is packed a tile at a time into a
// thread's L1 and never stored whole:
//
//   forward          out  (pixels × out_c) = patches(in)    · W  (K × out_c)
//   backward data    din  (pixels × in_c)  = patches(dout↑) · W' (K' × in_c)
//                    where W' is W flipped in space with in/out channels
//                    swapped and dout↑ is dout upsampled by the stride: the
//                    transposed convolution is a convolution again
//   backward weights dW   (K × out_c)      = patches(in)ᵀ   · dout
//
// Every output element is one chain of FMAs in a fixed order (K slices in
// order; for dW, pixels in order), started from zero, and work is split
// over threads by output blocks only, so results are bitwise independent of
// the thread count (within one target).

#if defined(SEQUENT_SRC_KERNELS_CONV_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_CONV_INL_H_
#undef SEQUENT_SRC_KERNELS_CONV_INL_H_
#else
#define SEQUENT_SRC_KERNELS_CONV_INL_H_
#endif

#include <omp.h>

#include <algorithm>
#include <cstddef>

#include "conv_microkernel-inl.h"
#include "conv_pack-inl.h"
#include "conv_winograd-inl.h"
#include "conv_winograd_weights-inl.h"
#include "hwy/highway.h"
#include "sequent/kernels/conv.hpp"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {
namespace conv_internal {
namespace hn = hwy::HWY_NAMESPACE;

namespace conv_tuning {
// Below this many multiply-adds a pass runs on the calling thread: waking
// the OpenMP team costs about as much as the work.
constexpr std::size_t kParallelMinMacs = std::size_t{256} * 1024;
// Pixels per block of backward weights: the block's packed patches are
// streamed kConvTileRows columns at a time while its output-gradient panel
// (block × 32 floats) is reused from L2 by every tile of patch columns;
// longer blocks mean fewer reloads of the dW tile (measured: 128 → 512
// pixels gains 5–10%).
constexpr std::size_t kWeightsBlockPixels = 512;
}  // namespace conv_tuning

// Cuts the K = taps × channels columns of a patch row into slices of at most
// kPatchStride, on tap boundaries when a tap fits (so that the taps of a
// kernel row stay one copy), else into equal channel chunks of one tap.
class KSlices {
 public:
  KSlices(std::size_t taps, std::size_t channels) : channels_(channels) {
    if (channels == 0 || taps == 0) {
      count_ = 1;  // one empty slice: the epilogue still runs (on zeros)
      return;
    }
    if (channels <= kPatchStride) {
      const std::size_t fit = kPatchStride / channels;
      count_ = (taps + fit - 1) / fit;
      taps_per_slice_ = (taps + count_ - 1) / count_;
      taps_ = taps;
    } else {
      chunks_per_tap_ = (channels + kPatchStride - 1) / kPatchStride;
      chunk_ = (channels + chunks_per_tap_ - 1) / chunks_per_tap_;
      count_ = taps * chunks_per_tap_;
    }
  }
  std::size_t count() const { return count_; }
  // Columns [begin, end) of slice i.
  void Bounds(std::size_t i, std::size_t* begin, std::size_t* end) const {
    if (taps_ == 0 && chunk_ == 0) {
      *begin = *end = 0;
    } else if (chunk_ == 0) {
      *begin = i * taps_per_slice_ * channels_;
      *end = std::min(taps_, (i + 1) * taps_per_slice_) * channels_;
    } else {
      const std::size_t tap = i / chunks_per_tap_;
      *begin = tap * channels_ + (i % chunks_per_tap_) * chunk_;
      *end = std::min((tap + 1) * channels_, *begin + chunk_);
    }
  }

 private:
  std::size_t channels_;
  std::size_t count_ = 0, taps_ = 0, taps_per_slice_ = 0;
  std::size_t chunks_per_tap_ = 0, chunk_ = 0;
};

// C (rows × n, row-major) = patches(g) · B, then the epilogue; B is K × n
// with row stride b_stride, readable up to RoundUp(n, kConvLanes) columns.
struct PatchProduct {
  PatchGeometry g;
  std::size_t rows, n;
  const float* b;
  std::size_t b_stride;
  float* c;
  const Epilogue* epilogue;  // null when it is the identity without bias
};

// Computes C[m_begin:m_end, n_begin:n_end) on the calling thread: per tile
// of kConvTileRows pixels and per K slice, packs the tile's patches once and
// sweeps every column panel over them.
inline void PatchProductBlock(const PatchProduct& p, std::size_t m_begin,
                              std::size_t m_end, std::size_t n_begin,
                              std::size_t n_end) {
  const hn::ScalableTag<float> d;
  float* patches = ThreadScratch(ScratchSlot::kPatches,
                                 kConvTileRows * kPatchStride + kConvLanes);
  const KSlices slices(p.g.kernel_h * p.g.kernel_w, p.g.channels);
  ConvTile tile{};
  tile.a = patches;
  tile.b_stride = p.b_stride;
  tile.c_stride = p.n;
  for (std::size_t m0 = m_begin; m0 < m_end; m0 += kConvTileRows) {
    tile.rows = std::min(kConvTileRows, m_end - m0);
    for (std::size_t s = 0; s < slices.count(); ++s) {
      std::size_t k_begin, k_end;
      slices.Bounds(s, &k_begin, &k_end);
      PackPatches(d, p.g, m0, tile.rows, k_begin, k_end, patches, kPatchStride);
      tile.depth = k_end - k_begin;
      tile.load_c = s != 0;
      tile.epilogue = s + 1 == slices.count() ? p.epilogue : nullptr;
      for (std::size_t col = n_begin; col < n_end; col += kConvPanelCols) {
        tile.b = p.b + k_begin * p.b_stride + col;
        tile.c = p.c + m0 * p.n + col;
        tile.cols = std::min(kConvPanelCols, n_end - col);
        tile.bias = tile.epilogue != nullptr && tile.epilogue->bias != nullptr
                        ? tile.epilogue->bias + col
                        : nullptr;
        RunTile<kPatchStride, 1, false>(tile.cols, tile);
      }
    }
  }
}

// The number of threads worth waking for `macs` multiply-adds.
inline int ThreadsFor(std::size_t macs) {
  if (macs < conv_tuning::kParallelMinMacs || omp_in_parallel()) return 1;
  return omp_get_max_threads();
}

// Splits `row_units` × `col_units` of output into one block per thread
// along rows or columns, whichever leaves the busiest thread less work, and
// calls block(row_begin, row_end, col_begin, col_end) in units.
template <class Block>
void SplitOverThreads(int threads, std::size_t row_units, std::size_t col_units,
                      const Block& block) {
  if (threads <= 1) {
    block(std::size_t{0}, row_units, std::size_t{0}, col_units);
    return;
  }
  const std::size_t t = static_cast<std::size_t>(threads);
  const bool split_rows = (row_units + t - 1) / t * col_units <=
                          (col_units + t - 1) / t * row_units;
  const std::size_t units = split_rows ? row_units : col_units;
#pragma omp parallel num_threads(threads)
  {
    const std::size_t team = static_cast<std::size_t>(omp_get_num_threads());
    const std::size_t id = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t first = units * id / team;
    const std::size_t last = units * (id + 1) / team;
    if (first < last) {
      if (split_rows) {
        block(first, last, std::size_t{0}, col_units);
      } else {
        block(std::size_t{0}, row_units, first, last);
      }
    }
  }
}

inline void PatchProductParallel(const PatchProduct& p) {
  const std::size_t row_tiles = (p.rows + kConvTileRows - 1) / kConvTileRows;
  const std::size_t col_vectors = (p.n + kConvLanes - 1) / kConvLanes;
  const int threads = ThreadsFor(p.rows * p.n * p.g.depth());
  SplitOverThreads(
      threads, row_tiles, col_vectors,
      [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
        PatchProductBlock(p, r0 * kConvTileRows,
                          std::min(p.rows, r1 * kConvTileRows), c0 * kConvLanes,
                          std::min(p.n, c1 * kConvLanes));
      });
}

inline PatchGeometry ForwardGeometry(const ConvShape& s, const float* in) {
  PatchGeometry g;
  g.source = in;
  g.source_h = s.in_h;
  g.source_w = s.in_w;
  g.channels = s.in_c;
  g.grid_h = s.out_h;
  g.grid_w = s.out_w;
  g.kernel_h = s.kernel_h;
  g.kernel_w = s.kernel_w;
  g.stride_h = s.stride_h;
  g.stride_w = s.stride_w;
  g.pad_top = static_cast<std::ptrdiff_t>(s.pad_top);
  g.pad_left = static_cast<std::ptrdiff_t>(s.pad_left);
  return g;
}

// W' (kh × kw × out_c × in_c, rows padded to `stride` floats) from W (kh ×
// kw × in_c × out_c): W'[ky, kx, o, c] = W[kh−1−ky, kw−1−kx, c, o].
inline void FlipAndTransposeWeights(const ConvShape& s,
                                    const float* HWY_RESTRICT weights,
                                    std::size_t stride,
                                    float* HWY_RESTRICT flipped) {
  const std::size_t taps = s.kernel_h * s.kernel_w;
  for (std::size_t tap = 0; tap < taps; ++tap) {
    const float* src = weights + (taps - 1 - tap) * s.in_c * s.out_c;
    float* dst = flipped + tap * s.out_c * stride;
    for (std::size_t o = 0; o < s.out_c; ++o) {
      float* row = dst + o * stride;
      for (std::size_t c = 0; c < s.in_c; ++c) row[c] = src[c * s.out_c + o];
      for (std::size_t c = s.in_c; c < stride; ++c) row[c] = 0.0f;
    }
  }
}

// dW (K × out_c) = patches(in)ᵀ · dout and dbias = column sums of dout.
struct WeightGradient {
  PatchGeometry g;
  std::size_t pixels, n;
  const float* dout;  // pixels × n
  float* dweights;    // K × n
  float* dbias;       // n, or null
};

// Computes dW rows [k_begin, k_end) × columns [n_begin, n_end) on the
// calling thread (and dbias for those columns if k_begin == 0), sweeping
// the pixels in blocks, in order.
inline void WeightGradientBlock(const WeightGradient& p, std::size_t k_begin,
                                std::size_t k_end, std::size_t n_begin,
                                std::size_t n_end) {
  const hn::ScalableTag<float> d;
  constexpr std::size_t kBlock = conv_tuning::kWeightsBlockPixels;
  // Columns of patches packed per pass: whole tiles that fit a packed row.
  constexpr std::size_t kChunk = kPatchStride / kConvTileRows * kConvTileRows;
  float* patches =
      ThreadScratch(ScratchSlot::kPatches, kBlock * kPatchStride + kConvLanes);
  const bool pad_gradient = p.n % kConvLanes != 0;
  const std::size_t b_stride = pad_gradient ? RoundUp(p.n, kConvLanes) : p.n;
  float* padded = pad_gradient ? ThreadScratch(ScratchSlot::kPaddedGradient,
                                               kBlock * b_stride + kConvLanes)
                               : nullptr;
  ConvTile tile{};
  tile.b_stride = b_stride;
  tile.c_stride = p.n;
  for (std::size_t m0 = 0; m0 < p.pixels; m0 += kBlock) {
    const std::size_t rows = std::min(kBlock, p.pixels - m0);
    const float* b = p.dout + m0 * p.n;
    if (pad_gradient) {
      PadColumns(d, b, rows, p.n, p.n, b_stride, padded);
      b = padded;
    }
    tile.depth = rows;
    tile.load_c = m0 != 0;
    tile.load_column_sums = m0 != 0;
    for (std::size_t kc = k_begin; kc < k_end; kc += kChunk) {
      const std::size_t kc_end = std::min(k_end, kc + kChunk);
      PackPatches(d, p.g, m0, rows, kc, kc_end, patches, kPatchStride);
      for (std::size_t k = kc; k < kc_end; k += kConvTileRows) {
        tile.a = patches + (k - kc);
        tile.rows = std::min(kConvTileRows, kc_end - k);
        for (std::size_t col = n_begin; col < n_end; col += kConvPanelCols) {
          tile.b = b + col;
          tile.c = p.dweights + k * p.n + col;
          tile.cols = std::min(kConvPanelCols, n_end - col);
          if (k == 0 && p.dbias != nullptr) {
            tile.column_sums = p.dbias + col;
            RunTile<1, kPatchStride, true>(tile.cols, tile);
          } else {
            tile.column_sums = nullptr;
            RunTile<1, kPatchStride, false>(tile.cols, tile);
          }
        }
      }
    }
  }
}

// Runs a Winograd convolution whose U is already in p, split over the
// threads by row tiles of kConvTileRows tiles (or by output columns when
// there are too few tiles).
inline void WinogradParallel(const WinogradProblem& p) {
  const std::size_t tiles = p.tiles();
  const std::size_t row_tiles = (tiles + kConvTileRows - 1) / kConvTileRows;
  const std::size_t col_vectors = (p.out_c + kConvLanes - 1) / kConvLanes;
  const int threads =
      ThreadsFor(tiles * kWinogradPositions * p.channels * p.out_c);
  SplitOverThreads(
      threads, row_tiles, col_vectors,
      [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
        WinogradBlock(p, r0 * kConvTileRows,
                      std::min(tiles, r1 * kConvTileRows), c0 * kConvLanes,
                      std::min(p.out_c, c1 * kConvLanes));
      });
}

// dW and dbias by Winograd (see conv_winograd_weights-inl.h); the scratch
// is the calling thread's, shared with the team it starts.
inline void WinogradGradientParallel(const ConvShape& s, const float* in,
                                     const float* dout, float* dweights,
                                     float* dbias, std::size_t tiles) {
  WinogradGradient w{};
  w.p = {in,
         s.batch,
         s.in_h,
         s.in_w,
         s.in_c,
         s.out_h,
         s.out_w,
         s.out_c,
         static_cast<std::ptrdiff_t>(s.pad_top),
         static_cast<std::ptrdiff_t>(s.pad_left),
         nullptr,
         0,
         nullptr,
         nullptr};
  w.dout = dout;
  w.o_stride = RoundUp(s.out_c, kConvLanes);
  w.dweights = dweights;
  w.dbias = dbias;
  constexpr std::size_t kBlock = kWinogradGradientBlockTiles;
  // The products' last channel tile may read a few floats past a V row.
  w.v = ThreadScratch(
      ScratchSlot::kPatches,
      kWinogradPositions * kBlock * kWinogradMaxChannels + kConvTileRows);
  w.dm = ThreadScratch(ScratchSlot::kPaddedGradient,
                       kWinogradPositions * kBlock * w.o_stride);
  w.du = ThreadScratch(ScratchSlot::kOperandB,
                       kWinogradPositions * s.in_c * w.o_stride);
  const int threads = ThreadsFor(tiles * kWinogradPositions * s.in_c * s.out_c);
  // Always a parallel region, even of one thread: the work-sharing loops
  // inside must bind to a team of this call, never to a caller's.
#pragma omp parallel num_threads(threads)
  WinogradGradientWork(w, static_cast<std::size_t>(omp_get_thread_num()),
                       static_cast<std::size_t>(omp_get_num_threads()));
}

}  // namespace conv_internal

// Entry points (exported by conv.cc; contracts in conv.hpp).

// in: batch × in_h × in_w × in_c; weights: K × out_c (K = kh·kw·in_c);
// out: batch × out_h × out_w × out_c.
inline void ConvForwardImpl(const ConvShape& s, const float* HWY_RESTRICT in,
                            const float* HWY_RESTRICT weights,
                            float* HWY_RESTRICT out, const Epilogue& epilogue) {
  using namespace conv_internal;  // NOLINT(build/namespaces)
  const std::size_t pixels = s.batch * s.out_h * s.out_w;
  if (pixels == 0 || s.out_c == 0) return;
  const bool trivial_epilogue =
      epilogue.bias == nullptr && epilogue.activation == Activation::kIdentity;
  const std::size_t tiles = s.batch *
                            ((s.out_h + kWinogradTile - 1) / kWinogradTile) *
                            ((s.out_w + kWinogradTile - 1) / kWinogradTile);
  if (WinogradApplies(s.kernel_h, s.kernel_w, s.stride_h, s.stride_w, s.in_c,
                      s.out_c, tiles)) {
    const std::size_t u_stride = RoundUp(s.out_c, kConvLanes);
    float* u = ThreadScratch(ScratchSlot::kOperandB,
                             kWinogradPositions * s.in_c * u_stride);
    TransformWeights(weights, s.in_c, s.out_c, u_stride, u);
    WinogradParallel({in, s.batch, s.in_h, s.in_w, s.in_c, s.out_h, s.out_w,
                      s.out_c, static_cast<std::ptrdiff_t>(s.pad_top),
                      static_cast<std::ptrdiff_t>(s.pad_left), u, u_stride, out,
                      trivial_epilogue ? nullptr : &epilogue});
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
  PatchProductParallel(p);
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
  const std::size_t tiles = s.batch *
                            ((s.in_h + kWinogradTile - 1) / kWinogradTile) *
                            ((s.in_w + kWinogradTile - 1) / kWinogradTile);
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
  const std::size_t tiles = s.batch *
                            ((s.out_h + kWinogradTile - 1) / kWinogradTile) *
                            ((s.out_w + kWinogradTile - 1) / kWinogradTile);
  if (WinogradGradientApplies(s, tiles)) {
    WinogradGradientParallel(s, in, dout, dweights, dbias, tiles);
    return;
  }
  const std::size_t k_tiles = (depth + kConvTileRows - 1) / kConvTileRows;
  const std::size_t col_vectors = (p.n + kConvLanes - 1) / kConvLanes;
  const int threads = ThreadsFor(p.pixels * p.n * depth);
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
