// 3×3 stride-1 convolutions by Winograd's minimal filtering F(4×4, 3×3):
// each 4×4 block of outputs ("tile") comes from the 6×6 input patch under
// it with 36 multiplies per (in, out) channel pair instead of 144, so the
// product — the bulk of the work — shrinks 4×:
//
//   U = G g Gᵀ            per (c, o): the 3×3 kernel → 6×6, once per call
//   V = Bᵀ d B            per (tile, c): the 6×6 input patch → 6×6
//   M_ξ = V_ξ · U_ξ       for each of the 36 positions ξ: (tiles × C) ·
//                         (C × O), a plain product run by the micro-kernel
//   Y = Aᵀ M A            per (tile, o): 6×6 → the 4×4 outputs, + epilogue
//
// with the matrices of Lavin & Gray (interpolation points 0, ±1, ±2, ∞):
//   Bᵀ = [4  0 −5  0 1 0;  0 −4 −4  1 1 0;  0 4 −4 −1 1 0;
//         0 −2 −1  2 1 0;  0  2 −1 −2 1 0;  0 4  0 −5 0 1]
//   G  = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1/24 1/12 ⅙; 1/24 −1/12 ⅙; 0 0 1]
//   Aᵀ = [1 1 1 1 1 0;  0 1 −1 2 −2 0;  0 1 1 4 4 0;  0 1 −1 8 −8 1]
//
// The transforms are additions and small multiples over whole channel
// vectors (NHWC keeps a pixel's channels contiguous), a fraction of the
// product's cost. Their rounding adds a few ulp per output, well inside
// float's margin for K = 9·C terms. Tiles are processed a micro-kernel row
// tile at a time, so V and M of a block stay in L1/L2; each output is
// computed the same way whatever the thread split.

#if defined(SEQUENT_SRC_KERNELS_CONV_WINOGRAD_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_CONV_WINOGRAD_INL_H_
#undef SEQUENT_SRC_KERNELS_CONV_WINOGRAD_INL_H_
#else
#define SEQUENT_SRC_KERNELS_CONV_WINOGRAD_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "conv_microkernel-inl.h"
#include "conv_pack-inl.h"
#include "hwy/highway.h"
#include "sequent/kernels/conv.hpp"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {
namespace conv_internal {
namespace hn = hwy::HWY_NAMESPACE;

// Row stride of a transformed input V_ξ (tiles × channels), in floats: the
// micro-kernel's broadcasts then sit at constant offsets. It bounds the
// input channels Winograd takes (the implicit GEMM does wider layers).
constexpr std::size_t kWinogradMaxChannels = 128;
constexpr std::size_t kWinogradTile = kWinogradOutputTile;  // per side
constexpr std::size_t kWinogradPatch = 6;  // inputs per patch side
constexpr std::size_t kWinogradPositions = kWinogradPatch * kWinogradPatch;
// Tiles per block: one micro-kernel row tile. V of a block (36 × 12 × 128
// floats, 216 KiB) stays in L2 and M (36 × 12 × 32 floats) in L1–L2 while
// the block's products run; larger blocks measured no faster.
constexpr std::size_t kWinogradBlockTiles = 2 * kConvTileRows;
// Blocks per thread from which the forward pass hands them out dynamically.
constexpr std::size_t kWinogradDynamicMinBlocksPerThread = 8;
// Floats from one position ξ to the next in a block's V and M. The extra
// cache line keeps the 36 values of one tile from sharing their address
// modulo 4 KiB, which would stall loads behind unrelated stores.
// M is stored tile by tile, so that the output transform of a tile reads
// its 36 products from consecutive memory.
constexpr std::size_t kWinogradMTileFloats =
    kWinogradPositions * kConvPanelCols;

// A convolution with a 3×3 kernel and stride 1 over `source` (batch ×
// height × width × channels), producing `out` (batch × out_h × out_w ×
// out_c); source positions outside the image read as zero.
struct WinogradProblem {
  const float* source;
  std::size_t batch, height, width, channels;
  std::size_t out_h, out_w, out_c;
  std::ptrdiff_t pad_top, pad_left;
  const float* transformed_weights;  // U: 36 × channels × u_stride
  std::size_t u_stride;              // out_c rounded up to whole vectors
  float* out;
  const Epilogue* epilogue;  // null when it is the identity without bias
  // Whether out is the 2×2 max-pool (stride 2, valid) of the convolution:
  // batch × out_h/2 × out_w/2 × out_c, each tile pooled before its store.
  bool max_pool_2x2 = false;

  std::size_t tiles_h() const {
    return (out_h + kWinogradTile - 1) / kWinogradTile;
  }
  std::size_t tiles_w() const {
    return (out_w + kWinogradTile - 1) / kWinogradTile;
  }
  std::size_t tiles() const { return batch * tiles_h() * tiles_w(); }
};

// Whether Winograd pays for this convolution: a 3×3 kernel at stride 1,
// enough channels on both sides for the 36 products to run long enough,
// and enough tiles: enough to fill the micro-kernel's rows when the weights
// must be transformed on the call, kWinogradMinTilesPrepared (conv.hpp)
// when they were prepared.
inline bool WinogradApplies(std::size_t kernel_h, std::size_t kernel_w,
                            std::size_t stride_h, std::size_t stride_w,
                            std::size_t channels, std::size_t out_c,
                            std::size_t tiles, bool prepared = false) {
  static_assert(WinogradShape(3, 3, 1, 1, kWinogradMaxChannels, 16) &&
                !WinogradShape(3, 3, 1, 1, kWinogradMaxChannels + 1, 16));
  return WinogradShape(kernel_h, kernel_w, stride_h, stride_w, channels,
                       out_c) &&
         tiles >= (prepared ? kWinogradMinTilesPrepared : 2 * kConvTileRows);
}

// The 1-D transforms, on vectors: Bᵀ x, G g and Aᵀ m for one column.
template <class D>
HWY_INLINE void InputTransform1D(D d, const hn::Vec<D>* x, hn::Vec<D>* y) {
  using V = hn::Vec<D>;
  const V two = hn::Set(d, 2.0f), four = hn::Set(d, 4.0f),
          five = hn::Set(d, 5.0f);
  const V x4_minus_x2 = hn::Sub(x[4], x[2]);
  const V x3_minus_x1 = hn::Sub(x[3], x[1]);
  const V x3_plus_x4 = hn::Add(x[3], x[4]);
  const V x1_plus_x2 = hn::Add(x[1], x[2]);
  const V x4_minus_x3 = hn::Sub(x[4], x[3]);
  const V x1_minus_x2 = hn::Sub(x[1], x[2]);
  y[0] = hn::NegMulAdd(five, x[2], hn::MulAdd(four, x[0], x[4]));
  y[1] = hn::NegMulAdd(four, x1_plus_x2, x3_plus_x4);
  y[2] = hn::MulAdd(four, x1_minus_x2, x4_minus_x3);
  y[3] = hn::MulAdd(two, x3_minus_x1, x4_minus_x2);
  y[4] = hn::NegMulAdd(two, x3_minus_x1, x4_minus_x2);
  y[5] = hn::NegMulAdd(five, x[3], hn::MulAdd(four, x[1], x[5]));
}

template <class D>
HWY_INLINE void KernelTransform1D(D d, const hn::Vec<D>* g, hn::Vec<D>* y) {
  using V = hn::Vec<D>;
  const V quarter = hn::Set(d, 0.25f), sixth = hn::Set(d, 1.0f / 6.0f);
  const V g0_plus_g2 = hn::Add(g[0], g[2]);
  const V outer = hn::MulAdd(hn::Set(d, 1.0f / 24.0f), g[0],
                             hn::Mul(sixth, g[2]));  // g0/24 + g2/6
  const V middle = hn::Mul(hn::Set(d, 1.0f / 12.0f), g[1]);
  y[0] = hn::Mul(quarter, g[0]);
  y[1] = hn::Neg(hn::Mul(sixth, hn::Add(g0_plus_g2, g[1])));
  y[2] = hn::Neg(hn::Mul(sixth, hn::Sub(g0_plus_g2, g[1])));
  y[3] = hn::Add(outer, middle);
  y[4] = hn::Sub(outer, middle);
  y[5] = g[2];
}

template <class D>
HWY_INLINE void OutputTransform1D(D d, const hn::Vec<D>* m, hn::Vec<D>* y) {
  using V = hn::Vec<D>;
  const V sum12 = hn::Add(m[1], m[2]), diff12 = hn::Sub(m[1], m[2]);
  const V sum34 = hn::Add(m[3], m[4]), diff34 = hn::Sub(m[3], m[4]);
  y[0] = hn::Add(hn::Add(m[0], sum12), sum34);
  y[1] = hn::MulAdd(hn::Set(d, 2.0f), diff34, diff12);
  y[2] = hn::MulAdd(hn::Set(d, 4.0f), sum34, sum12);
  y[3] = hn::Add(hn::MulAdd(hn::Set(d, 8.0f), diff34, diff12), m[5]);
}

// U[ξ][c][o] (36 × channels × u_stride, zero past out_c) from a kernel in
// Keras layout, weights[ky][kx][c][o] (3 × 3 × channels × out_c).
inline void TransformWeights(const float* HWY_RESTRICT weights,
                             std::size_t channels, std::size_t out_c,
                             std::size_t u_stride, float* HWY_RESTRICT u) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const std::size_t lanes = hn::Lanes(d);
  const std::size_t position_floats = channels * u_stride;
  const std::size_t tap_floats = channels * out_c;
  for (std::size_t c = 0; c < channels; ++c) {
    for (std::size_t o = 0; o < u_stride; o += lanes) {
      const std::size_t valid = o < out_c ? std::min(lanes, out_c - o) : 0;
      const float* kernel = weights + c * out_c + o;
      V columns[kWinogradPatch][3];  // G g: 6×3
      HWY_UNROLL(3)
      for (std::size_t kx = 0; kx < 3; ++kx) {
        V g[3];
        HWY_UNROLL(3)
        for (std::size_t ky = 0; ky < 3; ++ky) {
          g[ky] = valid == 0 ? hn::Zero(d)
                             : LoadFirst(d, kernel + (ky * 3 + kx) * tap_floats,
                                         valid);
        }
        V transformed[kWinogradPatch];
        KernelTransform1D(d, g, transformed);
        HWY_UNROLL(6)
        for (std::size_t i = 0; i < kWinogradPatch; ++i) {
          columns[i][kx] = transformed[i];
        }
      }
      HWY_UNROLL(6)
      for (std::size_t i = 0; i < kWinogradPatch; ++i) {
        V row[kWinogradPatch];  // (G g Gᵀ)[i][·]
        KernelTransform1D(d, columns[i], row);
        HWY_UNROLL(6)
        for (std::size_t j = 0; j < kWinogradPatch; ++j) {
          hn::StoreU(row[j], d,
                     u + (i * kWinogradPatch + j) * position_floats +
                         c * u_stride + o);
        }
      }
    }
  }
}

// Where a tile sits: its image and the top-left corner of its input patch.
struct TileOrigin {
  std::size_t image, tile_y, tile_x;
  std::ptrdiff_t y0, x0;
};

inline TileOrigin LocateTile(const WinogradProblem& p, std::size_t tile) {
  const std::size_t per_image = p.tiles_h() * p.tiles_w();
  TileOrigin t;
  t.image = tile / per_image;
  t.tile_y = (tile % per_image) / p.tiles_w();
  t.tile_x = tile % p.tiles_w();
  t.y0 = static_cast<std::ptrdiff_t>(kWinogradTile * t.tile_y) - p.pad_top;
  t.x0 = static_cast<std::ptrdiff_t>(kWinogradTile * t.tile_x) - p.pad_left;
  return t;
}

// Writes one tile's V (36 vectors, position ξ at out[ξ·position_floats])
// for the channels [c, c + lanes) that load(i, j) returns at patch row i,
// column j.
//
// The transforms' loops all have constant trip counts and are unrolled
// (HWY_UNROLL) throughout this file and conv_winograd_weights-inl.h: left
// rolled, -O2 copied every 6-vector row and column through the stack
// once more on its way in and out of the 1-D transforms. Unrolled, the
// forward and backward data of a 32 → 32 layer on 16×16 (batch 4, one
// thread, fastest of 300) took 110 instead of 125 µs.
template <class D, class Load>
HWY_INLINE void TransformPatch(D d, const Load& load, float* HWY_RESTRICT out,
                               std::size_t position_floats) {
  using V = hn::Vec<D>;
  V rows[kWinogradPatch][kWinogradPatch];  // d B, row by row
  HWY_UNROLL(6)
  for (std::size_t i = 0; i < kWinogradPatch; ++i) {
    V x[kWinogradPatch];
    HWY_UNROLL(6)
    for (std::size_t j = 0; j < kWinogradPatch; ++j) x[j] = load(i, j);
    InputTransform1D(d, x, rows[i]);
  }
  HWY_UNROLL(6)
  for (std::size_t j = 0; j < kWinogradPatch; ++j) {
    V column[kWinogradPatch], y[kWinogradPatch];
    HWY_UNROLL(6)
    for (std::size_t i = 0; i < kWinogradPatch; ++i) column[i] = rows[i][j];
    InputTransform1D(d, column, y);
    HWY_UNROLL(6)
    for (std::size_t i = 0; i < kWinogradPatch; ++i) {
      hn::StoreU(y[i], d, out + (i * kWinogradPatch + j) * position_floats);
    }
  }
}

// V of one tile: out[ξ·position_floats + c] = (Bᵀ d B)[ξ] of the tile's
// 6×6 input patch d, channel c.
inline void TransformInputTile(const WinogradProblem& p, std::size_t index,
                               float* HWY_RESTRICT out,
                               std::size_t position_floats) {
  const hn::ScalableTag<float> d;
  const std::size_t lanes = hn::Lanes(d);
  // Reads of the padding come from here, so that every patch, at the edge
  // or not, is 36 plain loads without branches.
  HWY_ALIGN static constexpr float kZeros[kWinogradMaxChannels] = {};
  const TileOrigin tile = LocateTile(p, index);
  const float* image = p.source + tile.image * p.height * p.width * p.channels;
  const float* taps[kWinogradPatch][kWinogradPatch];
  HWY_UNROLL(6)
  for (std::size_t i = 0; i < kWinogradPatch; ++i) {
    const std::ptrdiff_t y = tile.y0 + static_cast<std::ptrdiff_t>(i);
    const bool row_inside = y >= 0 && y < static_cast<std::ptrdiff_t>(p.height);
    HWY_UNROLL(6)
    for (std::size_t j = 0; j < kWinogradPatch; ++j) {
      const std::ptrdiff_t x = tile.x0 + static_cast<std::ptrdiff_t>(j);
      const bool inside =
          row_inside && x >= 0 && x < static_cast<std::ptrdiff_t>(p.width);
      taps[i][j] = inside ? image + (static_cast<std::size_t>(y) * p.width +
                                     static_cast<std::size_t>(x)) *
                                        p.channels
                          : kZeros;
    }
  }
  for (std::size_t c = 0; c < p.channels; c += lanes) {
    const std::size_t valid = std::min(lanes, p.channels - c);
    if (valid == lanes) {
      auto load = [&](std::size_t i, std::size_t j)
                      HWY_ATTR { return hn::LoadU(d, taps[i][j] + c); };
      TransformPatch(d, load, out + c, position_floats);
    } else {  // the last, partial vector of channels
      auto load = [&](std::size_t i, std::size_t j)
                      HWY_ATTR { return LoadFirst(d, taps[i][j] + c, valid); };
      TransformPatch(d, load, out + c, position_floats);
    }
  }
}

// Stores the 2×2 max-pool of a tile's 4×4 outputs y (after the epilogue)
// for channels [0, valid) at `corner`, the tile's first pooled pixel, in a
// pooled image of `pooled_w` × out_c: windows_down × windows_across windows.
// Ties and NaN go as in the max-pool kernel: the window's first value in
// scan order, replaced only by a strictly greater one.
template <class D>
HWY_INLINE void StorePooledTile(D d, const hn::Vec<D> (&y)[4][4],
                                std::size_t windows_down,
                                std::size_t windows_across,
                                std::size_t pooled_w, std::size_t out_c,
                                std::size_t valid, float* corner) {
  for (std::size_t i = 0; i < windows_down; ++i) {
    for (std::size_t j = 0; j < windows_across; ++j) {
      auto best = y[2 * i][2 * j];
      const hn::Vec<D> rest[3] = {y[2 * i][2 * j + 1], y[2 * i + 1][2 * j],
                                  y[2 * i + 1][2 * j + 1]};
      HWY_UNROLL(3)
      for (std::size_t k = 0; k < 3; ++k) {
        best = hn::IfThenElse(hn::Gt(rest[k], best), rest[k], best);
      }
      StoreFirst(d, best, corner + (i * pooled_w + j) * out_c, valid);
    }
  }
}

// Outputs of tiles [first, first + count) for columns [col, col + cols) of
// out: Y = Aᵀ M A from m[t·kWinogradMTileFloats + ξ·kConvPanelCols + j],
// then the epilogue, stored where inside the image (or pooled, with
// p.max_pool_2x2: a 4×4 tile holds 2×2 whole windows, since tiles start at
// multiples of 4, so a layer's full output is never stored).
inline void TransformOutputBlock(const WinogradProblem& p, std::size_t first,
                                 std::size_t count, std::size_t col,
                                 std::size_t cols,
                                 const float* HWY_RESTRICT m) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const std::size_t lanes = hn::Lanes(d);
  const Epilogue* epilogue = p.epilogue;
  for (std::size_t t = 0; t < count; ++t) {
    const TileOrigin tile = LocateTile(p, first + t);
    const std::size_t y0 = kWinogradTile * tile.tile_y;
    const std::size_t x0 = kWinogradTile * tile.tile_x;
    const std::size_t rows_inside = std::min(kWinogradTile, p.out_h - y0);
    const std::size_t cols_inside = std::min(kWinogradTile, p.out_w - x0);
    // Pooled: the windows of the tile inside the pooled image (whose odd
    // last conv row or column, if any, belongs to no window).
    const std::size_t pooled_h = p.out_h / 2, pooled_w = p.out_w / 2;
    const std::size_t windows_down =
        y0 / 2 < pooled_h ? std::min<std::size_t>(2, pooled_h - y0 / 2) : 0;
    const std::size_t windows_across =
        x0 / 2 < pooled_w ? std::min<std::size_t>(2, pooled_w - x0 / 2) : 0;
    // (A tile with no whole window, past the pooled image's last row or
    // column, stores nothing and needs no corner.)
    if (p.max_pool_2x2 && (windows_down == 0 || windows_across == 0)) continue;
    float* corner =
        p.max_pool_2x2
            ? p.out +
                  ((tile.image * pooled_h + y0 / 2) * pooled_w + x0 / 2) *
                      p.out_c +
                  col
            : p.out + ((tile.image * p.out_h + y0) * p.out_w + x0) * p.out_c +
                  col;
    for (std::size_t j0 = 0; j0 < cols; j0 += lanes) {
      const std::size_t valid = std::min(lanes, cols - j0);
      const float* m_tile = m + t * kWinogradMTileFloats + j0;
      // Aᵀ M, column by column: 4 rows of 6.
      V rows[kWinogradTile][kWinogradPatch];
      HWY_UNROLL(6)
      for (std::size_t j = 0; j < kWinogradPatch; ++j) {
        V column[kWinogradPatch], y[kWinogradTile];
        HWY_UNROLL(6)
        for (std::size_t i = 0; i < kWinogradPatch; ++i) {
          column[i] =
              hn::LoadU(d, m_tile + (i * kWinogradPatch + j) * kConvPanelCols);
        }
        OutputTransform1D(d, column, y);
        HWY_UNROLL(4)
        for (std::size_t i = 0; i < kWinogradTile; ++i) rows[i][j] = y[i];
      }
      // (Aᵀ M) A, row by row, then the epilogue.
      V y[kWinogradTile][kWinogradTile];
      HWY_UNROLL(4)
      for (std::size_t i = 0; i < kWinogradTile; ++i) {
        OutputTransform1D(d, rows[i], y[i]);
      }
      if (epilogue != nullptr) {
        if (epilogue->bias != nullptr) {
          const V bias = LoadFirst(d, epilogue->bias + col + j0, valid);
          HWY_UNROLL(4)
          for (std::size_t i = 0; i < kWinogradTile; ++i) {
            HWY_UNROLL(4)
            for (std::size_t j = 0; j < kWinogradTile; ++j) {
              y[i][j] = hn::Add(y[i][j], bias);
            }
          }
        }
        Activate(d, *epilogue, y);
      }
      if (p.max_pool_2x2) {
        StorePooledTile(d, y, windows_down, windows_across, pooled_w, p.out_c,
                        valid, corner + j0);
        continue;
      }
      for (std::size_t i = 0; i < rows_inside; ++i) {
        for (std::size_t j = 0; j < cols_inside; ++j) {
          StoreFirst(d, y[i][j], corner + (i * p.out_w + j) * p.out_c + j0,
                     valid);
        }
      }
    }
  }
}

// Calls body(std::integral_constant<std::size_t, stride>()) with the row
// stride of V (floats per tile and position) for `channels` (at most
// kWinogradMaxChannels): 32, 64 or 128, so that V of a block is no larger
// than its channels need and stays in L2.
template <class Body>
HWY_INLINE void WithChannelStride(std::size_t channels, const Body& body) {
  if (channels <= 32) return body(std::integral_constant<std::size_t, 32>());
  if (channels <= 64) return body(std::integral_constant<std::size_t, 64>());
  body(std::integral_constant<std::size_t, kWinogradMaxChannels>());
}

// Computes tiles [tile_begin, tile_end) × output columns [n_begin, n_end) on
// the calling thread; V holds kChannelStride floats per tile and position.
template <std::size_t kChannelStride>
void WinogradBlock(const WinogradProblem& p, std::size_t tile_begin,
                   std::size_t tile_end, std::size_t n_begin,
                   std::size_t n_end) {
  constexpr std::size_t kVTileFloats = kWinogradPositions * kChannelStride;
  float* v =
      ThreadScratch(ScratchSlot::kPatches, kWinogradBlockTiles * kVTileFloats);
  float* m = ThreadScratch(ScratchSlot::kWinogradProducts,
                           kWinogradBlockTiles * kWinogradMTileFloats);
  const std::size_t position_u = p.channels * p.u_stride;
  ConvTile tile{};
  tile.b_stride = p.u_stride;
  tile.depth = p.channels;
  tile.c_stride = kWinogradMTileFloats;
  for (std::size_t first = tile_begin; first < tile_end;
       first += kWinogradBlockTiles) {
    const std::size_t count = std::min(kWinogradBlockTiles, tile_end - first);
    for (std::size_t t = 0; t < count; ++t) {
      TransformInputTile(p, first + t, v + t * kVTileFloats, kChannelStride);
    }
    for (std::size_t col = n_begin; col < n_end; col += kConvPanelCols) {
      tile.cols = std::min(kConvPanelCols, n_end - col);
      for (std::size_t xi = 0; xi < kWinogradPositions; ++xi) {
        tile.b = p.transformed_weights + xi * position_u + col;
        for (std::size_t t = 0; t < count; t += kConvTileRows) {
          tile.a = v + t * kVTileFloats + xi * kChannelStride;
          tile.c = m + t * kWinogradMTileFloats + xi * kConvPanelCols;
          tile.rows = std::min(kConvTileRows, count - t);
          RunTile<kVTileFloats, 1, false>(tile.cols, tile);
        }
      }
      TransformOutputBlock(p, first, count, col, tile.cols, m);
    }
  }
}

}  // namespace conv_internal
}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
