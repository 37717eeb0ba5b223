// Per-target SIMD code for augmented batch gathering; see
// include/sequent/data/augment.hpp for the contract and augment.cc for the
// scalar reference. Included once per target by foreach_target.h.

// Include guard that toggles per target (Highway's skeleton pattern).
#if defined(SEQUENT_SRC_DATA_AUGMENT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_DATA_AUGMENT_INL_H_
#undef SEQUENT_SRC_DATA_AUGMENT_INL_H_
#else
#define SEQUENT_SRC_DATA_AUGMENT_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "hwy/highway.h"
#include "sequent/data/augment.hpp"
#include "sequent/data/dataset.hpp"

HWY_BEFORE_NAMESPACE();
namespace sequent::data::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The same multiplier as Dataset::gather. Both round x · (1/255) once, in
// every lane alike, so the SIMD outputs equal the scalar ones bit for bit.
constexpr float kPixelScale = 1.0f / 255.0f;

// Byte shuffles act within 128-bit blocks on every x86 target, so pixels are
// reversed 16 bytes at a time: ⌊16 / channels⌋ whole pixels per shuffle.
constexpr std::size_t kShuffleBytes = 16;

// out[i] = in[i] · (1/255) for i < n.
HWY_INLINE void ConvertPixels(const std::uint8_t* HWY_RESTRICT in,
                              std::size_t n, float* HWY_RESTRICT out) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<std::int32_t, decltype(df)> di32;
  const hn::Rebind<std::uint8_t, decltype(df)> du8;
  const std::size_t lanes = hn::Lanes(df);
  const auto scale = hn::Set(df, kPixelScale);
  const auto convert_vector = [&](std::size_t i) {
    const auto as_int = hn::PromoteTo(di32, hn::LoadU(du8, in + i));
    hn::StoreU(hn::Mul(hn::ConvertTo(df, as_int), scale), df, out + i);
  };
  if (n < lanes) {
    for (std::size_t i = 0; i < n; ++i) out[i] = in[i] * kPixelScale;
    return;
  }
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) convert_vector(i);
  // The last vector overlaps the previous one: it rewrites a few outputs
  // with the same values, which is cheaper than a scalar tail.
  if (i < n) convert_vector(n - lanes);
}

// out[i] = block[i] · (1/255) for i < n ≤ kShuffleBytes, where `block` has
// kShuffleBytes readable bytes: whole vectors are loaded, and the last one is
// stored only in its first lanes.
HWY_INLINE void ConvertBlock(const std::uint8_t* HWY_RESTRICT block,
                             std::size_t n, float* HWY_RESTRICT out) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<std::int32_t, decltype(df)> di32;
  const hn::Rebind<std::uint8_t, decltype(df)> du8;
  const std::size_t lanes = hn::Lanes(df);
  const auto scale = hn::Set(df, kPixelScale);
  for (std::size_t i = 0; i < n; i += lanes) {
    const auto as_int = hn::PromoteTo(di32, hn::LoadU(du8, block + i));
    const auto scaled = hn::Mul(hn::ConvertTo(df, as_int), scale);
    if (i + lanes <= n) {
      hn::StoreU(scaled, df, out + i);
    } else {
      hn::BlendedStore(scaled, hn::FirstN(df, n - i), df, out + i);
    }
  }
}

// Converts runs of pixels in reverse order: out pixel p (p < count) is
// source pixel last − p, where `last` points at the first byte of the
// rightmost source pixel and `out` at the first float of the leftmost output
// pixel. Pixels are `channels` bytes, HWC.
class PixelReverser {
 public:
  // Loads never start before image_begin.
  PixelReverser(std::size_t channels, const std::uint8_t* image_begin)
      : channels_(channels),
        pixels_per_shuffle_(hn::Lanes(D8()) / channels),
        image_begin_(image_begin) {
    // A shuffle reads the bytes that end with a group of P =
    // pixels_per_shuffle pixels and writes the group reversed, each pixel
    // keeping its channel order: output pixel p, channel c takes input byte
    // skip + (P−1−p)·C + c, where skip = 16 − P·C bytes precede the group.
    // Output bytes past P·C are don't-cares.
    const std::size_t skip = hn::Lanes(D8()) - pixels_per_shuffle_ * channels;
    for (std::size_t p = 0; p < pixels_per_shuffle_; ++p) {
      for (std::size_t c = 0; c < channels; ++c) {
        table_[p * channels + c] = static_cast<std::uint8_t>(
            skip + (pixels_per_shuffle_ - 1 - p) * channels + c);
      }
    }
  }

  void Convert(const std::uint8_t* HWY_RESTRICT last, std::size_t count,
               float* HWY_RESTRICT out) {
    const D8 d8;
    const std::size_t channels = channels_;
    const std::size_t block_bytes = hn::Lanes(d8);
    const auto table = hn::Load(d8, table_);
    std::size_t first = 0;  // output pixel
    if (pixels_per_shuffle_ > 0) {
      for (; first < count; first += pixels_per_shuffle_) {
        // The group: source pixels last−first down to last−first−P+1. Near
        // the end of the run the lower ones lie outside it; they only feed
        // output pixels ≥ count, which are not stored.
        const std::uint8_t* group_end = last - first * channels + channels;
        const auto readable =
            static_cast<std::size_t>(group_end - image_begin_);
        if (readable < block_bytes) break;
        const auto group = hn::LoadU(d8, group_end - block_bytes);
        hn::StoreU(hn::TableLookupBytes(group, table), d8, reversed_);
        // 16 floats where that many remain: the one past P·C belongs to the
        // next group, which overwrites it.
        ConvertBlock(reversed_,
                     std::min(block_bytes, (count - first) * channels),
                     out + first * channels);
      }
    }
    // Pixels wider than a shuffle, a one-lane target, or the first pixels of
    // an image, whose window would start before it: pixel by pixel (each
    // pixel's channels are contiguous).
    for (; first < count; ++first) {
      ConvertPixels(last - first * channels, channels, out + first * channels);
    }
  }

 private:
  using D8 = hn::CappedTag<std::uint8_t, kShuffleBytes>;

  std::size_t channels_;
  std::size_t pixels_per_shuffle_;
  const std::uint8_t* image_begin_;
  // Bytes, not a vector: scalable vectors (SVE, RVV) cannot be members.
  alignas(16) std::uint8_t table_[kShuffleBytes] = {};
  alignas(16) std::uint8_t reversed_[kShuffleBytes];
};

// out (H×W×C, HWC) = `image` (H×W×C, HWC, uint8) flipped and shifted as
// `draw` says, scaled to [0, 1], zero where the shifted image does not reach.
void AugmentImage(const std::uint8_t* HWY_RESTRICT image, ImageShape shape,
                  AugmentDraw draw, float* HWY_RESTRICT out) {
  // Signed 64-bit positions: dx and dy may exceed the image sides.
  const std::ptrdiff_t height = shape.height;
  const std::ptrdiff_t width = shape.width;
  const auto channels = static_cast<std::size_t>(shape.channels);
  const std::size_t row_size = static_cast<std::size_t>(width) * channels;
  const std::ptrdiff_t dx = draw.dx;
  const std::ptrdiff_t dy = draw.dy;
  // Output rows [y_begin, y_end) and columns [x_begin, x_end) have a source
  // pixel; everything else is zero padding.
  const std::ptrdiff_t y_begin = std::clamp<std::ptrdiff_t>(dy, 0, height);
  const std::ptrdiff_t y_end =
      std::clamp<std::ptrdiff_t>(height + dy, 0, height);
  const std::ptrdiff_t x_begin = std::clamp<std::ptrdiff_t>(dx, 0, width);
  const std::ptrdiff_t x_end = std::clamp<std::ptrdiff_t>(width + dx, 0, width);
  if (y_begin >= y_end || x_begin >= x_end) {  // shifted out entirely
    std::fill_n(out, static_cast<std::size_t>(height) * row_size, 0.0f);
    return;
  }
  std::fill_n(out, static_cast<std::size_t>(y_begin) * row_size, 0.0f);
  std::fill_n(out + static_cast<std::size_t>(y_end) * row_size,
              static_cast<std::size_t>(height - y_end) * row_size, 0.0f);
  if (!draw.flip && dx == 0) {
    // Whole rows moved vertically: the band is one contiguous conversion
    // (the only case when augmentation is off).
    ConvertPixels(image + static_cast<std::size_t>(y_begin - dy) * row_size,
                  static_cast<std::size_t>(y_end - y_begin) * row_size,
                  out + static_cast<std::size_t>(y_begin) * row_size);
    return;
  }
  const auto left_zeros = static_cast<std::size_t>(x_begin) * channels;
  const auto right_zeros = static_cast<std::size_t>(width - x_end) * channels;
  const auto run = static_cast<std::size_t>(x_end - x_begin);
  // Source column of output column x_begin; with a flip, columns run
  // right to left from there.
  const std::ptrdiff_t source_x =
      draw.flip ? width - 1 - (x_begin - dx) : x_begin - dx;
  PixelReverser reverser(channels, image);
  for (std::ptrdiff_t y = y_begin; y < y_end; ++y) {
    float* out_row = out + static_cast<std::size_t>(y) * row_size;
    const std::uint8_t* source_pixel =
        image + static_cast<std::size_t>(y - dy) * row_size +
        static_cast<std::size_t>(source_x) * channels;
    std::fill_n(out_row, left_zeros, 0.0f);
    std::fill_n(out_row + row_size - right_zeros, right_zeros, 0.0f);
    if (draw.flip) {
      reverser.Convert(source_pixel, run, out_row + left_zeros);
    } else {
      ConvertPixels(source_pixel, run * channels, out_row + left_zeros);
    }
  }
}

}  // namespace sequent::data::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SEQUENT_SRC_DATA_AUGMENT_INL_H_
