// Convolutions with few output channels (LeNet's 6, the backward data of a
// layer over 6 channels), vectorised over output pixels instead of output
// channels: with channels last, 6 channels fill 6 of 8 (or 16) lanes and 6
// accumulators, which FMA latency halves again. Here a vector holds
// consecutive pixels of one output row, and a tile of kOut channels × kVecs
// vectors is enough independent accumulators to keep both FMA ports busy.
//
// Each image is first copied into zero-bordered planes P (one per input
// channel, padded_h × padded_w, the convolution's padding on every side and
// whole tiles of slack on the right), so that every tap is a plain load:
//
//   forward  out[y, x0 + i, o0 + r] = Σ_c Σ_ky Σ_kx P[c, y·sh + ky, x0 + i +
//   kx]
//                                                  · W[ky, kx, c, o0 + r]
//            lanes i are pixels; r < kOut channels, each weight broadcast
//   dW       dW[ky, kx, c, o] = Σ_b Σ_y Σ_x D[o, y, x] · P[c, y·sh + ky, x +
//   kx]
//            D is dout in planes (zero past out_w); lanes are pixels, summed
//            across lanes once at the end
//
// Backward data of a stride-1 convolution is the forward of dout with the
// kernel flipped and its channels swapped, padded by kernel − 1 − pad, so
// it runs here too when the layer has few input channels.
//
// Stride 1 along x only; any stride along y, any padding.

#if defined(SEQUENT_SRC_KERNELS_CONV_PLANAR_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_CONV_PLANAR_INL_H_
#undef SEQUENT_SRC_KERNELS_CONV_PLANAR_INL_H_
#else
#define SEQUENT_SRC_KERNELS_CONV_PLANAR_INL_H_
#endif

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "conv_microkernel-inl.h"
#include "conv_pack-inl.h"
#include "hwy/highway.h"
#include "sequent/kernels/conv.hpp"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {
namespace conv_internal {
namespace hn = hwy::HWY_NAMESPACE;

// Channels per forward tile, and vectors of pixels per tile: kOut · kVecs
// accumulators, kVecs input vectors and one broadcast must fit the
// register file (16 vectors on AVX2, 32 on AVX-512), and at least 8
// accumulators hide the FMA latency (4 cycles, 2 ports).
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
constexpr std::size_t kPlanarMaxOutputs = 8;
constexpr std::size_t kPlanarAccumulators = 24;
#else
constexpr std::size_t kPlanarMaxOutputs = 6;
constexpr std::size_t kPlanarAccumulators = 12;
#endif
// Widest kernel row the weight-gradient tiles take (kx accumulators).
constexpr std::size_t kPlanarMaxKernelW = 7;

constexpr std::size_t PlanarVecs(std::size_t outputs) {
  const std::size_t v = kPlanarAccumulators / outputs;
  return v < 1 ? 1 : (v > 4 ? 4 : v);
}
// Output channels per weight-gradient tile for kernels kernel_w wide.
constexpr std::size_t PlanarGradientOutputs(std::size_t kernel_w) {
  const std::size_t o = kPlanarAccumulators / kernel_w;
  return o < 1 ? 1 : (o > kPlanarMaxOutputs ? kPlanarMaxOutputs : o);
}

// A convolution in the terms of this file: out = conv(src, weights) with
// src NHWC (batch × src_h × src_w × src_c) and weights laid out
// kh × kw × src_c × out_c, padded by pad_top / pad_left (and as needed on
// the other sides), stride 1 along x.
struct PlanarProblem {
  const float* src;
  std::size_t batch, src_h, src_w, src_c;
  std::size_t out_h, out_w, out_c;
  std::size_t kernel_h, kernel_w, stride_h;
  std::size_t pad_top, pad_left;
  const float* weights;
  float* out;                // batch × out_h × out_w × out_c
  const Epilogue* epilogue;  // or null
  // If not null, out is not written: the 2×2 max-pool (stride 2) of the
  // result is, here (batch × ⌊out_h/2⌋ × ⌊out_w/2⌋ × out_c), and the rows
  // PlanarForwardRows takes are this output's.
  float* pooled = nullptr;
};

#if HWY_TARGET != HWY_SCALAR  // which lacks the shuffles
// out[j] lane i = in[i] lane j, for vectors of 8 lanes in two 128-bit
// blocks (AVX2): 4×4 transposes inside each block, of rows 0–3 and 4–7,
// then the blocks regrouped.
template <class D>
HWY_INLINE void Transpose8x8(D d, const hn::Vec<D> (&in)[8],
                             hn::Vec<D> (&out)[8]) {
  static_assert(hn::MaxLanes(D()) == 8);
  using V = hn::Vec<D>;
  const hn::Repartition<std::uint64_t, D> d64;
  auto lower64 = [&](V a, V b) HWY_ATTR {
    return hn::BitCast(
        d, hn::InterleaveLower(d64, hn::BitCast(d64, a), hn::BitCast(d64, b)));
  };
  auto upper64 = [&](V a, V b) HWY_ATTR {
    return hn::BitCast(
        d, hn::InterleaveUpper(d64, hn::BitCast(d64, a), hn::BitCast(d64, b)));
  };
  // quarter[q][j]: lanes 4q… of in[j] (low block) and of in[4 + j] (high).
  V quarter[2][4];
  for (std::size_t q = 0; q < 2; ++q) {
    const V* r4 = in + 4 * q;
    const V t0 = hn::InterleaveLower(d, r4[0], r4[1]);
    const V t1 = hn::InterleaveLower(d, r4[2], r4[3]);
    const V t2 = hn::InterleaveUpper(d, r4[0], r4[1]);
    const V t3 = hn::InterleaveUpper(d, r4[2], r4[3]);
    quarter[q][0] = lower64(t0, t1);
    quarter[q][1] = upper64(t0, t1);
    quarter[q][2] = lower64(t2, t3);
    quarter[q][3] = upper64(t2, t3);
  }
  for (std::size_t j = 0; j < 4; ++j) {
    out[j] = hn::ConcatLowerLower(d, quarter[1][j], quarter[0][j]);
    out[4 + j] = hn::ConcatUpperUpper(d, quarter[1][j], quarter[0][j]);
  }
}

// DeinterleaveRow's first pixels on 8-lane targets, for kChannels ≤ 8: 8
// pixels at a time, each loaded as one vector (its spare lanes read the
// next pixels, while those lie inside the row) and transposed. Returns the
// pixels done. Gathers took two thirds of the weight gradient's own time
// outside its tiles (LeNet's first layer); the channel count is a constant
// so that the transposed rows stay in registers.
template <std::size_t kChannels, class D>
HWY_INLINE std::size_t DeinterleaveTransposed(D d,
                                              const float* HWY_RESTRICT src,
                                              std::size_t n,
                                              float* HWY_RESTRICT dst,
                                              std::size_t plane_stride) {
  constexpr std::size_t kLanes = 8;
  std::size_t x = 0;
  for (; x + kLanes <= n &&
         (x + kLanes - 1) * kChannels + kLanes <= n * kChannels;
       x += kLanes) {
    hn::Vec<D> pixels[8], channel_rows[8];
    for (std::size_t i = 0; i < 8; ++i) {
      pixels[i] = hn::LoadU(d, src + (x + i) * kChannels);
    }
    Transpose8x8(d, pixels, channel_rows);
    for (std::size_t c = 0; c < kChannels; ++c) {
      hn::StoreU(channel_rows[c], d, dst + c * plane_stride + x);
    }
  }
  return x;
}

template <class D, std::size_t... kIndices>
constexpr auto MakeTransposedDeinterleave(std::index_sequence<kIndices...>) {
  using Fn = std::size_t (*)(D, const float*, std::size_t, float*, std::size_t);
  return std::array<Fn, sizeof...(kIndices)>{
      &DeinterleaveTransposed<kIndices + 2, D>...};  // 2 to 8 channels
}
#endif

// dst[c · plane_stride + x] = src[x · channels + c] for x < n, c < channels:
// a row of channels-last pixels into one row per channel. A copy for one
// channel, LoadInterleaved3 for three, register transposes for up to 8 on
// 8-lane targets; then gathers, and the tail of a row element by element.
template <class D>
HWY_INLINE void DeinterleaveRow(D d, const float* HWY_RESTRICT src,
                                std::size_t n, std::size_t channels,
                                float* HWY_RESTRICT dst,
                                std::size_t plane_stride) {
  const std::size_t lanes = hn::Lanes(d);
  const hn::RebindToSigned<D> di;
  const auto offsets =
      hn::Mul(hn::Iota(di, 0), hn::Set(di, static_cast<int>(channels)));
  if (channels == 1) {  // already one plane
    std::copy_n(src, n, dst);
    return;
  }
  std::size_t x = 0;
  if (channels == 3) {  // RGB images: Highway's shuffles, without gathers
    for (; x + lanes <= n; x += lanes) {
      hn::Vec<D> red, green, blue;
      hn::LoadInterleaved3(d, src + x * 3, red, green, blue);
      hn::StoreU(red, d, dst + x);
      hn::StoreU(green, d, dst + plane_stride + x);
      hn::StoreU(blue, d, dst + 2 * plane_stride + x);
    }
  }
#if HWY_TARGET != HWY_SCALAR
  if constexpr (hn::MaxLanes(D()) == 8) {
    if (channels <= 8 && channels != 3) {
      static constexpr auto kTransposed =
          MakeTransposedDeinterleave<D>(std::make_index_sequence<7>());
      x = kTransposed[channels - 2](d, src, n, dst, plane_stride);
    }
  }
#endif
  for (; x + lanes <= n; x += lanes) {
    const float* pixels = src + x * channels;
    for (std::size_t c = 0; c < channels; ++c) {
      hn::StoreU(hn::GatherIndex(d, pixels + c, offsets), d,
                 dst + c * plane_stride + x);
    }
  }
  for (; x < n; ++x) {
    for (std::size_t c = 0; c < channels; ++c) {
      dst[c * plane_stride + x] = src[x * channels + c];
    }
  }
}

// The zero-bordered planes of one image, and where each pixel lives.
struct Planes {
  std::size_t height, width, channels;

  Planes(const PlanarProblem& p, std::size_t lanes)
      : height(std::max(p.src_h + p.pad_top,
                        (p.out_h - 1) * p.stride_h + p.kernel_h)),
        // A tile starting before out_w runs up to 4 vectors on; its taps
        // must stay inside the row.
        width(std::max(p.src_w + p.pad_left,
                       p.out_w + 4 * lanes + p.kernel_w - 1)),
        channels(p.src_c) {}

  std::size_t plane() const { return height * width; }
  std::size_t floats() const { return channels * plane(); }

  // Padded rows [row_begin, row_end) of image b of p.src into planes that
  // are zero outside the image (callers zero those rows' border once per
  // call with ZeroBorder; every image overwrites the same cells).
  void Fill(const PlanarProblem& p, std::size_t b, float* HWY_RESTRICT planes,
            std::size_t row_begin = 0,
            std::size_t row_end = static_cast<std::size_t>(-1)) const {
    const hn::ScalableTag<float> d;
    const float* image = p.src + b * p.src_h * p.src_w * p.src_c;
    const std::size_t y_begin =
        std::max(row_begin, p.pad_top) - p.pad_top;  // image rows
    const std::size_t y_end =
        std::min(p.src_h, std::max(row_end, p.pad_top) - p.pad_top);
    for (std::size_t y = y_begin; y < y_end; ++y) {
      DeinterleaveRow(d, image + y * p.src_w * p.src_c, p.src_w, p.src_c,
                      planes + (y + p.pad_top) * width + p.pad_left, plane());
    }
  }

  // Zeroes the cells of padded rows [row_begin, row_end) that Fill never
  // writes: whole rows above and below the image, and the columns left and
  // right of it (which include the tiles' slack, half of LeNet's planes).
  void ZeroBorder(const PlanarProblem& p, float* HWY_RESTRICT planes,
                  std::size_t row_begin, std::size_t row_end) const {
    for (std::size_t c = 0; c < channels; ++c) {
      for (std::size_t y = row_begin; y < row_end; ++y) {
        float* row = planes + c * plane() + y * width;
        if (y < p.pad_top || y >= p.pad_top + p.src_h) {
          std::fill(row, row + width, 0.0f);
          continue;
        }
        std::fill(row, row + p.pad_left, 0.0f);
        std::fill(row + p.pad_left + p.src_w, row + width, 0.0f);
      }
    }
  }
};

// The weights of channels [o0, o0 + outputs) reordered for the tiles:
// (c, ky, kx) major, then the outputs, so that one tap's broadcasts are
// consecutive floats.
inline void GatherTileWeights(const PlanarProblem& p, std::size_t o0,
                              std::size_t outputs, float* HWY_RESTRICT dst) {
  const std::size_t taps = p.kernel_h * p.kernel_w;
  for (std::size_t c = 0; c < p.src_c; ++c) {
    for (std::size_t tap = 0; tap < taps; ++tap) {
      const float* w = p.weights + (tap * p.src_c + c) * p.out_c + o0;
      float* row = dst + (c * taps + tap) * outputs;
      for (std::size_t r = 0; r < outputs; ++r) row[r] = w[r];
    }
  }
}

#if HWY_TARGET != HWY_SCALAR  // which lacks the shuffles
// Pixels [first, min(first + 8, pixels)) of a tile to channels-last memory,
// from rows[r] = 8 consecutive pixels of channel r (zero for r ≥ kOut): a
// register transpose turns them into one vector per pixel, stored whole.
// When the pixels are packed (stride == kOut), a pixel's spare lanes land
// on the next pixel, whose own store follows and overwrites them; the
// tile's last pixel, and every pixel of a strided group, is stored masked
// so that nothing past its channels is touched.
template <std::size_t kOut, class D8>
HWY_INLINE void StoreEightPixels(D8 d8, const hn::Vec<D8> (&rows)[8],
                                 std::size_t first, std::size_t pixels,
                                 std::size_t stride, float* HWY_RESTRICT dst) {
  hn::Vec<D8> pixel[8];
  Transpose8x8(d8, rows, pixel);
  const auto mask = hn::FirstN(d8, kOut);
  const std::size_t count = std::min<std::size_t>(8, pixels - first);
  float* out = dst + first * stride;
  for (std::size_t i = 0; i < count; ++i) {
    if (stride == kOut && first + i + 1 != pixels) {
      hn::StoreU(pixel[i], d8, out + i * stride);
    } else {
      hn::BlendedStore(pixel[i], mask, d8, out + i * stride);
    }
  }
}
#endif

// Writes the first `pixels` pixels of a tile to channels-last memory:
// dst[i · stride + r] = lane i of the accumulators of channel r, for
// r < kOut, with acc[r][v] holding pixels [v · lanes, (v + 1) · lanes).
//
// For 5 to 8 channels, by register transposes of 8 pixels at a time (16-lane
// vectors in halves): a lane-by-lane copy through memory took a fifth of
// the forward tile's time (LeNet's first layer).
template <std::size_t kOut, std::size_t kVecs, class D>
HWY_INLINE void StoreChannelsLast(D d, const hn::Vec<D> (&acc)[kOut][kVecs],
                                  std::size_t pixels, std::size_t stride,
                                  float* HWY_RESTRICT dst) {
  const std::size_t lanes = hn::Lanes(d);
#if HWY_TARGET != HWY_SCALAR
  if constexpr (hn::MaxLanes(D()) == 8 && kOut > 4 && kOut <= 8) {
    for (std::size_t v = 0; v < kVecs && v * lanes < pixels; ++v) {
      hn::Vec<D> rows[8];
      for (std::size_t r = 0; r < 8; ++r) {
        rows[r] = r < kOut ? acc[r][v] : hn::Zero(d);
      }
      StoreEightPixels<kOut>(d, rows, v * lanes, pixels, stride, dst);
    }
    return;
  }
  if constexpr (hn::MaxLanes(D()) == 16 && kOut > 4 && kOut <= 8) {
    const hn::Half<D> dh;
    for (std::size_t first = 0; first < kVecs * lanes && first < pixels;
         first += 8) {
      const std::size_t v = first / lanes;
      hn::Vec<decltype(dh)> rows[8];
      for (std::size_t r = 0; r < 8; ++r) {
        if (r >= kOut) {
          rows[r] = hn::Zero(dh);
        } else if (first % lanes == 0) {
          rows[r] = hn::LowerHalf(dh, acc[r][v]);
        } else {
          rows[r] = hn::UpperHalf(dh, acc[r][v]);
        }
      }
      StoreEightPixels<kOut>(dh, rows, first, pixels, stride, dst);
    }
    return;
  }
#endif
  {
    HWY_ALIGN float tile[kOut][kVecs * hn::MaxLanes(D())];
    for (std::size_t r = 0; r < kOut; ++r) {
      for (std::size_t v = 0; v < kVecs; ++v) {
        hn::Store(acc[r][v], d, &tile[r][v * lanes]);
      }
    }
    for (std::size_t i = 0; i < pixels; ++i) {
      for (std::size_t r = 0; r < kOut; ++r) dst[i * stride + r] = tile[r][i];
    }
  }
}

// The sums of one forward tile: acc[i][r][v] = output row y + i of one
// image, pixels [x0 + v · lanes, x0 + (v + 1) · lanes) (those past out_w are
// computed and dropped), channel o0 + r, before the epilogue. w is
// GatherTileWeights' order for this channel group.
template <std::size_t kOut, std::size_t kVecs, std::size_t kRows, class D>
HWY_INLINE void PlanarTileSums(D d, const PlanarProblem& p,
                               const Planes& planes,
                               const float* HWY_RESTRICT image,
                               const float* HWY_RESTRICT w, std::size_t y,
                               std::size_t x0,
                               hn::Vec<D> (&acc)[kRows][kOut][kVecs]) {
  using V = hn::Vec<D>;
  const std::size_t lanes = hn::Lanes(d);
  // Unrolled, so that the accumulators start in registers (a loop over the
  // array became two `rep stos` of the stack per tile).
  HWY_UNROLL(4)
  for (std::size_t i = 0; i < kRows; ++i) {
    HWY_UNROLL(8)
    for (std::size_t r = 0; r < kOut; ++r) {
      HWY_UNROLL(4)
      for (std::size_t v = 0; v < kVecs; ++v) acc[i][r][v] = hn::Zero(d);
    }
  }
  const std::size_t kh = p.kernel_h, kw = p.kernel_w;
  // Kernel rows that fall on the zero border for every row of the tile add
  // nothing: skip them. (A backward-data pass reads dout padded by kernel −
  // 1 on each side, where this saves a third of the work on LeNet's second
  // layer.) Later rows start lower, so the first row bounds the end and the
  // last row the beginning; the rows in between read zeros from the border.
  const std::size_t top = y * p.stride_h;
  const std::size_t last_top = top + (kRows - 1) * p.stride_h;
  const std::size_t ky_begin = last_top < p.pad_top ? p.pad_top - last_top : 0;
  const std::size_t ky_end =
      std::min(kh, p.pad_top + p.src_h > top ? p.pad_top + p.src_h - top : 0);
  for (std::size_t c = 0; c < p.src_c; ++c) {
    const float* plane = image + c * planes.plane() + x0;
    const float* w_channel = w + c * kh * kw * kOut;
    for (std::size_t ky = ky_begin; ky < ky_end; ++ky) {
      const float* row = plane + (top + ky) * planes.width;
      const float* w_row = w_channel + ky * kw * kOut;
      for (std::size_t kx = 0; kx < kw; ++kx) {
        V in[kRows][kVecs];
        HWY_UNROLL(4)
        for (std::size_t i = 0; i < kRows; ++i) {
          HWY_UNROLL(4)
          for (std::size_t v = 0; v < kVecs; ++v) {
            in[i][v] = hn::LoadU(
                d, row + i * p.stride_h * planes.width + kx + v * lanes);
          }
        }
        HWY_UNROLL(8)
        for (std::size_t r = 0; r < kOut; ++r) {
          const V weight = hn::Set(d, w_row[kx * kOut + r]);
          HWY_UNROLL(4)
          for (std::size_t i = 0; i < kRows; ++i) {
            HWY_UNROLL(4)
            for (std::size_t v = 0; v < kVecs; ++v) {
              acc[i][r][v] = hn::MulAdd(weight, in[i][v], acc[i][r][v]);
            }
          }
        }
      }
    }
  }
}

// The epilogue (bias, activation) of one row of a tile, in registers.
template <std::size_t kOut, std::size_t kVecs, class D>
HWY_INLINE void ApplyTileEpilogue(D d, const PlanarProblem& p, std::size_t o0,
                                  hn::Vec<D> (&acc)[kOut][kVecs]) {
  if (p.epilogue == nullptr) return;
  if (p.epilogue->bias != nullptr) {
    HWY_UNROLL(8)
    for (std::size_t r = 0; r < kOut; ++r) {
      const hn::Vec<D> bias = hn::Set(d, p.epilogue->bias[o0 + r]);
      HWY_UNROLL(4)
      for (std::size_t v = 0; v < kVecs; ++v) {
        acc[r][v] = hn::Add(acc[r][v], bias);
      }
    }
  }
  Activate(d, *p.epilogue, acc);
}

// One forward tile: output rows [y, y + kRows) of one image, pixels [x0,
// x0 + kVecs · lanes) of each, channels [o0, o0 + kOut), stored. A row
// narrower than kVecs vectors takes tiles of one vector and kRows rows
// instead: the same accumulators and the same loads per FMA (one per
// kOut), without computing pixels that are dropped.
template <std::size_t kOut, std::size_t kVecs, std::size_t kRows, class D>
HWY_NOINLINE void PlanarForwardTile(D d, const PlanarProblem& p,
                                    const Planes& planes,
                                    const float* HWY_RESTRICT image,
                                    const float* HWY_RESTRICT w, std::size_t y,
                                    std::size_t x0, std::size_t o0,
                                    float* HWY_RESTRICT out_image) {
  hn::Vec<D> acc[kRows][kOut][kVecs];
  PlanarTileSums<kOut, kVecs, kRows>(d, p, planes, image, w, y, x0, acc);
  const std::size_t pixels = std::min(kVecs * hn::Lanes(d), p.out_w - x0);
  for (std::size_t i = 0; i < kRows; ++i) {
    ApplyTileEpilogue(d, p, o0, acc[i]);
    StoreChannelsLast<kOut, kVecs>(
        d, acc[i], pixels, p.out_c,
        out_image + ((y + i) * p.out_w + x0) * p.out_c + o0);
  }
}

#if HWY_TARGET != HWY_SCALAR  // pairs of pixels need two lanes
// The 2×2 max-pool of two rows of pixels, one vector each: lane i <
// lanes / 2 of the result is the largest of pixels 2i and 2i + 1 of both
// rows, in MaxPoolForward's scan order (row, then column) and by its rule
// (a later value replaces the best only when greater), which keeps its
// answer for ties, signed zeros and NaN.
template <class D>
HWY_INLINE hn::Vec<D> PoolPixelPairs(D d, hn::Vec<D> top, hn::Vec<D> bottom) {
  using V = hn::Vec<D>;
  V best = hn::ConcatEven(d, top, top);
  const auto take = [&best](V v) HWY_ATTR {
    best = hn::IfThenElse(hn::Gt(v, best), v, best);
  };
  take(hn::ConcatOdd(d, top, top));
  take(hn::ConcatEven(d, bottom, bottom));
  take(hn::ConcatOdd(d, bottom, bottom));
  return best;
}

// A forward tile of kRows (even) rows from row y (even) and one vector of
// pixels from x0, pooled 2×2 before it is stored: p.pooled's rows [y / 2,
// (y + kRows) / 2), pixels [x0 / 2, x0 / 2 + lanes / 2). The tile's sums,
// epilogue and scan order are PlanarForwardTile's, so the result is
// bitwise the pool of what that tile stores.
template <std::size_t kOut, std::size_t kRows, class D>
HWY_NOINLINE void PlanarPooledTile(D d, const PlanarProblem& p,
                                   const Planes& planes,
                                   const float* HWY_RESTRICT image,
                                   const float* HWY_RESTRICT w, std::size_t y,
                                   std::size_t x0, std::size_t o0,
                                   float* HWY_RESTRICT pooled_image) {
  static_assert(kRows % 2 == 0);
  using V = hn::Vec<D>;
  V acc[kRows][kOut][1];
  PlanarTileSums<kOut, 1, kRows>(d, p, planes, image, w, y, x0, acc);
  HWY_UNROLL(4)
  for (std::size_t i = 0; i < kRows; ++i) ApplyTileEpilogue(d, p, o0, acc[i]);
  const std::size_t pooled_w = p.out_w / 2;
  const std::size_t pixels = std::min(hn::Lanes(d) / 2, pooled_w - x0 / 2);
  HWY_UNROLL(2)
  for (std::size_t i = 0; i < kRows; i += 2) {
    V pooled[kOut][1];
    HWY_UNROLL(8)
    for (std::size_t r = 0; r < kOut; ++r) {
      pooled[r][0] = PoolPixelPairs(d, acc[i][r][0], acc[i + 1][r][0]);
    }
    StoreChannelsLast<kOut, 1>(
        d, pooled, pixels, p.out_c,
        pooled_image + ((y + i) / 2 * pooled_w + x0 / 2) * p.out_c + o0);
  }
}

// Rows of pooled tiles: the registers of PlanarVecs(kOut) one-vector rows,
// rounded down to an even count. Every channel group has room for two
// (PlanarVecs is 2 or more up to kPlanarMaxOutputs channels).
constexpr std::size_t PlanarPooledRows(std::size_t outputs) {
  return PlanarVecs(outputs) & ~std::size_t{1};
}
static_assert(PlanarPooledRows(kPlanarMaxOutputs) >= 2);
#endif

// Whether PlanarForwardRows pools in its tiles (PlanarProblem::pooled) on
// this target: every target that has two lanes to pool.
constexpr bool kPlanarPoolsInTiles = HWY_TARGET != HWY_SCALAR;

// Pooled rows [y_begin, y_end) of image b (PlanarProblem::pooled) on the
// calling thread: tiles of PlanarPooledRows(kOut) rows, and of two for the
// rows left over.
template <std::size_t kOut>
void PlanarPooledGroup(const PlanarProblem& p, const Planes& planes,
                       float* image, const float* w, std::size_t o0,
                       std::size_t b, std::size_t y_begin, std::size_t y_end) {
#if HWY_TARGET != HWY_SCALAR
  const hn::ScalableTag<float> d;
  constexpr std::size_t kPairs = PlanarPooledRows(kOut) / 2;
  const std::size_t lanes = hn::Lanes(d);
  const std::size_t pooled_w = p.out_w / 2;
  float* pooled_image = p.pooled + b * (p.out_h / 2) * pooled_w * p.out_c;
  std::size_t y = y_begin;
  for (; y + kPairs <= y_end; y += kPairs) {
    for (std::size_t x0 = 0; x0 < 2 * pooled_w; x0 += lanes) {
      PlanarPooledTile<kOut, 2 * kPairs>(d, p, planes, image, w, 2 * y, x0, o0,
                                         pooled_image);
    }
  }
  for (; y < y_end; ++y) {
    for (std::size_t x0 = 0; x0 < 2 * pooled_w; x0 += lanes) {
      PlanarPooledTile<kOut, 2>(d, p, planes, image, w, 2 * y, x0, o0,
                                pooled_image);
    }
  }
#else
  (void)p, (void)planes, (void)image, (void)w, (void)o0, (void)b;
  (void)y_begin, (void)y_end;
  HWY_ASSERT(false);  // kPlanarPoolsInTiles is false here
#endif
}

// Forward of image b, output rows [y_begin, y_end), on the calling thread.
// Channel groups of at most kPlanarMaxOutputs. Rows of a whole number of
// kVecs-vector tiles take those, one row at a time; other rows (LeNet's 28
// pixels are 2 vectors of 16 lanes, and one 4-vector tile would compute 64)
// take kVecs-row tiles of one vector, and one-row tiles for the rows left
// over.
template <std::size_t kOut>
void PlanarForwardGroup(const PlanarProblem& p, const Planes& planes,
                        float* image, const float* w, std::size_t o0,
                        std::size_t b, std::size_t y_begin, std::size_t y_end) {
  if (p.pooled != nullptr) {
    return PlanarPooledGroup<kOut>(p, planes, image, w, o0, b, y_begin, y_end);
  }
  const hn::ScalableTag<float> d;
  constexpr std::size_t kVecs = PlanarVecs(kOut);
  const std::size_t lanes = hn::Lanes(d);
  float* out_image = p.out + b * p.out_h * p.out_w * p.out_c;
  std::size_t y = y_begin;
  const std::size_t row_vecs = (p.out_w + lanes - 1) / lanes;
  if (row_vecs % kVecs != 0) {
    for (; y + kVecs <= y_end; y += kVecs) {
      for (std::size_t x0 = 0; x0 < p.out_w; x0 += lanes) {
        PlanarForwardTile<kOut, 1, kVecs>(d, p, planes, image, w, y, x0, o0,
                                          out_image);
      }
    }
    for (; y < y_end; ++y) {
      for (std::size_t x0 = 0; x0 < p.out_w; x0 += lanes) {
        PlanarForwardTile<kOut, 1, 1>(d, p, planes, image, w, y, x0, o0,
                                      out_image);
      }
    }
    return;
  }
  for (; y < y_end; ++y) {
    for (std::size_t x0 = 0; x0 < p.out_w; x0 += kVecs * lanes) {
      PlanarForwardTile<kOut, kVecs, 1>(d, p, planes, image, w, y, x0, o0,
                                        out_image);
    }
  }
}

template <std::size_t... kOuts>
constexpr auto MakeForwardGroups(std::index_sequence<kOuts...>) {
  using Fn = void (*)(const PlanarProblem&, const Planes&, float*, const float*,
                      std::size_t, std::size_t, std::size_t, std::size_t);
  return std::array<Fn, sizeof...(kOuts)>{&PlanarForwardGroup<kOuts + 1>...};
}

// Output rows [row_begin, row_end) of all images (image-major) on the
// calling thread; of the pooled output if p.pooled is set.
inline void PlanarForwardRows(const PlanarProblem& p, std::size_t row_begin,
                              std::size_t row_end) {
  const hn::ScalableTag<float> d;
  static constexpr auto kGroups =
      MakeForwardGroups(std::make_index_sequence<kPlanarMaxOutputs>());
  const Planes planes(p, hn::Lanes(d));
  float* image = ThreadScratch(ScratchSlot::kPatches, planes.floats());
  const std::size_t image_rows = p.pooled != nullptr ? p.out_h / 2 : p.out_h;
  // The padded rows these output rows read: all of them when the rows span
  // images, else those under the rows' kernels (a thread's share of one
  // image, at batch 1, reads about half of them).
  std::size_t read_begin = 0, read_end = planes.height;
  if (row_begin < row_end &&
      row_begin / image_rows == (row_end - 1) / image_rows) {
    const std::size_t unpooled = p.pooled != nullptr ? 2 : 1;
    const std::size_t first = row_begin % image_rows * unpooled;
    const std::size_t last = ((row_end - 1) % image_rows + 1) * unpooled - 1;
    read_begin = first * p.stride_h;
    read_end = std::min(planes.height, last * p.stride_h + p.kernel_h);
  }
  planes.ZeroBorder(p, image, read_begin, read_end);
  const std::size_t groups =
      (p.out_c + kPlanarMaxOutputs - 1) / kPlanarMaxOutputs;
  const std::size_t taps = p.kernel_h * p.kernel_w * p.src_c;
  float* weights =
      ThreadScratch(ScratchSlot::kTileWeights, taps * p.out_c + kConvLanes);
  for (std::size_t g = 0; g < groups; ++g) {
    const std::size_t o0 = p.out_c * g / groups;
    const std::size_t o1 = p.out_c * (g + 1) / groups;
    GatherTileWeights(p, o0, o1 - o0, weights + taps * o0);
  }
  std::size_t filled = static_cast<std::size_t>(-1);
  for (std::size_t row = row_begin; row < row_end;) {
    const std::size_t b = row / image_rows;
    const std::size_t y_begin = row % image_rows;
    const std::size_t y_end = std::min(image_rows, y_begin + (row_end - row));
    if (b != filled) {
      planes.Fill(p, b, image, read_begin, read_end);
      filled = b;
    }
    for (std::size_t g = 0; g < groups; ++g) {
      const std::size_t o0 = p.out_c * g / groups;
      const std::size_t o1 = p.out_c * (g + 1) / groups;
      kGroups[o1 - o0 - 1](p, planes, image, weights + taps * o0, o0, b,
                           y_begin, y_end);
    }
    row += y_end - y_begin;
  }
}

// Makes the compiler keep v in a register. Left to itself, GCC folds a
// load used by several FMAs into each of them as a memory operand, which
// for the weight-gradient tile means 12 loads (half of them split across
// cache lines) per 10 FMAs instead of 7: load-bound at 40% of the FMA peak.
template <class V>
HWY_INLINE void KeepInRegister(V& v) {
#if (HWY_COMPILER_GCC || HWY_COMPILER_CLANG) && HWY_ARCH_X86 && \
    HWY_TARGET != HWY_EMU128 && HWY_TARGET != HWY_SCALAR
  asm("" : "+v"(v.raw));
#else
  (void)v;
#endif
}

// dW and dbias of a stride-1-along-x convolution (forward terms: src = the
// layer's input, out_* = its output, dout NHWC), for channel groups and
// kernel rows split into units; units [u_begin, u_end) on the calling
// thread, summing over every image in order, so that results do not depend
// on how units are spread over threads.
//
// Unit = (c, ky, channel group). Partial sums stay in vectors (one lane
// per pixel column) in `partial` until every image is done.
template <std::size_t kW, std::size_t kOut, class D>
HWY_NOINLINE void PlanarGradientUnit(D d, const PlanarProblem& p,
                                     const Planes& planes,
                                     const float* HWY_RESTRICT image,
                                     const float* HWY_RESTRICT gradient,
                                     std::size_t gradient_width, std::size_t c,
                                     std::size_t ky, std::size_t o0,
                                     float* HWY_RESTRICT partial) {
  using V = hn::Vec<D>;
  const std::size_t lanes = hn::Lanes(d);
  V acc[kW][kOut];
  for (std::size_t kx = 0; kx < kW; ++kx) {
    for (std::size_t r = 0; r < kOut; ++r) {
      acc[kx][r] = hn::Load(d, partial + (kx * kOut + r) * lanes);
    }
  }
  const float* plane = image + c * planes.plane();
  const std::size_t gradient_plane = p.out_h * gradient_width;
  for (std::size_t y = 0; y < p.out_h; ++y) {
    const float* row = plane + (y * p.stride_h + ky) * planes.width;
    const float* g_row = gradient + o0 * gradient_plane + y * gradient_width;
    for (std::size_t x = 0; x < gradient_width; x += lanes) {
      V g[kOut];
      HWY_UNROLL(8)
      for (std::size_t r = 0; r < kOut; ++r) {
        g[r] = hn::Load(d, g_row + r * gradient_plane + x);
      }
      HWY_UNROLL(7)
      for (std::size_t kx = 0; kx < kW; ++kx) {
        V in = hn::LoadU(d, row + x + kx);
        KeepInRegister(in);
        HWY_UNROLL(8)
        for (std::size_t r = 0; r < kOut; ++r) {
          acc[kx][r] = hn::MulAdd(g[r], in, acc[kx][r]);
        }
      }
    }
  }
  for (std::size_t kx = 0; kx < kW; ++kx) {
    for (std::size_t r = 0; r < kOut; ++r) {
      hn::Store(acc[kx][r], d, partial + (kx * kOut + r) * lanes);
    }
  }
}

// Kernel widths the weight-gradient tiles are compiled for (kW
// accumulators per channel): LeNet's 5 and the common 3.
inline bool PlanarGradientWidth(std::size_t kernel_w) {
  return kernel_w == 3 || kernel_w == 5;
}

// The units of a weight gradient: (c, ky, channel group), group-minor.
struct GradientUnits {
  std::size_t groups, per_group;  // per_group ≤ PlanarGradientOutputs(kw)
  std::size_t kernel_h;

  explicit GradientUnits(const PlanarProblem& p)
      : per_group(PlanarGradientOutputs(p.kernel_w)), kernel_h(p.kernel_h) {
    groups = (p.out_c + per_group - 1) / per_group;
  }
  std::size_t count(const PlanarProblem& p) const {
    return p.src_c * kernel_h * groups;
  }
  // Unit u: input channel c, kernel row ky, output channels [o0, o1).
  struct Unit {
    std::size_t c, ky, o0, o1;
  };
  Unit at(std::size_t u, std::size_t out_c) const {
    const std::size_t group = u % groups;
    return {u / groups / kernel_h, (u / groups) % kernel_h,
            out_c * group / groups, out_c * (group + 1) / groups};
  }
};

template <std::size_t kW, std::size_t... kOuts>
constexpr auto MakeGradientUnits(std::index_sequence<kOuts...>) {
  using D = hn::ScalableTag<float>;
  using Fn = void (*)(D, const PlanarProblem&, const Planes&, const float*,
                      const float*, std::size_t, std::size_t, std::size_t,
                      std::size_t, float*);
  return std::array<Fn, sizeof...(kOuts)>{
      &PlanarGradientUnit<kW, kOuts + 1, D>...};
}

// dW for units [u_begin, u_end) of GradientUnits(p) on the calling thread;
// p.src is the layer's input, dout its output gradient (NHWC). Also dbias,
// when it is not null (give it to one thread only).
template <std::size_t kW>
void PlanarWeightGradientUnits(const PlanarProblem& p, const float* dout,
                               float* dweights, float* dbias,
                               std::size_t u_begin, std::size_t u_end) {
  const hn::ScalableTag<float> d;
  const std::size_t lanes = hn::Lanes(d);
  constexpr std::size_t kMaxOut = PlanarGradientOutputs(kW);
  static constexpr auto kUnits =
      MakeGradientUnits<kW>(std::make_index_sequence<kMaxOut>());
  const Planes planes(p, lanes);
  const GradientUnits units(p);
  const std::size_t gradient_width = RoundUp(p.out_w, lanes);
  const std::size_t gradient_floats = p.out_c * p.out_h * gradient_width;
  const std::size_t unit_floats = kW * kMaxOut * lanes;
  float* image = ThreadScratch(ScratchSlot::kPatches, planes.floats());
  float* gradient =
      ThreadScratch(ScratchSlot::kPaddedGradient, gradient_floats);
  float* partial = ThreadScratch(ScratchSlot::kWinogradProducts,
                                 (u_end - u_begin) * unit_floats);
  std::fill(image, image + planes.floats(), 0.0f);
  std::fill(gradient, gradient + gradient_floats, 0.0f);
  std::fill(partial, partial + (u_end - u_begin) * unit_floats, 0.0f);
  float* bias_lanes = nullptr;
  if (dbias != nullptr) {
    bias_lanes = ThreadScratch(ScratchSlot::kTileWeights, p.out_c * lanes);
    std::fill(bias_lanes, bias_lanes + p.out_c * lanes, 0.0f);
  }
  const std::size_t image_pixels = p.out_h * p.out_w;
  for (std::size_t b = 0; b < p.batch; ++b) {
    planes.Fill(p, b, image);
    // dout of image b in planes of gradient_width (zero past out_w).
    const float* g = dout + b * image_pixels * p.out_c;
    for (std::size_t y = 0; y < p.out_h; ++y) {
      DeinterleaveRow(d, g + y * p.out_w * p.out_c, p.out_w, p.out_c,
                      gradient + y * gradient_width, p.out_h * gradient_width);
    }
    if (dbias != nullptr) {
      // Lane-wise sums over every row of every image, in order.
      for (std::size_t o = 0; o < p.out_c; ++o) {
        auto sum = hn::Load(d, bias_lanes + o * lanes);
        const float* plane = gradient + o * p.out_h * gradient_width;
        for (std::size_t i = 0; i < p.out_h * gradient_width; i += lanes) {
          sum = hn::Add(sum, hn::Load(d, plane + i));
        }
        hn::Store(sum, d, bias_lanes + o * lanes);
      }
    }
    for (std::size_t u = u_begin; u < u_end; ++u) {
      const auto [c, ky, o0, o1] = units.at(u, p.out_c);
      kUnits[o1 - o0 - 1](d, p, planes, image, gradient, gradient_width, c, ky,
                          o0, partial + (u - u_begin) * unit_floats);
    }
  }
  // Each weight is the sum of its accumulator's lanes, in lane order.
  HWY_ALIGN float lanes_of[hn::MaxLanes(decltype(d)())];
  for (std::size_t u = u_begin; u < u_end; ++u) {
    const auto [c, ky, o0, o1] = units.at(u, p.out_c);
    const float* sums = partial + (u - u_begin) * unit_floats;
    for (std::size_t kx = 0; kx < kW; ++kx) {
      for (std::size_t r = 0; r < o1 - o0; ++r) {
        hn::Store(hn::Load(d, sums + (kx * (o1 - o0) + r) * lanes), d,
                  lanes_of);
        float sum = 0.0f;
        for (std::size_t i = 0; i < lanes; ++i) sum += lanes_of[i];
        dweights[((ky * kW + kx) * p.src_c + c) * p.out_c + o0 + r] = sum;
      }
    }
  }
  if (dbias != nullptr) {
    for (std::size_t o = 0; o < p.out_c; ++o) {
      float sum = 0.0f;
      for (std::size_t i = 0; i < lanes; ++i) sum += bias_lanes[o * lanes + i];
      dbias[o] = sum;
    }
  }
}

// Shapes this file takes: few output channels (6 of LeNet's first layer;
// 16 or more fill whole vectors of channels and run as implicit GEMMs),
// stride 1 along x. The weight gradient also needs a kernel width it is
// compiled for.
inline bool PlanarForwardApplies(std::size_t out_c, std::size_t stride_w) {
  return out_c >= 1 && out_c <= 8 && stride_w == 1;
}
inline bool PlanarGradientApplies(const ConvShape& s) {
  return PlanarForwardApplies(s.out_c, s.stride_w) &&
         PlanarGradientWidth(s.kernel_w);
}

// The forward convolution of s as a PlanarProblem.
inline PlanarProblem ForwardPlanar(const ConvShape& s, const float* in,
                                   const float* weights, float* out,
                                   const Epilogue* epilogue) {
  return {in,         s.batch, s.in_h,     s.in_w,     s.in_c,     s.out_h,
          s.out_w,    s.out_c, s.kernel_h, s.kernel_w, s.stride_h, s.pad_top,
          s.pad_left, weights, out,        epilogue};
}

// Backward data of s (stride 1) as the forward convolution of dout with the
// flipped, transposed kernel (kh × kw × out_c × in_c, see
// FlipAndTransposeWeights) into din.
inline PlanarProblem BackwardDataPlanar(const ConvShape& s, const float* dout,
                                        const float* flipped, float* din) {
  return {dout,
          s.batch,
          s.out_h,
          s.out_w,
          s.out_c,
          s.in_h,
          s.in_w,
          s.in_c,
          s.kernel_h,
          s.kernel_w,
          1,
          s.kernel_h - 1 - s.pad_top,
          s.kernel_w - 1 - s.pad_left,
          flipped,
          din,
          nullptr};
}

}  // namespace conv_internal
}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
