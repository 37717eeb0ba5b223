// The patch matrix of a convolution, packed a few rows at a time, and the
// per-thread scratch memory that holds the packed operands.
//
// A convolution is a matrix product whose left operand is never stored:
// row m of the patch matrix is one pixel (b, y, x) of the output grid, and
// column k = (ky·kernel_w + kx)·channels + c holds the source value under
// kernel tap (ky, kx), channel c. In NHWC the columns of one kernel row are
// kernel_w·channels consecutive floats of the source, so a patch row is
// copied in kernel_h runs (fewer when padding clips them).
//
// Backward data of a strided convolution reads its source (the output
// gradient) "upsampled": spread `upsample` pixels apart with zeros between.
// A column whose virtual position is not a multiple of the upsampling reads
// as zero, exactly like padding.

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "thread_scratch.hpp"

// Target-independent part, compiled once.
#ifndef SEQUENT_SRC_KERNELS_CONV_SCRATCH_H_
#define SEQUENT_SRC_KERNELS_CONV_SCRATCH_H_

namespace sequent::kernels::conv_detail {

// The patch matrix of one convolution-like pass.
//   source: batch × source_h × source_w × channels (NHWC)
//   rows:   batch × grid_h × grid_w output pixels
//   patch[(b, y, x), (ky, kx, c)] = source[b, vy / upsample_h,
//                                          vx / upsample_w, c]
//     with vy = y·stride_h + ky − pad_top, vx = x·stride_w + kx − pad_left,
//     or 0 when vy, vx fall outside the (upsampled) source or between its
//     upsampled pixels.
struct PatchGeometry {
  const float* source = nullptr;
  const float* source_end = nullptr;  // one past the source's last float
  std::size_t source_h = 0, source_w = 0, channels = 0;
  std::size_t grid_h = 0, grid_w = 0;
  std::size_t kernel_h = 0, kernel_w = 0;
  std::size_t stride_h = 1, stride_w = 1;
  std::size_t upsample_h = 1, upsample_w = 1;
  std::ptrdiff_t pad_top = 0, pad_left = 0;

  std::size_t depth() const { return kernel_h * kernel_w * channels; }
  std::size_t pixels_per_image() const { return grid_h * grid_w; }
};

enum class ScratchSlot : int {
  kPatches = 0,           // packed patch rows, private to each thread
  kOperandB = 1,          // padded or transposed weights, shared by the team
  kPaddedGradient = 2,    // output-gradient block padded to whole vectors
  kFlippedWeights = 3,    // backward data's kernel, flipped and transposed
  kWinogradProducts = 4,  // the 16 products of a block of Winograd tiles
  kTileWeights = 5,       // weights reordered for pixel-vector tiles
  kPooledGradient = 6,    // a pooled backward's gradient lists and sums
  kCount = 7
};

using ::sequent::kernels::ThreadScratch;

}  // namespace sequent::kernels::conv_detail

#endif  // SEQUENT_SRC_KERNELS_CONV_SCRATCH_H_

// Per-target part, compiled once per SIMD target.
#if defined(SEQUENT_SRC_KERNELS_CONV_PACK_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_CONV_PACK_INL_H_
#undef SEQUENT_SRC_KERNELS_CONV_PACK_INL_H_
#else
#define SEQUENT_SRC_KERNELS_CONV_PACK_INL_H_
#endif

#include "hwy/highway.h"
#include "partial_vector-inl.h"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {
namespace conv_internal {
namespace hn = hwy::HWY_NAMESPACE;

using conv_detail::PatchGeometry;
using conv_detail::ScratchSlot;
using conv_detail::ThreadScratch;

// dst[0, n) = src[0, n), in whole vectors: it may write up to a vector
// past n (see ZeroRun) and read up to a vector past n, but never at or past
// readable_end. Runs of a few floats (a kernel row of a 3-channel image)
// then cost one plain load and store instead of masked ones.
template <class D>
HWY_INLINE void CopyRun(D d, const float* HWY_RESTRICT src, std::size_t n,
                        float* HWY_RESTRICT dst, const float* readable_end) {
  const std::size_t lanes = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::LoadU(d, src + i), d, dst + i);
  }
  if (i == n) return;
  if (static_cast<std::size_t>(readable_end - (src + i)) >= lanes) {
    hn::StoreU(hn::LoadU(d, src + i), d, dst + i);
    return;
  }
  hn::StoreU(LoadFirst(d, src + i, n - i), d, dst + i);
}

// dst[0, n) = 0, in whole vectors: it may write up to a vector past n.
// Runs are packed left to right, so the overshoot lands on floats that are
// written afterwards or on the row's slack.
template <class D>
HWY_INLINE void ZeroRun(D d, std::size_t n, float* HWY_RESTRICT dst) {
  const std::size_t lanes = hn::Lanes(d);
  for (std::size_t i = 0; i < n; i += lanes)
    hn::StoreU(hn::Zero(d), d, dst + i);
}

// Virtual position v (row or column of the upsampled, padded source) → the
// source index, or −1 when v reads as zero.
HWY_INLINE std::ptrdiff_t SourceIndex(std::ptrdiff_t v, std::size_t upsample,
                                      std::size_t size) {
  if (v < 0) return -1;
  std::size_t index = static_cast<std::size_t>(v);
  if (upsample != 1) {
    if (index % upsample != 0) return -1;
    index /= upsample;
  }
  return index < size ? static_cast<std::ptrdiff_t>(index) : -1;
}

// Columns [k_begin, k_end) of a patch row and the kernel rows [ky_begin,
// ky_end) they touch, worked out once per slice rather than per pixel.
struct PatchColumns {
  std::size_t k_begin, k_end;
  std::size_t ky_begin, ky_end;
};

// One kernel row of a patch row when the source is upsampled along x: tap
// by tap, since neighbouring taps are not neighbours in memory.
template <class D>
HWY_INLINE void PackUpsampledKernelRow(
    D d, const PatchGeometry& g, const float* HWY_RESTRICT source_row,
    std::ptrdiff_t vx0, std::size_t row_begin, std::size_t seg_begin,
    std::size_t seg_end, float* HWY_RESTRICT dst) {
  const std::size_t channels = g.channels;
  for (std::size_t k = seg_begin; k < seg_end;) {
    const std::size_t kx = (k - row_begin) / channels;
    const std::size_t channel = (k - row_begin) % channels;
    const std::size_t run = std::min(channels - channel, seg_end - k);
    const std::ptrdiff_t sx = SourceIndex(vx0 + static_cast<std::ptrdiff_t>(kx),
                                          g.upsample_w, g.source_w);
    if (sx < 0) {
      ZeroRun(d, run, dst + (k - seg_begin));
    } else {
      CopyRun(d, source_row + static_cast<std::size_t>(sx) * channels + channel,
              run, dst + (k - seg_begin), g.source_end);
    }
    k += run;
  }
}

// Writes columns [cols.k_begin, cols.k_end) of the patch row of the pixel
// whose virtual top-left tap is (vy0, vx0), in image `image`, to dst. Per
// kernel row that is at most three runs: zeros for the taps left of the
// source, one copy of the taps inside it (contiguous in NHWC), zeros for
// the taps right of it.
template <class D>
HWY_INLINE void PackPatchRow(D d, const PatchGeometry& g,
                             const PatchColumns& cols,
                             const float* HWY_RESTRICT image,
                             std::ptrdiff_t vy0, std::ptrdiff_t vx0,
                             float* HWY_RESTRICT dst) {
  const std::size_t channels = g.channels;
  const std::size_t row_floats = g.kernel_w * channels;
  const bool patch_inside = g.upsample_h == 1 && g.upsample_w == 1 &&
                            vy0 >= 0 && vx0 >= 0 &&
                            vy0 + static_cast<std::ptrdiff_t>(g.kernel_h) <=
                                static_cast<std::ptrdiff_t>(g.source_h) &&
                            vx0 + static_cast<std::ptrdiff_t>(g.kernel_w) <=
                                static_cast<std::ptrdiff_t>(g.source_w);
  if (patch_inside) {
    // The common case, without padding: one copy per kernel row.
    const float* corner = image + (static_cast<std::size_t>(vy0) * g.source_w +
                                   static_cast<std::size_t>(vx0)) *
                                      channels;
    const std::size_t source_row_floats = g.source_w * channels;
    for (std::size_t ky = cols.ky_begin; ky < cols.ky_end; ++ky) {
      const std::size_t row_begin = ky * row_floats;
      const std::size_t seg_begin = std::max(cols.k_begin, row_begin);
      const std::size_t seg_end = std::min(cols.k_end, row_begin + row_floats);
      CopyRun(d, corner + ky * source_row_floats + (seg_begin - row_begin),
              seg_end - seg_begin, dst + (seg_begin - cols.k_begin),
              g.source_end);
    }
    return;
  }
  // Taps [kx_inside_begin, kx_inside_end) of each kernel row fall inside
  // the source (meaningful without upsampling along x).
  const std::ptrdiff_t kernel_w = static_cast<std::ptrdiff_t>(g.kernel_w);
  const std::ptrdiff_t kx_inside_begin =
      std::clamp<std::ptrdiff_t>(-vx0, 0, kernel_w);
  const std::ptrdiff_t kx_inside_end = std::clamp<std::ptrdiff_t>(
      static_cast<std::ptrdiff_t>(g.source_w) - vx0, kx_inside_begin, kernel_w);
  for (std::size_t ky = cols.ky_begin; ky < cols.ky_end; ++ky) {
    const std::size_t row_begin = ky * row_floats;
    const std::size_t seg_begin = std::max(cols.k_begin, row_begin);
    const std::size_t seg_end = std::min(cols.k_end, row_begin + row_floats);
    float* seg_dst = dst + (seg_begin - cols.k_begin);
    const std::ptrdiff_t sy = SourceIndex(vy0 + static_cast<std::ptrdiff_t>(ky),
                                          g.upsample_h, g.source_h);
    if (sy < 0) {
      ZeroRun(d, seg_end - seg_begin, seg_dst);
      continue;
    }
    const float* source_row =
        image + static_cast<std::size_t>(sy) * g.source_w * channels;
    if (g.upsample_w != 1) {
      PackUpsampledKernelRow(d, g, source_row, vx0, row_begin, seg_begin,
                             seg_end, seg_dst);
      continue;
    }
    const std::size_t inside_begin = std::clamp(
        row_begin + static_cast<std::size_t>(kx_inside_begin) * channels,
        seg_begin, seg_end);
    const std::size_t inside_end = std::clamp(
        row_begin + static_cast<std::size_t>(kx_inside_end) * channels,
        inside_begin, seg_end);
    ZeroRun(d, inside_begin - seg_begin, seg_dst);
    // Column k of this kernel row is source_row[vx0·channels + k − row_begin].
    const std::ptrdiff_t source_offset =
        vx0 * static_cast<std::ptrdiff_t>(channels) +
        static_cast<std::ptrdiff_t>(inside_begin - row_begin);
    CopyRun(d, source_row + source_offset, inside_end - inside_begin,
            seg_dst + (inside_begin - seg_begin), g.source_end);
    ZeroRun(d, seg_end - inside_end, seg_dst + (inside_end - seg_begin));
  }
}

// Packs rows [m_begin, m_begin + rows) × columns [k_begin, k_end) of the
// patch matrix into dst, row r at dst + r·dst_stride. dst needs one vector
// of slack after the last row.
template <class D>
HWY_INLINE void PackPatches(D d, const PatchGeometry& g, std::size_t m_begin,
                            std::size_t rows, std::size_t k_begin,
                            std::size_t k_end, float* HWY_RESTRICT dst,
                            std::size_t dst_stride) {
  if (rows == 0 || k_begin >= k_end) return;
  const std::size_t row_floats = g.kernel_w * g.channels;
  const PatchColumns cols{k_begin, k_end, k_begin / row_floats,
                          (k_end + row_floats - 1) / row_floats};
  // One division for the first pixel, then step through the grid.
  const std::size_t per_image = g.pixels_per_image();
  std::size_t b = m_begin / per_image;
  std::size_t y = (m_begin % per_image) / g.grid_w;
  std::size_t x = m_begin % g.grid_w;
  const std::size_t image_floats = g.source_h * g.source_w * g.channels;
  for (std::size_t r = 0; r < rows; ++r) {
    const std::ptrdiff_t vy0 =
        static_cast<std::ptrdiff_t>(y * g.stride_h) - g.pad_top;
    const std::ptrdiff_t vx0 =
        static_cast<std::ptrdiff_t>(x * g.stride_w) - g.pad_left;
    PackPatchRow(d, g, cols, g.source + b * image_floats, vy0, vx0,
                 dst + r * dst_stride);
    if (++x == g.grid_w) {
      x = 0;
      if (++y == g.grid_h) {
        y = 0;
        ++b;
      }
    }
  }
}

// dst (rows × dst_cols, row stride dst_cols) = src (rows × cols, row stride
// src_stride) with columns [cols, dst_cols) zero: the operand of a product
// whose width is not a whole number of vectors, so that every vector load
// of the micro-kernel stays inside memory that is ours.
template <class D>
HWY_INLINE void PadColumns(D d, const float* HWY_RESTRICT src, std::size_t rows,
                           std::size_t cols, std::size_t src_stride,
                           std::size_t dst_cols, float* HWY_RESTRICT dst) {
  for (std::size_t r = 0; r < rows; ++r) {
    float* row = dst + r * dst_cols;
    ZeroRun(d, dst_cols, row);  // dst_cols is a whole number of vectors
    // No reading past the row: the padding must stay zero.
    const float* src_row = src + r * src_stride;
    CopyRun(d, src_row, cols, row, src_row + cols);
  }
}

}  // namespace conv_internal
}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
