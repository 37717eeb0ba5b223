// Options of Model::fit, as designated initialisers:
//   model.fit(train, sq::Adam{}, {.epochs = 5, .batch_size = 32,
//                                 .validation = &test});
#pragma once

#include <cstddef>
#include <cstdint>
#include <iostream>
#include <optional>
#include <span>
#include <vector>

#include "sequent/data/augment.hpp"
#include "sequent/train/callbacks.hpp"
#include "sequent/train/progress.hpp"

namespace sequent {

template <class Data>
struct BasicFitOptions {
  int epochs = 1;
  std::size_t batch_size = 32;
  bool shuffle = true;
  // Evaluated after every epoch (val_loss, val_accuracy), or null.
  const Data* validation = nullptr;
  // Shuffling, dropout and augmentation. Unset: a fit that continues a run
  // (initial_epoch > 0 after an earlier fit or load_checkpoint) uses that
  // run's seed, so resuming needs no seed; a new run derives one from the
  // model's Seed.
  std::optional<std::uint64_t> seed;
  Verbosity verbose = Verbosity::kAuto;
  std::ostream* log = &std::cout;
  // Epochs already done: fit runs epochs initial_epoch + 1 … epochs,
  // shuffling and dropout exactly as an uninterrupted run would. Unset: the
  // model's epochs_done() right after load_checkpoint (so load_checkpoint
  // then fit with the run's .epochs resumes it), 0 otherwise (a new run, as
  // Keras numbers every fit from 1).
  std::optional<int> initial_epoch;
  // Not owned; each must outlive the fit call.
  std::vector<Callback*> callbacks;
  // Random flips and shifts of training images as batches are formed
  // (image datasets only; never applied to validation or evaluation).
  data::Augmentation augmentation;
  // Per-epoch macro precision / recall / F1 of the training batches and of
  // the validation data, recorded in the History (classification only).
  std::vector<Metric> metrics;
  // Keras' validation_split: this fraction of the samples, the last ones as
  // given (before any shuffling), is held out as the validation data
  // instead of .validation. In [0, 1); both at once is an error.
  float validation_split = 0.0f;
};

// A batch handed to Model::train_step by people who write their own loop:
// inputs (size × input size floats, already scaled) and either class labels
// (classification) or float targets (size × output size).
struct Batch {
  std::span<const float> inputs;
  std::span<const std::int32_t> labels;
  std::span<const float> targets;
  std::size_t size = 0;
};

struct StepResult {
  double loss = 0;      // mean over the batch
  double accuracy = 0;  // NaN for regression
};

struct Evaluation {
  double loss = 0;
  double accuracy = 0;  // NaN for regression
};

}  // namespace sequent

namespace sequent {

// Model::predict on images: per image the output row (class probabilities
// for classifiers) and the most likely class.
struct Predictions {
  std::size_t count = 0;
  std::size_t classes = 0;
  std::vector<float> probabilities;  // count × classes
  std::vector<std::int32_t> labels;  // count

  std::span<const float> row(std::size_t i) const {
    return {probabilities.data() + i * classes, classes};
  }
};

}  // namespace sequent
