// Data augmentation applied while a training batch is formed: random
// horizontal flips and random shifts (a crop of the zero-padded image). Each
// sample's draw comes from a counter-based hash of (seed, sample index), so a
// batch is reproducible whatever its composition, order or thread count.
// Evaluation batches use Dataset::gather, which augments nothing.
// Target-free declarations; SIMD code in src/data/augment-inl.h.
#pragma once

#include <cstdint>
#include <span>

#include "sequent/data/dataset.hpp"

namespace sequent::data {

struct Augmentation {
  // Mirror left ↔ right with probability 1/2.
  bool horizontal_flip = false;
  // Pixels; the image is padded by max_shift zeros on every side and a random
  // crop of the original size taken, i.e. shifted by dx, dy, each uniform in
  // [−max_shift, max_shift], with the uncovered border set to 0 (torchvision's
  // RandomCrop(size, padding=max_shift)). Must be ≥ 0.
  int max_shift = 0;

  bool enabled() const { return horizontal_flip || max_shift != 0; }
};

// What one sample receives: the flip first, then the move by (dx, dy), so
// for an H×W image
//   out(y, x) = in(y − dy, flip ? W−1−(x−dx) : x−dx),   0 where that is
//   outside the image.
// A pixel at (x, y) therefore lands at (x + dx, y + dy), or at
// (W−1−x + dx, y + dy) when flipped.
struct AugmentDraw {
  bool flip = false;
  int dx = 0;
  int dy = 0;
  friend bool operator==(const AugmentDraw&, const AugmentDraw&) = default;
};

// The draw of sample `index`. Depends only on (seed, index). The flip, dx
// and dy come from separate draws, so turning one option off leaves the
// others unchanged. Pass a seed that changes every epoch (for example
// sequent::mix_seed(seed, epoch)), or each sample sees the same variant in
// every epoch. Throws std::invalid_argument when aug.max_shift < 0.
AugmentDraw draw_augmentation(const Augmentation& aug, std::uint64_t seed,
                              std::uint32_t index);

// Like Dataset::gather — inputs (indices.size() × shape().size() floats,
// HWC, scaled to [0, 1]) and labels — but image i is transformed by
// draw_augmentation(aug, seed, indices[i]). With aug.enabled() false the
// inputs equal Dataset::gather's bit for bit. Throws std::invalid_argument
// for a negative max_shift and std::out_of_range (naming the dataset, the
// index and its position) for an index ≥ data.size(), before writing
// anything.
void gather_augmented(const Dataset& data,
                      std::span<const std::uint32_t> indices,
                      const Augmentation& aug, std::uint64_t seed,
                      float* inputs, std::int32_t* labels);
// The same, one pixel at a time from the formula above: the specification
// that gather_augmented is tested against.
void gather_augmented_reference(const Dataset& data,
                                std::span<const std::uint32_t> indices,
                                const Augmentation& aug, std::uint64_t seed,
                                float* inputs, std::int32_t* labels);

}  // namespace sequent::data
