// Direct convolutions for images of 1 or 3 channels, a network's first
// layer: too few channels for packing patches to pay (a kernel row of an
// RGB image is 9 or 15 floats, each copied into a patch for ~30 FMAs), so
// the micro-kernel reads the image itself, one kernel row per depth row.
//
// Each image is first copied into a zero-bordered buffer P (padded_h ×
// padded_w × channels, with the convolution's padding on every side), so
// that every tap of every pixel is a plain load:
//
//   forward: out[y, x0 + r, o] = Σ_ky Σ_j P[y + ky, x0 + r, j] · W[ky, j, o]
//            rows r are pixels (step `channels`), depth j = kx·C + c over a
//            kernel row, depth rows ky: A jumps one image row, B one kernel
//            row of weights
//   dW:      dW[ky, j0 + r, o] = Σ_y Σ_x P[y + ky, x, j0 + r] · dout[y, x, o]
//            rows r are 12 consecutive columns of a kernel row, depth x
//            (step `channels`), depth rows y
//
// Stride 1 along x only (the pixel step of A is the channel count, fixed
// at compile time); any stride along y, any padding.

#if defined(SEQUENT_SRC_KERNELS_CONV_DIRECT_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_CONV_DIRECT_INL_H_
#undef SEQUENT_SRC_KERNELS_CONV_DIRECT_INL_H_
#else
#define SEQUENT_SRC_KERNELS_CONV_DIRECT_INL_H_
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

inline bool DirectApplies(const ConvShape& s) {
  return (s.in_c == 1 || s.in_c == 3) && s.stride_w == 1;
}

// The forward pass reads the image directly for a few more channel counts
// (LeNet's second layer sees 6): a patch row of 6 channels is a copy of
// ~2 floats per FMA, more than the product gains from packed operands.
inline bool DirectForwardApplies(const ConvShape& s) {
  return s.stride_w == 1 && (s.in_c == 1 || s.in_c == 2 || s.in_c == 3 ||
                             s.in_c == 4 || s.in_c == 6 || s.in_c == 8);
}

// An image copied with zero borders: row y of P is input row y − pad_top,
// column x is input column x − pad_left. Wide enough for every tap of every
// output pixel, plus a row-tile of slack for the pixels a tile computes past
// the output's right edge.
struct PaddedImage {
  std::size_t height, width, channels;

  explicit PaddedImage(const ConvShape& s)
      : height(std::max(s.in_h + s.pad_top,
                        (s.out_h - 1) * s.stride_h + s.kernel_h)),
        width(std::max(s.in_w + s.pad_left, s.out_w - 1 + s.kernel_w)),
        channels(s.in_c) {}

  std::size_t floats() const {
    return (height * width + kConvTileRows) * channels + 2 * kConvLanes;
  }
  std::size_t row_floats() const { return width * channels; }

  // P of image b of `in` (batch × in_h × in_w × in_c) into `padded`.
  void Fill(const ConvShape& s, const float* in, std::size_t b,
            float* HWY_RESTRICT padded) const {
    const hn::ScalableTag<float> d;
    ZeroRun(d, floats() - kConvLanes, padded);
    const std::size_t in_row = s.in_w * s.in_c;
    const float* image = in + b * s.in_h * in_row;
    for (std::size_t y = 0; y < s.in_h; ++y) {
      const float* src = image + y * in_row;
      CopyRun(d, src, in_row,
              padded + (y + s.pad_top) * row_floats() + s.pad_left * channels,
              src + in_row);
    }
  }
};

// Forward, output rows [row_begin, row_end) (rows of all images, image-major)
// × columns [n_begin, n_end), on the calling thread. B is the weights,
// (kh·kw·C) × n with row stride b_stride, readable to whole vectors.
template <std::size_t kChannels>
void DirectForwardRows(const ConvShape& s, const float* in, const float* b,
                       std::size_t b_stride, float* out,
                       const Epilogue* epilogue, std::size_t row_begin,
                       std::size_t row_end, std::size_t n_begin,
                       std::size_t n_end) {
  const PaddedImage padded(s);
  float* image = ThreadScratch(ScratchSlot::kPatches, padded.floats());
  const std::size_t kernel_row = s.kernel_w * kChannels;
  ConvTile tile{};
  tile.b_stride = b_stride;
  tile.depth = kernel_row;
  tile.depth_rows = s.kernel_h;
  tile.a_row_jump = padded.row_floats();
  tile.b_row_jump = kernel_row * b_stride;
  tile.c_stride = s.out_c;
  tile.epilogue = epilogue;
  std::size_t filled = static_cast<std::size_t>(-1);
  for (std::size_t row = row_begin; row < row_end; ++row) {
    const std::size_t batch_index = row / s.out_h, y = row % s.out_h;
    if (batch_index != filled) {
      padded.Fill(s, in, batch_index, image);
      filled = batch_index;
    }
    const float* image_row = image + y * s.stride_h * padded.row_floats();
    float* out_row = out + row * s.out_w * s.out_c;
    for (std::size_t x0 = 0; x0 < s.out_w; x0 += kConvTileRows) {
      tile.a = image_row + x0 * kChannels;
      tile.rows = std::min(kConvTileRows, s.out_w - x0);
      for (std::size_t col = n_begin; col < n_end; col += kConvPanelCols) {
        tile.b = b + col;
        tile.c = out_row + x0 * s.out_c + col;
        tile.cols = std::min(kConvPanelCols, n_end - col);
        tile.bias = epilogue != nullptr && epilogue->bias != nullptr
                        ? epilogue->bias + col
                        : nullptr;
        RunTile<kChannels, 1, false>(tile.cols, tile);
      }
    }
  }
}

// Backward weights, dW rows of kernel-row columns: tiles [tile_begin,
// tile_end) of the kernel_h × ceil(kw·C / kConvTileRows) tiles × output
// columns [n_begin, n_end), summing over every image in order. B is dout
// (pixels × n, row stride b_stride, readable to whole vectors).
template <std::size_t kChannels>
void DirectWeightGradientTiles(const ConvShape& s, const float* in,
                               const float* b, std::size_t b_stride,
                               float* dweights, float* dbias,
                               std::size_t tile_begin, std::size_t tile_end,
                               std::size_t n_begin, std::size_t n_end) {
  const PaddedImage padded(s);
  float* image = ThreadScratch(ScratchSlot::kPatches, padded.floats());
  const std::size_t kernel_row = s.kernel_w * kChannels;
  const std::size_t row_tiles =
      (kernel_row + kConvTileRows - 1) / kConvTileRows;
  const std::size_t image_pixels = s.out_h * s.out_w;
  ConvTile tile{};
  tile.b_stride = b_stride;
  tile.depth = s.out_w;
  tile.depth_rows = s.out_h;
  tile.a_row_jump = s.stride_h * padded.row_floats();
  tile.b_row_jump = s.out_w * b_stride;
  tile.c_stride = s.out_c;
  for (std::size_t batch_index = 0; batch_index < s.batch; ++batch_index) {
    padded.Fill(s, in, batch_index, image);
    tile.load_c = batch_index != 0;
    tile.load_column_sums = batch_index != 0;
    for (std::size_t t = tile_begin; t < tile_end; ++t) {
      const std::size_t ky = t / row_tiles;
      const std::size_t j0 = (t % row_tiles) * kConvTileRows;
      tile.a = image + ky * padded.row_floats() + j0;
      tile.rows = std::min(kConvTileRows, kernel_row - j0);
      for (std::size_t col = n_begin; col < n_end; col += kConvPanelCols) {
        tile.b = b + batch_index * image_pixels * b_stride + col;
        tile.c = dweights + (ky * kernel_row + j0) * s.out_c + col;
        tile.cols = std::min(kConvPanelCols, n_end - col);
        if (t == 0 && dbias != nullptr) {
          tile.column_sums = dbias + col;
          RunTile<1, kChannels, true>(tile.cols, tile);
        } else {
          tile.column_sums = nullptr;
          RunTile<1, kChannels, false>(tile.cols, tile);
        }
      }
    }
  }
}

// Backward weights when a kernel row nearly fills one vector (LeNet's 5×5
// over RGB: 15 floats) and there are few output channels (6): the tiles
// above would leave most rows or lanes idle. Here one vector holds a whole
// kernel row, and each output channel o keeps kernel_h accumulators:
//
//   acc[ky][o] += dout[y, x, o] · P[y·stride_h + ky, x, 0 .. lanes)
//
// over every pixel of every image, in order; lanes past the kernel row are
// computed from the next pixel's values and dropped. Output channels
// [o_begin, o_end) on the calling thread, at most kMaxAccumulators of them
// (and their bias gradient if dbias is non-null).
inline bool KernelRowGradientApplies(const ConvShape& s) {
  const std::size_t lanes = hn::Lanes(hn::ScalableTag<float>());
  const std::size_t kernel_row = s.kernel_w * s.in_c;
  return DirectApplies(s) && 4 * kernel_row > 3 * lanes &&
         kernel_row <= lanes && s.kernel_h <= 5 && s.out_c <= 8;
}

constexpr std::size_t kKernelRowMaxOutputs = 4;

// kRows = kernel_h kernel rows, always kKernelRowMaxOutputs accumulator
// columns (those past o_end multiply zeros), so that every loop unrolls and
// the accumulators stay in registers.
template <std::size_t kChannels, std::size_t kRows>
void KernelRowGradient(const ConvShape& s, const float* in, const float* dout,
                       float* dweights, float* dbias, std::size_t o_begin,
                       std::size_t o_end) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const PaddedImage padded(s);
  float* image = ThreadScratch(ScratchSlot::kPatches, padded.floats());
  const std::size_t outputs = o_end - o_begin;
  const std::size_t row_floats = padded.row_floats();
  V acc[kRows][kKernelRowMaxOutputs];
  for (auto& row : acc) {
    for (V& a : row) a = hn::Zero(d);
  }
  double bias_sums[kKernelRowMaxOutputs] = {};
  for (std::size_t b = 0; b < s.batch; ++b) {
    padded.Fill(s, in, b, image);
    const float* gradient = dout + b * s.out_h * s.out_w * s.out_c + o_begin;
    for (std::size_t y = 0; y < s.out_h; ++y) {
      const float* rows = image + y * s.stride_h * row_floats;
      for (std::size_t x = 0; x < s.out_w; ++x) {
        const float* g = gradient + (y * s.out_w + x) * s.out_c;
        V g_o[kKernelRowMaxOutputs];
        HWY_UNROLL(4)
        for (std::size_t o = 0; o < kKernelRowMaxOutputs; ++o) {
          g_o[o] = o < outputs ? hn::Set(d, g[o]) : hn::Zero(d);
        }
        HWY_UNROLL(5)
        for (std::size_t ky = 0; ky < kRows; ++ky) {
          const V row = hn::LoadU(d, rows + ky * row_floats + x * kChannels);
          HWY_UNROLL(4)
          for (std::size_t o = 0; o < kKernelRowMaxOutputs; ++o) {
            acc[ky][o] = hn::MulAdd(g_o[o], row, acc[ky][o]);
          }
        }
        if (dbias != nullptr) {
          for (std::size_t o = 0; o < outputs; ++o) bias_sums[o] += g[o];
        }
      }
    }
  }
  const std::size_t kernel_row = s.kernel_w * kChannels;
  HWY_ALIGN float lanes[hn::MaxLanes(decltype(d)())];
  for (std::size_t ky = 0; ky < kRows; ++ky) {
    for (std::size_t o = 0; o < outputs; ++o) {
      hn::Store(acc[ky][o], d, lanes);
      for (std::size_t j = 0; j < kernel_row; ++j) {
        dweights[(ky * kernel_row + j) * s.out_c + o_begin + o] = lanes[j];
      }
    }
  }
  if (dbias != nullptr) {
    for (std::size_t o = 0; o < outputs; ++o) {
      dbias[o_begin + o] = static_cast<float>(bias_sums[o]);
    }
  }
}

// KernelRowGradient with kRows = s.kernel_h (1 to 5).
template <std::size_t kChannels>
void KernelRowGradientAnyHeight(const ConvShape& s, const float* in,
                                const float* dout, float* dweights,
                                float* dbias, std::size_t o_begin,
                                std::size_t o_end) {
  using Fn = void (*)(const ConvShape&, const float*, const float*, float*,
                      float*, std::size_t, std::size_t);
  static constexpr Fn kByHeight[] = {
      &KernelRowGradient<kChannels, 1>, &KernelRowGradient<kChannels, 2>,
      &KernelRowGradient<kChannels, 3>, &KernelRowGradient<kChannels, 4>,
      &KernelRowGradient<kChannels, 5>};
  kByHeight[s.kernel_h - 1](s, in, dout, dweights, dbias, o_begin, o_end);
}

}  // namespace conv_internal
}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
