// Augmented batch gathering: the per-sample draws, the scalar reference (the
// specification) and run-time dispatch to the SIMD code in augment-inl.h.

// foreach_target.h re-includes this file once per target; it is found
// through the public include directory (include/), hence the relative path.
// The order below is Highway's and must survive include sorting.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/data/augment.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "augment-inl.h"
// clang-format on

#if HWY_ONCE
#include "sequent/data/augment.hpp"

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "sequent/random.hpp"

namespace sequent::data {
namespace {

// Uniform in [0, bound) for 1 ≤ bound ≤ 2^32, from the top 32 bits of one
// random word (Lemire's multiply-shift). Its bias is at most bound / 2^32
// (2·10⁻⁹ for a shift of ±4), far below what training could notice, and
// unlike rejection sampling it always takes exactly one word, so every draw
// has a fixed place in the sample's stream.
std::uint64_t uniform_below(std::uint64_t random_word, std::uint64_t bound) {
  return ((random_word >> 32) * bound) >> 32;
}

void check_augmentation(const Augmentation& aug) {
  if (aug.max_shift < 0) {
    throw std::invalid_argument(
        "Augmentation: max_shift must be at least 0, found " +
        std::to_string(aug.max_shift));
  }
}

// Every index is checked before any output is written, so a bad batch
// leaves the caller's buffers as they were.
void check_indices(const Dataset& data,
                   std::span<const std::uint32_t> indices) {
  for (std::size_t row = 0; row < indices.size(); ++row) {
    if (indices[row] >= data.size()) {
      throw std::out_of_range("Dataset " + data.source() + ": gather index " +
                              std::to_string(indices[row]) + " at position " +
                              std::to_string(row) + ", but there are " +
                              std::to_string(data.size()) + " samples");
    }
  }
}

// Asks for every cache line of [bytes, bytes + count): shuffled images are
// scattered over the whole dataset, so they come from DRAM.
inline void prefetch_bytes(const std::uint8_t* bytes, std::size_t count) {
  constexpr std::size_t kCacheLine = 64;
  for (std::size_t offset = 0; offset < count; offset += kCacheLine) {
    __builtin_prefetch(bytes + offset);
  }
}

}  // namespace

HWY_EXPORT(AugmentImage);

AugmentDraw draw_augmentation(const Augmentation& aug, std::uint64_t seed,
                              std::uint32_t index) {
  check_augmentation(aug);
  Rng stream(mix_seed(seed, index));
  const bool flip = (stream.next() >> 63) != 0;
  const std::uint64_t shift_count =
      2 * static_cast<std::uint64_t>(aug.max_shift) + 1;
  const auto dx =
      static_cast<std::int64_t>(uniform_below(stream.next(), shift_count)) -
      aug.max_shift;
  const auto dy =
      static_cast<std::int64_t>(uniform_below(stream.next(), shift_count)) -
      aug.max_shift;
  return {aug.horizontal_flip && flip, static_cast<int>(dx),
          static_cast<int>(dy)};
}

void gather_augmented_reference(const Dataset& data,
                                std::span<const std::uint32_t> indices,
                                const Augmentation& aug, std::uint64_t seed,
                                float* inputs, std::int32_t* labels) {
  check_augmentation(aug);
  check_indices(data, indices);
  constexpr float kPixelScale = 1.0f / 255.0f;  // as in Dataset::gather
  const ImageShape shape = data.shape();
  const std::int64_t height = shape.height;
  const std::int64_t width = shape.width;
  const std::int64_t channels = shape.channels;
  for (std::size_t row = 0; row < indices.size(); ++row) {
    const std::span<const std::uint8_t> in = data.image(indices[row]);
    float* out = inputs + row * shape.size();
    const AugmentDraw draw = draw_augmentation(aug, seed, indices[row]);
    for (std::int64_t y = 0; y < height; ++y) {
      for (std::int64_t x = 0; x < width; ++x) {
        const std::int64_t source_y = y - draw.dy;
        const std::int64_t shifted_x = x - draw.dx;
        const bool inside = source_y >= 0 && source_y < height &&
                            shifted_x >= 0 && shifted_x < width;
        const std::int64_t source_x =
            draw.flip ? width - 1 - shifted_x : shifted_x;
        for (std::int64_t c = 0; c < channels; ++c) {
          out[(y * width + x) * channels + c] =
              inside ? in[(source_y * width + source_x) * channels + c] *
                           kPixelScale
                     : 0.0f;
        }
      }
    }
    labels[row] = data.labels()[indices[row]];
  }
}

void gather_augmented(const Dataset& data,
                      std::span<const std::uint32_t> indices,
                      const Augmentation& aug, std::uint64_t seed,
                      float* inputs, std::int32_t* labels) {
  check_augmentation(aug);
  check_indices(data, indices);
  const auto augment_image = HWY_DYNAMIC_DISPATCH(AugmentImage);
  const ImageShape shape = data.shape();
  const std::size_t image_size = shape.size();
  const std::uint8_t* pixels = data.images().pixels.data();
  const std::span<const std::int32_t> all_labels = data.labels();
  // As in Dataset::gather: fetching the image two ahead overlaps its DRAM
  // latency with transforming the current one.
  constexpr std::size_t kPrefetchDistance = 2;
  for (std::size_t row = 0; row < kPrefetchDistance && row < indices.size();
       ++row) {
    prefetch_bytes(pixels + indices[row] * image_size, image_size);
  }
  for (std::size_t row = 0; row < indices.size(); ++row) {
    if (row + kPrefetchDistance < indices.size()) {
      prefetch_bytes(pixels + indices[row + kPrefetchDistance] * image_size,
                     image_size);
    }
    const std::uint32_t index = indices[row];
    augment_image(pixels + index * image_size, shape,
                  draw_augmentation(aug, seed, index),
                  inputs + row * image_size);
    labels[row] = all_labels[index];
  }
}

}  // namespace sequent::data
#endif  // HWY_ONCE
