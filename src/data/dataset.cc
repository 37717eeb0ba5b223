// In-memory datasets: validation at construction, bounds-checked access,
// batch gathering with uint8 → [0, 1] float scaling, and epoch shuffling.
#include "sequent/data/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <utility>

namespace sequent::data {
namespace {

// SplitMix64 (Steele, Lea, Flood 2014): a 64-bit state advanced by the golden
// ratio and passed through a bijective mixer. Small, fast, statistically
// strong, and fully specified here, so an epoch order is the same on every
// standard library (std::uniform_int_distribution is not).
constexpr std::uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ull;

constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t state) : state_(state) {}

  std::uint64_t next() { return mix64(state_ += kGoldenGamma); }

  // Uniform in [0, bound) for 1 ≤ bound ≤ 2^32, without modulo bias:
  // Lemire's multiply-shift on the top 32 bits, rejecting the few products
  // whose low half falls in the biased band (Lemire 2019).
  std::uint64_t below(std::uint64_t bound) {
    std::uint64_t product = (next() >> 32) * bound;
    std::uint64_t low = product & 0xFFFFFFFFull;
    if (low < bound) {
      const std::uint64_t threshold =
          ((std::uint64_t{1} << 32) - bound) % bound;
      while (low < threshold) {
        product = (next() >> 32) * bound;
        low = product & 0xFFFFFFFFull;
      }
    }
    return product >> 32;
  }

 private:
  std::uint64_t state_;
};

// Asks for every cache line of [bytes, bytes + count). A plain function on
// purpose: GCC 12 at -O2 silently dropped these prefetches from a lambda.
inline void prefetch_bytes(const std::uint8_t* bytes, std::size_t count) {
  constexpr std::size_t kCacheLine = 64;
  for (std::size_t offset = 0; offset < count; offset += kCacheLine) {
    __builtin_prefetch(bytes + offset);
  }
}

[[noreturn]] void invalid(const std::string& source, const std::string& what) {
  throw std::invalid_argument(
      "Dataset " + (source.empty() ? "(no source)" : source) + ": " + what);
}

}  // namespace

std::string to_string(const ImageShape& shape) {
  return std::to_string(shape.height) + "x" + std::to_string(shape.width) +
         "x" + std::to_string(shape.channels);
}

Dataset::Dataset(std::vector<std::uint8_t> pixels, ImageShape shape,
                 std::vector<std::int32_t> labels,
                 std::vector<std::string> class_names, std::string source)
    : pixels_(std::move(pixels)),
      shape_(shape),
      labels_(std::move(labels)),
      class_names_(std::move(class_names)),
      source_(std::move(source)) {
  const bool negative_side =
      shape_.height < 0 || shape_.width < 0 || shape_.channels < 0;
  if (negative_side) {
    invalid(source_, "image shape " + to_string(shape_) +
                         " must have every side at least 1");
  }
  // ImageShape::size() and the pixel count are products of caller-supplied
  // numbers; refuse ones that wrap around so image(i) can never overrun.
  constexpr std::size_t kMaxSize = std::numeric_limits<std::size_t>::max();
  const std::size_t area = static_cast<std::size_t>(shape_.height) *
                           static_cast<std::size_t>(shape_.width);
  if ((shape_.channels > 0 &&
       area > kMaxSize / static_cast<std::size_t>(shape_.channels)) ||
      (shape_.size() > 0 && labels_.size() > kMaxSize / shape_.size())) {
    invalid(source_, std::to_string(labels_.size()) + " images of " +
                         to_string(shape_) + " overflow a size_t");
  }
  if (!labels_.empty() && shape_.size() == 0) {
    invalid(source_, "image shape " + to_string(shape_) +
                         " must have every side at least 1");
  }
  const std::size_t expected_pixels = labels_.size() * shape_.size();
  if (pixels_.size() != expected_pixels) {
    invalid(source_, "expected " + std::to_string(expected_pixels) +
                         " pixels for " + std::to_string(labels_.size()) +
                         " images of " + to_string(shape_) + ", found " +
                         std::to_string(pixels_.size()));
  }
  if (!labels_.empty() && class_names_.empty()) {
    invalid(source_, "has " + std::to_string(labels_.size()) +
                         " labels but no class names");
  }
  const auto num_classes = static_cast<std::int64_t>(class_names_.size());
  for (std::size_t i = 0; i < labels_.size(); ++i) {
    if (labels_[i] < 0 || labels_[i] >= num_classes) {
      invalid(source_, "label " + std::to_string(labels_[i]) + " at index " +
                           std::to_string(i) + " is outside [0, " +
                           std::to_string(num_classes) + ")");
    }
  }
}

std::span<const std::uint8_t> Dataset::image(std::size_t i) const {
  if (i >= size()) {
    throw std::out_of_range("Dataset " + source_ + ": image " +
                            std::to_string(i) + " requested, but there are " +
                            std::to_string(size()));
  }
  return std::span<const std::uint8_t>(pixels_).subspan(i * shape_.size(),
                                                        shape_.size());
}

Dataset Dataset::slice(std::size_t begin, std::size_t count) const {
  if (begin > size() || count > size() - begin) {
    throw std::out_of_range(
        "Dataset " + source_ + ": slice of " + std::to_string(count) +
        " samples from " + std::to_string(begin) +
        " requested, but there are " + std::to_string(size()));
  }
  const std::size_t sample_size = shape_.size();
  const auto first_pixel = pixels_.begin() + begin * sample_size;
  const auto first_label = labels_.begin() + begin;
  return Dataset({first_pixel, first_pixel + count * sample_size}, shape_,
                 {first_label, first_label + count}, class_names_, source_);
}

FloatDataset FloatDataset::slice(std::size_t begin, std::size_t count) const {
  if (begin > size() || count > size() - begin) {
    throw std::out_of_range("FloatDataset: slice of " + std::to_string(count) +
                            " samples from " + std::to_string(begin) +
                            " requested, but there are " +
                            std::to_string(size()));
  }
  const auto x = inputs_.begin() + begin * input_size_;
  const auto y = targets_.begin() + begin * target_size_;
  return FloatDataset({x, x + count * input_size_}, input_size_,
                      {y, y + count * target_size_}, target_size_);
}

void Dataset::gather(std::span<const std::uint32_t> indices, float* inputs,
                     std::int32_t* labels) const {
  // inputs is indices.size() × sample_size, row-major. Each row is one
  // contiguous image, so the inner loop is a straight uint8 → float stream;
  // the pragma asserts the rows do not alias and asks for SIMD even under
  // -O2's very-cheap cost model (which otherwise leaves this loop scalar).
  const std::size_t sample_size = shape_.size();
  constexpr float kScale = 1.0f / 255.0f;
  // Shuffled rows are scattered over the whole pixel array (47 MB for
  // Fashion-MNIST), so their cache lines come from DRAM. Prefetching the row
  // two ahead overlaps that latency with converting the current one: a
  // 32×784 shuffled batch went from ~10 to ~5 µs on this machine.
  constexpr std::size_t kPrefetchDistance = 2;
  for (std::size_t row = 0; row < kPrefetchDistance; ++row) {
    if (row < indices.size() && indices[row] < size()) {
      prefetch_bytes(pixels_.data() + indices[row] * sample_size, sample_size);
    }
  }
  for (std::size_t row = 0; row < indices.size(); ++row) {
    const std::size_t index = indices[row];
    if (index >= size()) {
      throw std::out_of_range("Dataset " + source_ + ": gather index " +
                              std::to_string(index) + " at position " +
                              std::to_string(row) + ", but there are " +
                              std::to_string(size()) + " samples");
    }
    const std::size_t ahead = row + kPrefetchDistance;
    if (ahead < indices.size() && indices[ahead] < size()) {
      prefetch_bytes(pixels_.data() + indices[ahead] * sample_size,
                     sample_size);
    }
    const std::uint8_t* pixels = pixels_.data() + index * sample_size;
    float* row_inputs = inputs + row * sample_size;
#pragma omp simd
    for (std::size_t j = 0; j < sample_size; ++j) {
      row_inputs[j] = static_cast<float>(pixels[j]) * kScale;
    }
    labels[row] = labels_[index];
  }
}

FloatDataset::FloatDataset(std::vector<float> inputs, std::size_t input_size,
                           std::vector<float> targets, std::size_t target_size)
    : inputs_(std::move(inputs)),
      targets_(std::move(targets)),
      input_size_(input_size),
      target_size_(target_size) {
  if (input_size_ == 0 || target_size_ == 0) {
    throw std::invalid_argument(
        "FloatDataset: input and target sizes must be at least 1, found " +
        std::to_string(input_size_) + " and " + std::to_string(target_size_));
  }
  if (inputs_.size() % input_size_ != 0) {
    throw std::invalid_argument(
        "FloatDataset: " + std::to_string(inputs_.size()) +
        " input values are not a whole number of samples of " +
        std::to_string(input_size_));
  }
  count_ = inputs_.size() / input_size_;
  if (targets_.size() != count_ * target_size_) {
    throw std::invalid_argument("FloatDataset: expected " +
                                std::to_string(count_ * target_size_) +
                                " target values for " + std::to_string(count_) +
                                " samples of " + std::to_string(target_size_) +
                                ", found " + std::to_string(targets_.size()));
  }
  // A NaN or infinity would surface as a non-finite loss, blamed on the
  // learning rate; name the sample instead.
  const auto check_finite = [](const std::vector<float>& values,
                               std::size_t size, const char* what) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (!std::isfinite(values[i])) {
        throw std::invalid_argument(std::string("FloatDataset: ") + what +
                                    " value " + std::to_string(i % size) +
                                    " of sample " + std::to_string(i / size) +
                                    " is " + std::to_string(values[i]) +
                                    "; every value must be finite");
      }
    }
  };
  check_finite(inputs_, input_size_, "input");
  check_finite(targets_, target_size_, "target");
}

void FloatDataset::gather(std::span<const std::uint32_t> indices, float* inputs,
                          float* targets) const {
  for (std::size_t row = 0; row < indices.size(); ++row) {
    const std::size_t index = indices[row];
    if (index >= count_) {
      throw std::out_of_range("FloatDataset: gather index " +
                              std::to_string(index) + " at position " +
                              std::to_string(row) + ", but there are " +
                              std::to_string(count_) + " samples");
    }
    std::copy_n(inputs_.data() + index * input_size_, input_size_,
                inputs + row * input_size_);
    std::copy_n(targets_.data() + index * target_size_, target_size_,
                targets + row * target_size_);
  }
}

std::vector<std::uint32_t> epoch_order(std::size_t n, bool shuffle,
                                       std::uint64_t seed,
                                       std::uint64_t epoch) {
  constexpr std::uint64_t kMaxSamples =
      std::uint64_t{std::numeric_limits<std::uint32_t>::max()} + 1;
  if (n > kMaxSamples) {
    throw std::invalid_argument("epoch_order: " + std::to_string(n) +
                                " samples do not fit 32-bit indices");
  }
  std::vector<std::uint32_t> order(n);
  std::iota(order.begin(), order.end(), std::uint32_t{0});
  if (!shuffle || n < 2) return order;

  // Mixing the seed before adding the epoch makes consecutive epochs start
  // from unrelated states instead of neighbouring points of one stream.
  SplitMix64 generator(mix64(mix64(seed) + epoch));
  for (std::size_t i = n - 1; i > 0; --i) {
    const std::size_t j = generator.below(i + 1);
    std::swap(order[i], order[j]);
  }
  return order;
}

}  // namespace sequent::data
