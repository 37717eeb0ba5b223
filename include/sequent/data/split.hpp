// Choosing samples: a subset by index, per-class counts, and a train/test
// split that can keep every class's share on both sides (stratified), as
// scikit-learn's train_test_split(..., stratify=y) does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "sequent/data/dataset.hpp"

namespace sequent::data {

// The samples `indices`, in that order (repeats allowed), copied.
// std::out_of_range naming the dataset and the first bad index otherwise.
Dataset select(const Dataset& data, std::span<const std::uint32_t> indices);

// counts[c] = how many samples have label c, for c < num_classes().
std::vector<std::size_t> class_counts(const Dataset& data);

// How many of n samples a share `fraction` holds out: n − ⌊n·(1 −
// fraction)⌋, Keras' validation_split rule (the float 0.7f, just under 0.7,
// still holds out 7 of 10). train_test_split and fit's .validation_split
// both count this way.
std::size_t held_out_count(std::size_t n, double fraction);

struct SplitOptions {
  // The share of the samples that goes to the test part, counted by
  // held_out_count.
  double test_fraction = 0.25;
  // Draw the parts at random (seeded); otherwise the test part is the last
  // samples (of each class, when stratified), in their original order.
  bool shuffle = true;
  // Give each class the same share in both parts: class c sends its
  // round-down share of the test count to the test part, and the samples
  // left over go to the classes with the largest remainders (ties to the
  // lower label), so the parts' class proportions differ by less than one
  // sample per class.
  bool stratify = false;
  std::uint64_t seed = 0;
};

// {train, test}, both non-empty; std::invalid_argument naming the dataset
// when test_fraction is not in (0, 1) or leaves either part empty. Same
// options, same split. Both parts keep the class names and the source.
TrainTest train_test_split(const Dataset& data,
                           const SplitOptions& options = {});

}  // namespace sequent::data
