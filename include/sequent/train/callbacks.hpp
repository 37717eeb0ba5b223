// Callbacks for fit, as in Keras: each is told when training and each epoch
// begin and end, and may read the history, change the learning rate, save
// the model or stop training.
//
//   sq::EarlyStopping early{{.monitor = "val_loss", .patience = 3,
//                            .restore_best_weights = true}};
//   sq::CSVLogger csv{"history.csv"};
//   model.fit(train, sq::Adam{}, {.epochs = 50, .validation = &test,
//                                 .callbacks = {&early, &csv}});
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sequent/train/history.hpp"

namespace sequent {

// What a callback can see and do while fit runs.
class TrainingControl {
 public:
  virtual ~TrainingControl() = default;
  // The live weights (the model's flat parameter buffer).
  virtual std::span<float> parameters() = 0;
  // The live non-trainable state (BatchNorm's running statistics), part of
  // "the weights" as Keras' get_weights() has them; empty if none.
  virtual std::span<float> state() { return {}; }
  virtual void save_weights(const std::filesystem::path& path) const = 0;
  virtual void save_checkpoint(const std::filesystem::path& path) const = 0;
  virtual const History& history() const = 0;

  // Ends training after the current epoch.
  void stop() { stop_requested_ = true; }
  bool stop_requested() const { return stop_requested_; }
  // The optimiser's learning rate for the coming epoch; a callback's
  // on_epoch_begin may change it.
  float learning_rate = 0.0f;
  // The metrics this fit measures beyond loss and accuracy (FitOptions'
  // .metrics), known from on_train_begin on.
  std::vector<Metric> metrics;
  // Whether this fit has validation data (so reports val_…), and whether
  // its loss is a classification one (so reports accuracy); known from
  // on_train_begin on, so that a callback can refuse a monitor it will
  // never see before the first epoch trains.
  bool validated = false;
  bool classification = true;

 private:
  bool stop_requested_ = false;
};

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(TrainingControl&) {}
  virtual void on_epoch_begin(int /*epoch*/, TrainingControl&) {}
  // Before each training step `step` (from 0) of `steps` in `epoch`.
  virtual void on_batch_begin(int /*epoch*/, std::size_t /*step*/,
                              std::size_t /*steps*/, TrainingControl&) {}
  virtual void on_epoch_end(const EpochRecord&, TrainingControl&) {}
  virtual void on_train_end(TrainingControl&) {}
};

// The value of `metric` in a record ("loss", "val_accuracy",
// "val_precision", …): EpochRecord::value. Throws std::invalid_argument for
// an unknown name.
double metric_value(const EpochRecord& record, const std::string& metric);

// Whether a monitored metric should go down (kMin) or up (kMax). kAuto, as
// Keras' mode="auto", infers it from the name: accuracy, precision, recall
// and f1 (with or without "val_") go up, anything else (losses) down.
enum class MonitorMode { kAuto, kMin, kMax };
// Whether larger is better for `metric` under `mode`.
bool higher_is_better(const std::string& metric,
                      MonitorMode mode = MonitorMode::kAuto);

// Appends one CSV line per epoch to a file (header first), flushed at once,
// so a crash loses nothing already logged. Columns: epoch, loss, accuracy,
// the fit's extra metrics, the same with val_, seconds, lr.
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::filesystem::path path, bool append = false);
  void on_train_begin(TrainingControl&) override;
  void on_epoch_end(const EpochRecord& record, TrainingControl&) override;

 private:
  std::filesystem::path path_;
  bool append_;
  std::vector<std::string> columns_;
};

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  // Epochs without improvement after which training stops (Keras): with 2,
  // best at epoch 3, no better at 4 and 5 → stops after epoch 5. 0 stops at
  // the first epoch that does not improve, as 1 does.
  int patience = 0;
  // An improvement must beat the best by more than this (>= 0).
  double min_delta = 0.0;
  // When training ends, put back the weights (and BatchNorm statistics) of
  // the best epoch, as Keras 3 does whether or not training stopped early.
  bool restore_best_weights = false;
  MonitorMode mode = MonitorMode::kAuto;
};

// Stops when the monitored metric has not improved for `patience` epochs;
// optionally puts back the weights of the best epoch when training ends.
// A monitored metric the fit does not measure (val_loss without validation
// data, precision without .metrics) is an std::invalid_argument when
// training begins; a measured NaN is simply not an improvement.
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  void on_train_begin(TrainingControl&) override;
  void on_epoch_end(const EpochRecord& record, TrainingControl&) override;
  void on_train_end(TrainingControl&) override;
  int best_epoch() const { return best_epoch_; }
  int stopped_epoch() const { return stopped_epoch_; }

 private:
  EarlyStoppingOptions options_;
  double best_ = 0;
  int best_epoch_ = 0;
  int waited_ = 0;
  int stopped_epoch_ = 0;
  std::vector<float> best_weights_;
  std::vector<float> best_state_;
};

struct ModelCheckpointOptions {
  // "{epoch}" in the path is replaced by the epoch number, "{epoch:03d}"
  // (Keras' spelling) by the number zero-padded to 3 digits; any other
  // "{…}" is an std::invalid_argument. Missing directories are created
  // when training begins.
  std::filesystem::path path = "model.sqm";
  std::string monitor = "val_loss";
  bool save_best_only = false;
  // A full training checkpoint (optimiser state, epoch, RNG seed) instead of
  // weights: load_checkpoint + fit then continues the run.
  bool training_checkpoint = false;
  MonitorMode mode = MonitorMode::kAuto;  // for save_best_only
};

class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(ModelCheckpointOptions options);
  void on_train_begin(TrainingControl&) override;
  void on_epoch_end(const EpochRecord& record, TrainingControl&) override;
  const std::vector<std::filesystem::path>& written() const { return written_; }

 private:
  ModelCheckpointOptions options_;
  double best_ = 0;
  bool have_best_ = false;
  std::vector<std::filesystem::path> written_;
};

// Sets the learning rate before every epoch: schedule(epoch, current lr),
// epochs counted from 1.
class LearningRateScheduler : public Callback {
 public:
  explicit LearningRateScheduler(std::function<float(int, float)> schedule);
  void on_epoch_begin(int epoch, TrainingControl& control) override;

 private:
  std::function<float(int, float)> schedule_;
};

// Sets the learning rate before every training step: schedule(progress, lr)
// with progress the epochs done so far, fractional (0 at the first step of
// epoch 1, 1.5 halfway through epoch 2). A short run's schedule then moves
// smoothly instead of in a few epoch-sized steps.
class StepLearningRateScheduler : public Callback {
 public:
  explicit StepLearningRateScheduler(
      std::function<float(double, float)> schedule);
  void on_batch_begin(int epoch, std::size_t step, std::size_t steps,
                      TrainingControl& control) override;

 private:
  std::function<float(double, float)> schedule_;
};

struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  // The new rate is the old one times factor (0 < factor < 1), never below
  // min_lr.
  double factor = 0.1;
  // Epochs without improvement after which the rate is cut (Keras: with 2,
  // best at epoch 3, no better at 4 and 5 → cut after epoch 5).
  int patience = 10;
  // An improvement must beat the best by more than this (>= 0).
  double min_delta = 1e-4;
  // Epochs after a cut during which no epoch counts towards the patience.
  int cooldown = 0;
  double min_lr = 0.0;
  MonitorMode mode = MonitorMode::kAuto;
};

// Keras' ReduceLROnPlateau: cuts the learning rate when the monitored
// metric stops improving, from the next epoch on. Options are checked at
// construction, and the monitor when training begins, as EarlyStopping's;
// a measured NaN is simply not an improvement.
class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions options = {});
  void on_train_begin(TrainingControl&) override;
  void on_epoch_end(const EpochRecord& record, TrainingControl&) override;
  // The epochs after which the rate was cut.
  const std::vector<int>& reduced_after() const { return reduced_after_; }

 private:
  ReduceLROnPlateauOptions options_;
  double best_ = 0;
  int waited_ = 0;
  int cooldown_left_ = 0;
  std::vector<int> reduced_after_;
};

// Ends fit with NonFiniteLoss when an epoch's training or validation loss is
// NaN or infinite. (fit always stops at the first non-finite training step;
// this also watches the validation loss.) The weights of the last good epoch
// are restored first.
class TerminateOnNaN : public Callback {
 public:
  void on_epoch_end(const EpochRecord& record, TrainingControl&) override;
};

namespace schedules {
// lr0 · factor^⌊(epoch − 1) / every⌋
std::function<float(int, float)> step(float lr0, float factor, int every);
// Cosine decay from lr0 to min_lr over `epochs` epochs.
std::function<float(int, float)> cosine(float lr0, int epochs,
                                        float min_lr = 0.0f);
// For StepLearningRateScheduler: a linear rise from lr0 / 10 to lr0 over the
// first `warmup` epochs (fractional; 0 for none), then a cosine decay to
// min_lr at the end of `epochs`.
std::function<float(double, float)> warmup_cosine(float lr0, double epochs,
                                                  float min_lr = 0.0f,
                                                  double warmup = 0.0);
}  // namespace schedules

}  // namespace sequent
