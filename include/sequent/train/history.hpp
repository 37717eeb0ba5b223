// The record of a fit: one entry per epoch, like Keras' History.
//
// Loss and accuracy are always there; macro precision, recall and F1 are
// recorded when fit is asked for them, as Keras' `metrics=[...]`:
//
//   auto h = model.fit(train, sq::Adam{},
//                      {.epochs = 5, .validation = &test,
//                       .metrics = {sq::Metric::kPrecision,
//                                   sq::Metric::kRecall}});
//   h.series("val_precision");
#pragma once

#include <cmath>
#include <string>
#include <vector>

namespace sequent {

// Per-epoch classification metrics beyond accuracy. Each is the macro
// average over classes (every class counts the same, as scikit-learn's
// average="macro"), with 0 for a class never predicted (precision) or never
// present (recall), as scikit-learn's zero_division default.
enum class Metric { kPrecision, kRecall, kF1 };

// "precision", "recall", "f1": the names History, CSVLogger and the
// callbacks' `monitor` use (with "val_" in front for the validation data).
const char* metric_name(Metric metric);

struct EpochRecord {
  int epoch = 0;  // 1-based
  double loss = NAN;
  double accuracy = NAN;  // NaN for regression losses
  double val_loss = NAN;  // NaN without validation data
  double val_accuracy = NAN;
  double seconds = 0;          // wall time of the epoch, validation included
  double learning_rate = NAN;  // the optimiser's rate during the epoch
  bool validated = false;      // val_* were measured
  // The metrics fit was asked for, in the order given; only these of the
  // fields below are measured, the others stay NaN. The training values are
  // over the epoch's batches as they were trained (as Keras reports them),
  // the validation values over the validation set after the epoch.
  std::vector<Metric> metrics;
  double precision = NAN, recall = NAN, f1 = NAN;
  double val_precision = NAN, val_recall = NAN, val_f1 = NAN;

  // The value of a named metric: "loss", "accuracy", "precision", "recall",
  // "f1", each also with "val_", and "seconds", "learning_rate". NaN when
  // the metric was not measured. Throws std::invalid_argument, listing the
  // names, for any other name.
  double value(const std::string& name) const;
};

struct History {
  std::vector<EpochRecord> epochs;

  bool empty() const { return epochs.empty(); }
  const EpochRecord& last() const { return epochs.back(); }
  // One metric over the epochs, by EpochRecord::value's names. Throws
  // std::invalid_argument for an unknown name.
  std::vector<double> series(const std::string& metric) const;
  // The metric columns of this history, in table order: loss, accuracy, the
  // requested metrics, then the same for val_.
  std::vector<std::string> columns() const;
  // A fixed-width table, one row per epoch: the columns that hold a value
  // in some epoch (a regression has no accuracy, a fit without validation
  // no val_), seconds and the learning rate.
  std::string to_string() const;
  // CSV with a header row: epoch, columns()…, seconds, lr — CSVLogger's
  // columns, so the two files of one run are the same.
  std::string to_csv() const;
};

// The metric columns of a fit that measured `metrics`: loss, accuracy,
// each metric, val_loss, val_accuracy, val_ each metric.
std::vector<std::string> metric_columns(const std::vector<Metric>& metrics);

// A loss or metric as the tables and log lines print it: 4 decimals, or 4
// significant digits in scientific notation below 0.001 (a regression's
// loss of 8e-14 is not 0.0000); "-" for NaN.
std::string format_metric(double value);
// The same for CSV files: 6 decimals, or 7 significant digits in
// scientific notation below 0.001; empty for NaN.
std::string format_csv(double value);

}  // namespace sequent
