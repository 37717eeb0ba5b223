// Subsets and train/test splits of a Dataset.
#include "sequent/data/split.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

#include "sequent/format.hpp"

namespace sequent::data {
namespace {

std::string describe(const Dataset& data) {
  return "Dataset " + (data.source().empty() ? "(no source)" : data.source()) +
         " (" + std::to_string(data.size()) + " samples)";
}

// How many of each class go to the test part: each class's round-down share
// of `test_count`, then one more for the classes with the largest
// remainders until the shares add up (largest-remainder apportionment).
std::vector<std::size_t> stratified_test_counts(
    const std::vector<std::size_t>& counts, std::size_t total,
    std::size_t test_count) {
  std::vector<std::size_t> quota(counts.size());
  std::vector<std::pair<std::size_t, std::size_t>> remainders;  // (r, class)
  std::size_t assigned = 0;
  for (std::size_t c = 0; c < counts.size(); ++c) {
    // Exact integer arithmetic (128 bits: a 2^32-sample dataset's product
    // can reach 2^64).
    const auto product = static_cast<unsigned __int128>(counts[c]) * test_count;
    quota[c] = static_cast<std::size_t>(product / total);
    remainders.emplace_back(static_cast<std::size_t>(product % total), c);
    assigned += quota[c];
  }
  std::stable_sort(
      remainders.begin(), remainders.end(),
      [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t i = 0; assigned < test_count; ++i, ++assigned) {
    ++quota[remainders[i].second];
  }
  return quota;
}

}  // namespace

Dataset select(const Dataset& data, std::span<const std::uint32_t> indices) {
  const std::size_t sample_size = data.shape().size();
  std::vector<std::uint8_t> pixels;
  pixels.reserve(indices.size() * sample_size);
  std::vector<std::int32_t> labels;
  labels.reserve(indices.size());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] >= data.size()) {
      throw std::out_of_range(describe(data) + ": select index " +
                              std::to_string(indices[i]) + " (at position " +
                              std::to_string(i) + ") is out of range");
    }
    const auto image = data.image(indices[i]);
    pixels.insert(pixels.end(), image.begin(), image.end());
    labels.push_back(data.labels()[indices[i]]);
  }
  return Dataset(std::move(pixels), data.shape(), std::move(labels),
                 data.class_names(), data.source());
}

std::vector<std::size_t> class_counts(const Dataset& data) {
  std::vector<std::size_t> counts(data.num_classes(), 0);
  for (const std::int32_t label : data.labels()) {
    ++counts[static_cast<std::size_t>(label)];
  }
  return counts;
}

std::size_t held_out_count(std::size_t n, double fraction) {
  const auto kept =
      static_cast<std::size_t>(static_cast<double>(n) * (1.0 - fraction));
  return n - kept;
}

TrainTest train_test_split(const Dataset& data, const SplitOptions& options) {
  const double fraction = options.test_fraction;
  if (!(fraction > 0.0 && fraction < 1.0)) {
    throw std::invalid_argument(describe(data) +
                                ": train_test_split needs a test_fraction in "
                                "(0, 1), got " +
                                detail::format_number(fraction));
  }
  const std::size_t n = data.size();
  const std::size_t test_count = held_out_count(n, fraction);
  const std::size_t kept = n - test_count;
  if (test_count == 0 || test_count == n) {
    throw std::invalid_argument(
        describe(data) + ": test_fraction " + detail::format_number(fraction) +
        " leaves " +
        (test_count == 0 ? "no test samples" : "no train samples"));
  }

  // A permutation of the samples (the identity without shuffle); the test
  // part takes the last samples of it, per class when stratified, so both
  // parts come out in permutation order and need no second shuffle.
  const std::vector<std::uint32_t> order =
      epoch_order(n, options.shuffle, options.seed, 0);
  std::vector<std::uint32_t> train_indices, test_indices;
  train_indices.reserve(kept);
  test_indices.reserve(test_count);
  if (options.stratify) {
    const std::vector<std::size_t> counts = class_counts(data);
    const std::vector<std::size_t> quota =
        stratified_test_counts(counts, n, test_count);
    std::vector<std::size_t> seen(counts.size(), 0);
    for (const std::uint32_t i : order) {
      const auto c = static_cast<std::size_t>(data.labels()[i]);
      const bool to_test = seen[c]++ >= counts[c] - quota[c];
      (to_test ? test_indices : train_indices).push_back(i);
    }
  } else {
    train_indices.assign(order.begin(), order.begin() + kept);
    test_indices.assign(order.begin() + kept, order.end());
  }
  return {select(data, train_indices), select(data, test_indices)};
}

}  // namespace sequent::data
