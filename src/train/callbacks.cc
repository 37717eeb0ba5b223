// The built-in callbacks.
#include "sequent/train/callbacks.hpp"

#include <fstream>
#include <numbers>
#include <stdexcept>

#include "sequent/train/errors.hpp"

namespace sequent {

double metric_value(const EpochRecord& r, const std::string& metric) {
  if (metric == "loss") return r.loss;
  if (metric == "accuracy") return r.accuracy;
  if (metric == "val_loss") return r.val_loss;
  if (metric == "val_accuracy") return r.val_accuracy;
  throw std::invalid_argument("unknown metric '" + metric +
                              "' (loss, accuracy, val_loss, val_accuracy)");
}

bool higher_is_better(const std::string& metric) {
  return metric.find("accuracy") != std::string::npos;
}

// ---- CSVLogger ---------------------------------------------------------------

CSVLogger::CSVLogger(std::filesystem::path path, bool append)
    : path_(std::move(path)), append_(append) {}

void CSVLogger::on_train_begin(TrainingControl&) {
  const bool header = !append_ || !std::filesystem::exists(path_) ||
                      std::filesystem::file_size(path_) == 0;
  std::ofstream out(path_, append_ ? std::ios::app : std::ios::trunc);
  if (!out) throw std::runtime_error("CSVLogger: cannot write " + path_.string());
  if (header) out << "epoch,loss,accuracy,val_loss,val_accuracy,seconds,lr\n";
}

void CSVLogger::on_epoch_end(const EpochRecord& r, TrainingControl& control) {
  std::ofstream out(path_, std::ios::app);
  if (!out) throw std::runtime_error("CSVLogger: cannot write " + path_.string());
  auto cell = [](double v) {
    if (std::isnan(v)) return std::string();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6f", v);
    return std::string(buf);
  };
  out << r.epoch << ',' << cell(r.loss) << ',' << cell(r.accuracy) << ','
      << cell(r.val_loss) << ',' << cell(r.val_accuracy) << ','
      << cell(r.seconds) << ',' << cell(control.learning_rate) << '\n';
  out.flush();
}

// ---- EarlyStopping -------------------------------------------------------------

EarlyStopping::EarlyStopping(EarlyStoppingOptions options)
    : options_(std::move(options)) {
  metric_value(EpochRecord{}, options_.monitor);  // validates the name
}

void EarlyStopping::on_train_begin(TrainingControl&) {
  best_ = higher_is_better(options_.monitor)
              ? -std::numeric_limits<double>::infinity()
              : std::numeric_limits<double>::infinity();
  best_epoch_ = waited_ = stopped_epoch_ = 0;
  best_weights_.clear();
}

void EarlyStopping::on_epoch_end(const EpochRecord& r,
                                 TrainingControl& control) {
  const double value = metric_value(r, options_.monitor);
  if (std::isnan(value)) {
    throw std::invalid_argument(
        "EarlyStopping monitors '" + options_.monitor +
        "', which this fit does not report (no validation data?)");
  }
  const bool better = higher_is_better(options_.monitor)
                          ? value > best_ + options_.min_delta
                          : value < best_ - options_.min_delta;
  if (better) {
    best_ = value;
    best_epoch_ = r.epoch;
    waited_ = 0;
    if (options_.restore_best_weights) {
      const auto p = control.parameters();
      best_weights_.assign(p.begin(), p.end());
    }
    return;
  }
  if (++waited_ > options_.patience) {
    stopped_epoch_ = r.epoch;
    control.stop();
  }
}

void EarlyStopping::on_train_end(TrainingControl& control) {
  if (options_.restore_best_weights && !best_weights_.empty()) {
    const auto p = control.parameters();
    std::copy(best_weights_.begin(), best_weights_.end(), p.begin());
  }
}

// ---- ModelCheckpoint -------------------------------------------------------------

ModelCheckpoint::ModelCheckpoint(ModelCheckpointOptions options)
    : options_(std::move(options)) {
  metric_value(EpochRecord{}, options_.monitor);
}

void ModelCheckpoint::on_train_begin(TrainingControl&) {
  have_best_ = false;
  written_.clear();
}

void ModelCheckpoint::on_epoch_end(const EpochRecord& r,
                                   TrainingControl& control) {
  if (options_.save_best_only) {
    const double value = metric_value(r, options_.monitor);
    if (std::isnan(value)) {
      throw std::invalid_argument("ModelCheckpoint monitors '" +
                                  options_.monitor +
                                  "', which this fit does not report");
    }
    const bool better = !have_best_ || (higher_is_better(options_.monitor)
                                            ? value > best_
                                            : value < best_);
    if (!better) return;
    best_ = value;
    have_best_ = true;
  }
  std::string path = options_.path.string();
  const std::string key = "{epoch}";
  for (std::size_t at; (at = path.find(key)) != std::string::npos;) {
    path.replace(at, key.size(), std::to_string(r.epoch));
  }
  if (options_.training_checkpoint) {
    control.save_checkpoint(path);
  } else {
    control.save_weights(path);
  }
  written_.emplace_back(path);
}

// ---- LearningRateScheduler, TerminateOnNaN -------------------------------------

LearningRateScheduler::LearningRateScheduler(
    std::function<float(int, float)> schedule)
    : schedule_(std::move(schedule)) {}

void LearningRateScheduler::on_epoch_begin(int epoch,
                                           TrainingControl& control) {
  control.learning_rate = schedule_(epoch, control.learning_rate);
}

void TerminateOnNaN::on_epoch_end(const EpochRecord& r, TrainingControl&) {
  const bool bad_loss = !std::isfinite(r.loss);
  if (bad_loss || (r.validated && !std::isfinite(r.val_loss))) {
    throw NonFiniteLoss("TerminateOnNaN: " +
                        std::string(bad_loss ? "loss" : "val_loss") + " was " +
                        std::to_string(bad_loss ? r.loss : r.val_loss) +
                        " at epoch " + std::to_string(r.epoch));
  }
}

namespace schedules {

std::function<float(int, float)> step(float lr0, float factor, int every) {
  if (every < 1) throw std::invalid_argument("schedules::step: every >= 1");
  return [=](int epoch, float) {
    return lr0 * std::pow(factor, static_cast<float>((epoch - 1) / every));
  };
}

std::function<float(int, float)> cosine(float lr0, int epochs, float min_lr) {
  if (epochs < 1) throw std::invalid_argument("schedules::cosine: epochs >= 1");
  return [=](int epoch, float) {
    const double t = std::min(1.0, double(epoch - 1) / epochs);
    return static_cast<float>(min_lr + 0.5 * (lr0 - min_lr) *
                                           (1 + std::cos(std::numbers::pi * t)));
  };
}

}  // namespace schedules
}  // namespace sequent
