// A tiny classification task for whole-model tests: 6×6 grey images over 4
// classes, the class deciding which quadrant is bright, so that a small
// network learns it in a few epochs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sequent/sequent.hpp>
#include <vector>

namespace sequent::test {

inline data::Dataset quadrant_images(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::uint8_t> pixels(n * 36);
  std::vector<std::int32_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(rng.next() % 4);
    labels[i] = label;
    for (int y = 0; y < 6; ++y) {
      for (int x = 0; x < 6; ++x) {
        const int quadrant = (y / 3) * 2 + x / 3;
        const float base = quadrant == label ? 180.0f : 40.0f;
        pixels[i * 36 + y * 6 + x] =
            static_cast<std::uint8_t>(base + rng.uniform(0.0f, 60.0f));
      }
    }
  }
  return {std::move(pixels),
          {6, 6, 1},
          std::move(labels),
          {"a", "b", "c", "d"},
          "quadrants"};
}

// The first n samples of a dataset as a batch for train_step.
struct OwnedBatch {
  std::vector<float> x;
  std::vector<std::int32_t> labels;
  Batch view() const { return {x, labels, {}, labels.size()}; }
};
inline OwnedBatch first_batch(const data::Dataset& data, std::size_t n) {
  OwnedBatch b{std::vector<float>(n * data.shape().size()),
               std::vector<std::int32_t>(n)};
  std::vector<std::uint32_t> idx(n);
  for (std::size_t i = 0; i < n; ++i) idx[i] = static_cast<std::uint32_t>(i);
  data.gather(idx, b.x.data(), b.labels.data());
  return b;
}

template <class M>
std::vector<float> params_of(const M& m) {
  return {m.parameters().begin(), m.parameters().end()};
}

}  // namespace sequent::test
