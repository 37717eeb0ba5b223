// The kernel gradient of a 3×3 stride-1 convolution through the same
// F(4×4, 3×3) transforms as the forward pass (conv_winograd-inl.h), run
// backwards. With Y = Aᵀ [Σ_c U ⊙ V] A per tile, the gradient dY of a tile
// flows back as
//
//   dM = A dY Aᵀ                          per (tile, o): 4×4 → 6×6
//   dU_ξ = Σ_tiles V_ξᵀ · dM_ξ            for each ξ: (C × tiles) · (tiles × O)
//   dW = Gᵀ dU G                          per (c, o): 6×6 → 3×3, at the end
//
// and the bias gradient Σ dY is position ξ = 7 of dM (row and column 1 of A
// are all ones), summed by the micro-kernel while it loads those rows.
//
// Tiles go through in blocks: the team transforms a block's inputs and
// gradients (split by tile), then each thread runs the products of its own
// share of (ξ, channel tile) pairs over the whole block, adding to dU. Every
// dU element is thus one FMA chain over the tiles in order, owned by one
// thread: the result does not depend on the thread count.

#if defined(SEQUENT_SRC_KERNELS_CONV_WINOGRAD_WEIGHTS_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_CONV_WINOGRAD_WEIGHTS_INL_H_
#undef SEQUENT_SRC_KERNELS_CONV_WINOGRAD_WEIGHTS_INL_H_
#else
#define SEQUENT_SRC_KERNELS_CONV_WINOGRAD_WEIGHTS_INL_H_
#endif

#include <omp.h>

#include <algorithm>
#include <cstddef>

#include "conv_microkernel-inl.h"
#include "conv_pack-inl.h"
#include "conv_winograd-inl.h"
#include "hwy/highway.h"
#include "sequent/kernels/conv.hpp"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {
namespace conv_internal {
namespace hn = hwy::HWY_NAMESPACE;

// Tiles per block: the depth of each product. A block's V_ξ and dM_ξ
// (96 × 128 floats each at most) sit in L2 while the products of ξ run, and
// dU_ξ is loaded and stored once per block, a few percent of its work.
constexpr std::size_t kWinogradGradientBlockTiles = 96;
// The products need at least this many tiles to repay the transforms.
constexpr std::size_t kWinogradGradientMinTiles = 96;
// Floats added to the distance between positions ξ in a block's V and dM:
// without them the 36 values of a tile, written together, would share
// their address modulo 4 KiB and stall later loads behind them.
constexpr std::size_t kPositionSkew = 16;
// Position ξ whose dM is the tile's Σ dY: A's row 1 is (1, 1, 1, 1).
constexpr std::size_t kWinogradSumPosition = 1 * kWinogradPatch + 1;

// Inputs (p.source etc.), gradient of the outputs, and the results.
struct WinogradGradient {
  WinogradProblem p;     // the forward convolution (out unused)
  const float* dout;     // batch × out_h × out_w × out_c
  std::size_t o_stride;  // out_c rounded up to whole vectors
  float* dweights;       // 3 × 3 × channels × out_c
  float* dbias;          // out_c, or null
  // Shared scratch: V and dM of a block, position-major, and dU.
  float* v;   // [ξ][tile][channel stride (32, 64 or 128)]
  float* dm;  // [ξ][tile][o_stride]
  float* du;  // [ξ][channels][o_stride]
};

inline bool WinogradGradientApplies(const ConvShape& s, std::size_t tiles) {
  return WinogradApplies(s.kernel_h, s.kernel_w, s.stride_h, s.stride_w, s.in_c,
                         s.out_c, tiles) &&
         tiles >= kWinogradGradientMinTiles;
}

// The 1-D adjoints: A y (4 → 6) and Gᵀ u (6 → 3), on vectors.
template <class D>
HWY_INLINE void GradientTransform1D(D d, const hn::Vec<D>* y, hn::Vec<D>* m) {
  using V = hn::Vec<D>;
  const V two = hn::Set(d, 2.0f), four = hn::Set(d, 4.0f),
          eight = hn::Set(d, 8.0f);
  const V even = hn::Add(y[0], y[2]), odd = hn::Add(y[1], y[3]);
  const V even4 = hn::MulAdd(four, y[2], y[0]);                // y0 + 4 y2
  const V odd4 = hn::MulAdd(eight, y[3], hn::Mul(two, y[1]));  // 2y1 + 8y3
  m[0] = y[0];
  m[1] = hn::Add(even, odd);
  m[2] = hn::Sub(even, odd);
  m[3] = hn::Add(even4, odd4);
  m[4] = hn::Sub(even4, odd4);
  m[5] = y[3];
}

template <class D>
HWY_INLINE void KernelGradient1D(D d, const hn::Vec<D>* u, hn::Vec<D>* g) {
  using V = hn::Vec<D>;
  const V sixth = hn::Set(d, 1.0f / 6.0f);
  const V sum12 = hn::Add(u[1], u[2]), diff12 = hn::Sub(u[2], u[1]);
  const V sum34 = hn::Add(u[3], u[4]), diff34 = hn::Sub(u[3], u[4]);
  // g0 = u0/4 − (u1 + u2)/6 + (u3 + u4)/24
  g[0] = hn::MulAdd(hn::Set(d, 0.25f), u[0],
                    hn::MulAdd(hn::Set(d, 1.0f / 24.0f), sum34,
                               hn::Mul(hn::Neg(sixth), sum12)));
  // g1 = (u2 − u1)/6 + (u3 − u4)/12
  g[1] = hn::MulAdd(sixth, diff12, hn::Mul(hn::Set(d, 1.0f / 12.0f), diff34));
  // g2 = (u3 + u4 − u1 − u2)/6 + u5
  g[2] = hn::MulAdd(sixth, hn::Sub(sum34, sum12), u[5]);
}

// dM of one tile: out[ξ·position_floats + o] for every output channel.
inline void TransformGradientTile(const WinogradGradient& w, std::size_t index,
                                  float* HWY_RESTRICT out,
                                  std::size_t position_floats) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const std::size_t lanes = hn::Lanes(d);
  const WinogradProblem& p = w.p;
  const TileOrigin tile = LocateTile(p, index);
  const std::size_t y0 = kWinogradTile * tile.tile_y;
  const std::size_t x0 = kWinogradTile * tile.tile_x;
  const std::size_t rows_inside = std::min(kWinogradTile, p.out_h - y0);
  const std::size_t cols_inside = std::min(kWinogradTile, p.out_w - x0);
  const float* corner =
      w.dout + ((tile.image * p.out_h + y0) * p.out_w + x0) * p.out_c;
  for (std::size_t o = 0; o < p.out_c; o += lanes) {
    const std::size_t valid = std::min(lanes, p.out_c - o);
    // A dY: 6 rows of 4, column by column (outputs past the image are 0).
    V rows[kWinogradPatch][kWinogradTile];
    HWY_UNROLL(4)
    for (std::size_t j = 0; j < kWinogradTile; ++j) {
      V column[kWinogradTile], m[kWinogradPatch];
      HWY_UNROLL(4)
      for (std::size_t i = 0; i < kWinogradTile; ++i) {
        column[i] =
            i < rows_inside && j < cols_inside
                ? LoadFirst(d, corner + (i * p.out_w + j) * p.out_c + o, valid)
                : hn::Zero(d);
      }
      GradientTransform1D(d, column, m);
      HWY_UNROLL(6)
      for (std::size_t i = 0; i < kWinogradPatch; ++i) rows[i][j] = m[i];
    }
    // (A dY) Aᵀ, row by row.
    HWY_UNROLL(6)
    for (std::size_t i = 0; i < kWinogradPatch; ++i) {
      V m[kWinogradPatch];
      GradientTransform1D(d, rows[i], m);
      HWY_UNROLL(6)
      for (std::size_t j = 0; j < kWinogradPatch; ++j) {
        hn::StoreU(m[j], d,
                   out + (i * kWinogradPatch + j) * position_floats + o);
      }
    }
  }
}

// dW[ky][kx][c][o] = (Gᵀ dU[c][o] G)[ky][kx] for channels [c_begin, c_end).
inline void KernelGradientFromProducts(const WinogradGradient& w,
                                       std::size_t c_begin, std::size_t c_end) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const std::size_t lanes = hn::Lanes(d);
  const std::size_t channels = w.p.channels, out_c = w.p.out_c;
  const std::size_t position_floats = channels * w.o_stride;
  for (std::size_t c = c_begin; c < c_end; ++c) {
    for (std::size_t o = 0; o < out_c; o += lanes) {
      const std::size_t valid = std::min(lanes, out_c - o);
      // Gᵀ dU: 3 rows of 6, column by column.
      V rows[3][kWinogradPatch];
      HWY_UNROLL(6)
      for (std::size_t j = 0; j < kWinogradPatch; ++j) {
        V column[kWinogradPatch], g[3];
        HWY_UNROLL(6)
        for (std::size_t i = 0; i < kWinogradPatch; ++i) {
          column[i] =
              hn::LoadU(d, w.du + (i * kWinogradPatch + j) * position_floats +
                               c * w.o_stride + o);
        }
        KernelGradient1D(d, column, g);
        HWY_UNROLL(3)
        for (std::size_t ky = 0; ky < 3; ++ky) rows[ky][j] = g[ky];
      }
      HWY_UNROLL(3)
      for (std::size_t ky = 0; ky < 3; ++ky) {
        V g[3];
        KernelGradient1D(d, rows[ky], g);
        HWY_UNROLL(3)
        for (std::size_t kx = 0; kx < 3; ++kx) {
          StoreFirst(d, g[kx],
                     w.dweights + ((ky * 3 + kx) * channels + c) * out_c + o,
                     valid);
        }
      }
    }
  }
}

// The work of thread `id` of `team` (called by every member, or by one
// thread with team = 1). Work-sharing loops inside bind to the caller's
// OpenMP team, so the transforms of a block are split over it.
template <std::size_t kChannelStride>
void WinogradGradientWork(const WinogradGradient& w, std::size_t id,
                          std::size_t team) {
  constexpr std::size_t kBlock = kWinogradGradientBlockTiles;
  const WinogradProblem& p = w.p;
  const std::size_t tiles = p.tiles();
  const std::size_t c_tiles = (p.channels + kConvTileRows - 1) / kConvTileRows;
  // This thread's (ξ, channel tile) products, in one contiguous range.
  const std::size_t units = kWinogradPositions * c_tiles;
  const std::size_t first_unit = units * id / team;
  const std::size_t last_unit = units * (id + 1) / team;
  const std::size_t v_position = kBlock * kChannelStride + kPositionSkew;
  const std::size_t dm_position = kBlock * w.o_stride + kPositionSkew;
  const std::size_t du_position = p.channels * w.o_stride;
  ConvTile tile{};
  tile.b_stride = w.o_stride;
  tile.c_stride = w.o_stride;
  for (std::size_t first = 0; first < tiles; first += kBlock) {
    const std::size_t count = std::min(kBlock, tiles - first);
    const std::ptrdiff_t signed_count = static_cast<std::ptrdiff_t>(count);
#pragma omp for schedule(static)
    for (std::ptrdiff_t t = 0; t < signed_count; ++t) {
      const std::size_t offset = static_cast<std::size_t>(t);
      TransformInputTile(p, first + offset, w.v + offset * kChannelStride,
                         v_position);
      TransformGradientTile(w, first + offset, w.dm + offset * w.o_stride,
                            dm_position);
    }
    // (implicit barrier: the block's V and dM are complete)
    tile.depth = count;
    tile.load_c = first != 0;
    tile.load_column_sums = first != 0;
    for (std::size_t unit = first_unit; unit < last_unit; ++unit) {
      const std::size_t xi = unit / c_tiles;
      const std::size_t c0 = (unit % c_tiles) * kConvTileRows;
      tile.a = w.v + xi * v_position + c0;
      tile.rows = std::min(kConvTileRows, p.channels - c0);
      const bool sums_bias =
          w.dbias != nullptr && xi == kWinogradSumPosition && c0 == 0;
      for (std::size_t col = 0; col < p.out_c; col += kConvPanelCols) {
        tile.b = w.dm + xi * dm_position + col;
        tile.c = w.du + xi * du_position + c0 * w.o_stride + col;
        tile.cols = std::min(kConvPanelCols, p.out_c - col);
        if (sums_bias) {
          tile.column_sums = w.dbias + col;
          RunTile<1, kChannelStride, true>(tile.cols, tile);
        } else {
          tile.column_sums = nullptr;
          RunTile<1, kChannelStride, false>(tile.cols, tile);
        }
      }
    }
#pragma omp barrier
  }
  const std::size_t c_begin = p.channels * id / team;
  const std::size_t c_end = p.channels * (id + 1) / team;
  KernelGradientFromProducts(w, c_begin, c_end);
}

}  // namespace conv_internal
}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
