// The record of a fit: one entry per epoch, like Keras' History.
#pragma once

#include <cmath>
#include <string>
#include <vector>

namespace sequent {

struct EpochRecord {
  int epoch = 0;  // 1-based
  double loss = NAN;
  double accuracy = NAN;  // NaN for regression losses
  double val_loss = NAN;  // NaN without validation data
  double val_accuracy = NAN;
  double seconds = 0;  // wall time of the epoch, validation included
  double learning_rate = NAN;  // the optimiser's rate during the epoch
  bool validated = false;      // val_* were measured
};

struct History {
  std::vector<EpochRecord> epochs;

  bool empty() const { return epochs.empty(); }
  const EpochRecord& last() const { return epochs.back(); }
  // One metric over the epochs: "loss", "accuracy", "val_loss",
  // "val_accuracy" or "seconds". Throws std::invalid_argument otherwise.
  std::vector<double> series(const std::string& metric) const;
  // A fixed-width table, one row per epoch.
  std::string to_string() const;
  // CSV with a header row: epoch,loss,accuracy,val_loss,val_accuracy,seconds
  std::string to_csv() const;
};

}  // namespace sequent
