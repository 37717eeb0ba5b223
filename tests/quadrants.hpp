// A tiny classification task for whole-model tests: S×S grey images over 4
// classes, the class deciding which quadrant is bright, so that a small
// network learns it in a few epochs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sequent/sequent.hpp>
#include <vector>

namespace sequent::test {

template <int S = 6>
data::Dataset quadrant_images(std::size_t n, std::uint64_t seed) {
  static_assert(S % 2 == 0, "quadrants need an even image size");
  Rng rng(seed);
  std::vector<std::uint8_t> pixels(n * S * S);
  std::vector<std::int32_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(rng.next() % 4);
    labels[i] = label;
    for (int y = 0; y < S; ++y) {
      for (int x = 0; x < S; ++x) {
        const int quadrant = (y / (S / 2)) * 2 + x / (S / 2);
        const float base = quadrant == label ? 180.0f : 40.0f;
        pixels[i * S * S + y * S + x] =
            static_cast<std::uint8_t>(base + rng.uniform(0.0f, 60.0f));
      }
    }
  }
  return {std::move(pixels),
          {S, S, 1},
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
template <class M>
std::vector<float> state_of(const M& m) {
  return {m.state().begin(), m.state().end()};
}

}  // namespace sequent::test
