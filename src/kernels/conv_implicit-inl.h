// The implicit GEMM: convolutions as products with the patch matrix (see
// conv_pack-inl.h), which is packed a tile at a time into a thread's L1 and
// never stored whole. The general algorithm, for any shape:
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

#if defined(SEQUENT_SRC_KERNELS_CONV_IMPLICIT_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_CONV_IMPLICIT_INL_H_
#undef SEQUENT_SRC_KERNELS_CONV_IMPLICIT_INL_H_
#else
#define SEQUENT_SRC_KERNELS_CONV_IMPLICIT_INL_H_
#endif

#include <algorithm>
#include <cstddef>

#include "conv_microkernel-inl.h"
#include "conv_pack-inl.h"
#include "hwy/highway.h"
#include "sequent/kernels/conv.hpp"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {
namespace conv_internal {
namespace hn = hwy::HWY_NAMESPACE;

// Pixels per block of backward weights: the block's packed patches are
// streamed kConvTileRows columns at a time while its output-gradient panel
// (block × 32 floats) is reused from L2 by every tile of patch columns;
// longer blocks mean fewer reloads of the dW tile (measured: 128 → 512
// pixels gains 5–10%).
constexpr std::size_t kWeightsBlockPixels = 512;

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
  g.source_end = in + s.batch * s.in_h * s.in_w * s.in_c;
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
  constexpr std::size_t kBlock = kWeightsBlockPixels;
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

}  // namespace conv_internal
}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
