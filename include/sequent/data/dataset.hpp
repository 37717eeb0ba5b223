// In-memory datasets. Images stay uint8 (N, H, W, C) and are scaled to [0, 1]
// only when a batch is formed; regression data is plain floats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace sequent::data {

struct ImageShape {
  int height = 0;
  int width = 0;
  int channels = 0;
  std::size_t size() const {
    return static_cast<std::size_t>(height) * width * channels;
  }
  friend bool operator==(const ImageShape&, const ImageShape&) = default;
};
std::string to_string(const ImageShape& shape);  // "28x28x1"

// A read-only view of `count` images of one shape, pixel-contiguous.
struct ImageView {
  std::span<const std::uint8_t> pixels;
  std::size_t count = 0;
  ImageShape shape;
};

// Labelled uint8 images with class names.
// Guarantees: pixels.size() == size()·shape().size(), labels in
// [0, num_classes()) — the constructor checks and throws
// std::invalid_argument naming `source` otherwise.
class Dataset {
 public:
  Dataset() = default;
  Dataset(std::vector<std::uint8_t> pixels, ImageShape shape,
          std::vector<std::int32_t> labels,
          std::vector<std::string> class_names, std::string source);

  std::size_t size() const { return labels_.size(); }
  const ImageShape& shape() const { return shape_; }
  ImageView images() const { return {pixels_, size(), shape_}; }
  std::span<const std::uint8_t> image(std::size_t i) const;
  std::span<const std::int32_t> labels() const { return labels_; }
  const std::vector<std::string>& class_names() const { return class_names_; }
  std::size_t num_classes() const { return class_names_.size(); }
  // Where the data came from (a path), for error messages.
  const std::string& source() const { return source_; }

  // Samples [begin, begin + count), copied.
  Dataset slice(std::size_t begin, std::size_t count) const;

  // Writes the samples `indices` as floats scaled to [0, 1] into
  // inputs (indices.size() × shape().size()) and their labels into labels.
  void gather(std::span<const std::uint32_t> indices, float* inputs,
              std::int32_t* labels) const;

 private:
  std::vector<std::uint8_t> pixels_;
  ImageShape shape_;
  std::vector<std::int32_t> labels_;
  std::vector<std::string> class_names_;
  std::string source_;
};

// Float inputs (N × input_size) and float targets (N × target_size), for
// regression. The constructor checks the sizes (std::invalid_argument).
class FloatDataset {
 public:
  FloatDataset() = default;
  FloatDataset(std::vector<float> inputs, std::size_t input_size,
               std::vector<float> targets, std::size_t target_size);

  std::size_t size() const { return count_; }
  std::size_t input_size() const { return input_size_; }
  std::size_t target_size() const { return target_size_; }
  std::span<const float> inputs() const { return inputs_; }
  std::span<const float> targets() const { return targets_; }

  void gather(std::span<const std::uint32_t> indices, float* inputs,
              float* targets) const;
  // Samples [begin, begin + count), copied; std::out_of_range beyond size().
  FloatDataset slice(std::size_t begin, std::size_t count) const;

 private:
  std::vector<float> inputs_;
  std::vector<float> targets_;
  std::size_t count_ = 0;
  std::size_t input_size_ = 0;
  std::size_t target_size_ = 0;
};

// A dataset's two standard splits, as the loaders return them.
struct TrainTest {
  Dataset train;
  Dataset test;
};

// 0, 1, …, n−1, shuffled (Fisher–Yates) by a generator seeded from
// (seed, epoch) when shuffle is true. Same arguments, same order.
std::vector<std::uint32_t> epoch_order(std::size_t n, bool shuffle,
                                       std::uint64_t seed,
                                       std::uint64_t epoch);

}  // namespace sequent::data
