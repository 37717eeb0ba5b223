// Backward data as a product then a scatter ("col2im"), for convolutions
// whose transposed form would mostly multiply zeros: strided ones (the
// upsampled output gradient is 3/4 zeros at stride 2) and Valid ones with
// large kernels on small images (LeNet's 5×5 on 14×14 → 10×10: the "full"
// padding of the transposed convolution makes half its taps zero).
//
//   dcols (pixels × K) = dout (pixels × out_c) · Wᵀ      K = kh·kw·in_c
//   din[b, y·sh + ky − pad_top, x·sw + kx − pad_left, c] +=
//       dcols[(b, y, x), (ky, kx, c)]
//
// The product is the GEMM family's (kernels::Gemm, threaded inside); the
// scatter adds each image's columns in pixel order on one thread, so din
// does not depend on the thread count.

#if defined(SEQUENT_SRC_KERNELS_CONV_COL2IM_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_CONV_COL2IM_INL_H_
#undef SEQUENT_SRC_KERNELS_CONV_COL2IM_INL_H_
#else
#define SEQUENT_SRC_KERNELS_CONV_COL2IM_INL_H_
#endif

#include <algorithm>
#include <cstddef>

#include "conv_microkernel-inl.h"
#include "conv_pack-inl.h"
#include "hwy/highway.h"
#include "sequent/kernels/conv.hpp"
#include "sequent/kernels/gemm.hpp"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {
namespace conv_internal {
namespace hn = hwy::HWY_NAMESPACE;

// Floats of dcols per product: bounds the scratch (16 MiB) by cutting the
// batch into chunks of whole images.
constexpr std::size_t kCol2imMaxFloats = std::size_t{4} << 20;

// Whether the transposed convolution would waste much of its work: it
// computes every din pixel over every tap, of which only about
// out_h·out_w / (in_h·in_w) are real (the others read padding or the zeros
// between upsampled pixels). Below 70% the scatter wins (measured on
// LeNet: 5×5 Valid 14×14 → 10×10 is 51%).
inline bool Col2imApplies(const ConvShape& s) {
  return 10 * s.out_h * s.out_w < 7 * s.in_h * s.in_w;
}

// din of image b += the columns of its pixels, dcols rows of K floats.
template <class D>
void ScatterColumns(D d, const ConvShape& s, const float* HWY_RESTRICT dcols,
                    float* HWY_RESTRICT din_image) {
  const std::size_t lanes = hn::Lanes(d);
  const std::size_t kernel_row = s.kernel_w * s.in_c;
  const std::size_t depth = s.kernel_h * kernel_row;
  const std::ptrdiff_t in_h = static_cast<std::ptrdiff_t>(s.in_h);
  const std::ptrdiff_t in_w = static_cast<std::ptrdiff_t>(s.in_w);
  const std::ptrdiff_t kernel_w = static_cast<std::ptrdiff_t>(s.kernel_w);
  for (std::size_t y = 0; y < s.out_h; ++y) {
    for (std::size_t x = 0; x < s.out_w; ++x) {
      const float* column = dcols + (y * s.out_w + x) * depth;
      const std::ptrdiff_t iy0 = static_cast<std::ptrdiff_t>(y * s.stride_h) -
                                 static_cast<std::ptrdiff_t>(s.pad_top);
      const std::ptrdiff_t ix0 = static_cast<std::ptrdiff_t>(x * s.stride_w) -
                                 static_cast<std::ptrdiff_t>(s.pad_left);
      // Taps [kx_begin, kx_end) of each kernel row land inside the image,
      // as one contiguous run of din.
      const std::ptrdiff_t kx_begin =
          std::clamp<std::ptrdiff_t>(-ix0, 0, kernel_w);
      const std::ptrdiff_t kx_end =
          std::clamp<std::ptrdiff_t>(in_w - ix0, kx_begin, kernel_w);
      const std::size_t run =
          static_cast<std::size_t>(kx_end - kx_begin) * s.in_c;
      for (std::size_t ky = 0; ky < s.kernel_h; ++ky) {
        const std::ptrdiff_t iy = iy0 + static_cast<std::ptrdiff_t>(ky);
        if (iy < 0 || iy >= in_h || run == 0) continue;
        const float* src = column + ky * kernel_row +
                           static_cast<std::size_t>(kx_begin) * s.in_c;
        float* dst = din_image + (static_cast<std::size_t>(iy) * s.in_w +
                                  static_cast<std::size_t>(ix0 + kx_begin)) *
                                     s.in_c;
        std::size_t i = 0;
        for (; i + lanes <= run; i += lanes) {
          hn::StoreU(hn::Add(hn::LoadU(d, dst + i), hn::LoadU(d, src + i)), d,
                     dst + i);
        }
        if (i < run) {
          const std::size_t tail = run - i;
          StoreFirst(
              d,
              hn::Add(LoadFirst(d, dst + i, tail), LoadFirst(d, src + i, tail)),
              dst + i, tail);
        }
      }
    }
  }
}

// din (batch × in_h × in_w × in_c) from dout and the weights, on the
// calling thread's scratch; `threads` for the scatter.
inline void Col2imBackwardData(const ConvShape& s, const float* dout,
                               const float* weights, float* din, int threads) {
  const std::size_t depth = s.kernel_h * s.kernel_w * s.in_c;
  const std::size_t image_pixels = s.out_h * s.out_w;
  const std::size_t image_floats = s.in_h * s.in_w * s.in_c;
  const std::size_t chunk = std::max<std::size_t>(
      1, kCol2imMaxFloats / std::max<std::size_t>(1, image_pixels * depth));
  float* dcols = ThreadScratch(ScratchSlot::kFlippedWeights,
                               std::min(chunk, s.batch) * image_pixels * depth);
  std::fill(din, din + s.batch * image_floats, 0.0f);
  for (std::size_t first = 0; first < s.batch; first += chunk) {
    const std::size_t images = std::min(chunk, s.batch - first);
    Gemm(Transpose::kNo, Transpose::kYes, images * image_pixels, depth, s.out_c,
         dout + first * image_pixels * s.out_c, s.out_c, weights, s.out_c,
         dcols, depth, /*accumulate=*/false);
    const std::ptrdiff_t count = static_cast<std::ptrdiff_t>(images);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (std::ptrdiff_t i = 0; i < count; ++i) {
      const std::size_t image = static_cast<std::size_t>(i);
      ScatterColumns(hn::ScalableTag<float>(), s,
                     dcols + image * image_pixels * depth,
                     din + (first + image) * image_floats);
    }
  }
}

}  // namespace conv_internal
}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
