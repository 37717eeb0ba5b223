// The built-in callbacks.
#include "sequent/train/callbacks.hpp"

#include <algorithm>
#include <fstream>
#include <numbers>
#include <stdexcept>

#include "sequent/train/errors.hpp"

namespace sequent {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// Whether this epoch's fit measured `name` at all. A loss is always
// measured (NaN then means it diverged); val_ needs validation data;
// accuracy is NaN only for regression losses; precision, recall and f1 need
// to have been asked for.
bool measured(const EpochRecord& r, const std::string& name) {
  const double value = r.value(name);  // throws for an unknown name
  const bool val = starts_with(name, "val_");
  if (val && !r.validated) return false;
  const std::string base = val ? name.substr(4) : name;
  if (base == "loss") return true;
  for (Metric m : r.metrics) {
    if (base == metric_name(m)) return true;
  }
  return !std::isnan(value);
}

// A monitor name must exist before training starts, not after an epoch.
void check_monitor(const std::string& monitor) {
  metric_value(EpochRecord{}, monitor);
}

// Whether the fit that `control` describes will report `name` (the
// counterpart of measured, known when training begins).
bool will_measure(const TrainingControl& control, const std::string& name) {
  const bool val = starts_with(name, "val_");
  if (val && !control.validated) return false;
  const std::string base = val ? name.substr(4) : name;
  if (base == "loss" || base == "seconds" || base == "learning_rate") {
    return true;
  }
  if (base == "accuracy") return control.classification;
  for (Metric m : control.metrics) {
    if (base == metric_name(m)) return true;
  }
  return false;
}

std::invalid_argument not_measured(const char* who,
                                   const std::string& monitor) {
  std::string hint =
      starts_with(monitor, "val_") ? " (no validation data?)" : "";
  if (monitor.find("precision") != std::string::npos ||
      monitor.find("recall") != std::string::npos ||
      monitor.find("f1") != std::string::npos) {
    hint =
        " (ask fit for it: .metrics = {sq::Metric::...}" +
        std::string(starts_with(monitor, "val_") ? ", and .validation" : "") +
        ")";
  }
  return std::invalid_argument(std::string(who) + " monitors '" + monitor +
                               "', which this fit does not report" + hint);
}

}  // namespace

double metric_value(const EpochRecord& r, const std::string& metric) {
  return r.value(metric);
}

bool higher_is_better(const std::string& metric, MonitorMode mode) {
  if (mode != MonitorMode::kAuto) return mode == MonitorMode::kMax;
  for (const char* up : {"accuracy", "precision", "recall", "f1"}) {
    if (metric.find(up) != std::string::npos) return true;
  }
  return false;
}

namespace {

// The epoch's value of `monitor`, or not_measured's error naming `who`
// when the epoch did not measure it.
double monitored_value(const EpochRecord& r, const std::string& monitor,
                       const char* who) {
  if (!measured(r, monitor)) throw not_measured(who, monitor);
  return metric_value(r, monitor);
}

// The best value a monitor starts from: the worst possible one, so that
// any measured value improves on it.
double worst_value(const std::string& monitor, MonitorMode mode) {
  return higher_is_better(monitor, mode)
             ? -std::numeric_limits<double>::infinity()
             : std::numeric_limits<double>::infinity();
}

// Whether `value` beats `best` by more than min_delta in the monitor's
// direction; never for NaN.
bool improves(double value, double best, double min_delta,
              const std::string& monitor, MonitorMode mode) {
  return higher_is_better(monitor, mode) ? value > best + min_delta
                                         : value < best - min_delta;
}

}  // namespace

// ---- CSVLogger
// ---------------------------------------------------------------

CSVLogger::CSVLogger(std::filesystem::path path, bool append)
    : path_(std::move(path)), append_(append) {}

void CSVLogger::on_train_begin(TrainingControl& control) {
  columns_ = metric_columns(control.metrics);
  const bool header = !append_ || !std::filesystem::exists(path_) ||
                      std::filesystem::file_size(path_) == 0;
  std::ofstream out(path_, append_ ? std::ios::app : std::ios::trunc);
  if (!out)
    throw std::runtime_error("CSVLogger: cannot write " + path_.string());
  if (header) {
    out << "epoch";
    for (const std::string& c : columns_) out << ',' << c;
    out << ",seconds,lr\n";
  }
}

void CSVLogger::on_epoch_end(const EpochRecord& r, TrainingControl& control) {
  std::ofstream out(path_, std::ios::app);
  if (!out)
    throw std::runtime_error("CSVLogger: cannot write " + path_.string());
  out << r.epoch;
  for (const std::string& c : columns_) out << ',' << format_csv(r.value(c));
  // The rate the epoch ran with, as History has it (a callback after this
  // one may already have set the next epoch's).
  out << ',' << format_csv(r.seconds) << ',' << format_csv(r.learning_rate)
      << '\n';
  out.flush();
}

// ---- EarlyStopping
// -------------------------------------------------------------

EarlyStopping::EarlyStopping(EarlyStoppingOptions options)
    : options_(std::move(options)) {
  check_monitor(options_.monitor);
  if (options_.patience < 0 || !(options_.min_delta >= 0)) {
    throw std::invalid_argument(
        "EarlyStopping: patience and min_delta must be >= 0, got " +
        std::to_string(options_.patience) + " and " +
        std::to_string(options_.min_delta));
  }
}

void EarlyStopping::on_train_begin(TrainingControl& control) {
  if (!will_measure(control, options_.monitor)) {
    throw not_measured("EarlyStopping", options_.monitor);
  }
  best_ = worst_value(options_.monitor, options_.mode);
  best_epoch_ = waited_ = stopped_epoch_ = 0;
  best_weights_.clear();
  best_state_.clear();
}

// Keras' EarlyStopping.on_epoch_end: an epoch either improves on the best
// by more than min_delta (the wait starts again) or adds one to the wait,
// and training stops once the wait reaches patience.
void EarlyStopping::on_epoch_end(const EpochRecord& r,
                                 TrainingControl& control) {
  const double value = monitored_value(r, options_.monitor, "EarlyStopping");
  const bool better = improves(value, best_, options_.min_delta,
                               options_.monitor, options_.mode);
  if (better) {  // false for NaN
    best_ = value;
    best_epoch_ = r.epoch;
    waited_ = 0;
    if (options_.restore_best_weights) {
      const auto p = control.parameters();
      best_weights_.assign(p.begin(), p.end());
      const auto st = control.state();
      best_state_.assign(st.begin(), st.end());
    }
    return;
  }
  if (++waited_ >= options_.patience) {
    stopped_epoch_ = r.epoch;
    control.stop();
  }
}

void EarlyStopping::on_train_end(TrainingControl& control) {
  if (options_.restore_best_weights && !best_weights_.empty()) {
    const auto p = control.parameters();
    std::copy(best_weights_.begin(), best_weights_.end(), p.begin());
    const auto st = control.state();
    std::copy(best_state_.begin(), best_state_.end(), st.begin());
  }
}

// ---- ReduceLROnPlateau
// ---------------------------------------------------------

ReduceLROnPlateau::ReduceLROnPlateau(ReduceLROnPlateauOptions options)
    : options_(std::move(options)) {
  check_monitor(options_.monitor);
  const auto& o = options_;
  if (!(o.factor > 0.0 && o.factor < 1.0)) {
    throw std::invalid_argument(
        "ReduceLROnPlateau: factor must be in (0, 1) to reduce the rate, got " +
        format_metric(o.factor));
  }
  if (o.patience < 0 || o.cooldown < 0 || !(o.min_delta >= 0) ||
      !(o.min_lr >= 0)) {
    throw std::invalid_argument(
        "ReduceLROnPlateau: patience, cooldown, min_delta and min_lr must be "
        ">= 0, got " +
        std::to_string(o.patience) + ", " + std::to_string(o.cooldown) + ", " +
        format_metric(o.min_delta) + " and " + format_metric(o.min_lr));
  }
}

void ReduceLROnPlateau::on_train_begin(TrainingControl& control) {
  if (!will_measure(control, options_.monitor)) {
    throw not_measured("ReduceLROnPlateau", options_.monitor);
  }
  best_ = worst_value(options_.monitor, options_.mode);
  waited_ = cooldown_left_ = 0;
  reduced_after_.clear();
}

// Keras' ReduceLROnPlateau.on_epoch_end: during a cooldown the wait stays
// at 0; otherwise an epoch improves on the best (the wait starts again) or
// adds one to the wait, and once the wait reaches patience the rate is cut
// (if above min_lr) and the cooldown starts.
void ReduceLROnPlateau::on_epoch_end(const EpochRecord& r,
                                     TrainingControl& control) {
  const double value =
      monitored_value(r, options_.monitor, "ReduceLROnPlateau");
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    waited_ = 0;
  }
  const bool better = improves(value, best_, options_.min_delta,
                               options_.monitor, options_.mode);
  if (better) {  // false for NaN
    best_ = value;
    waited_ = 0;
    return;
  }
  if (cooldown_left_ > 0 || ++waited_ < options_.patience) return;
  const double rate = control.learning_rate;
  if (rate > options_.min_lr) {
    control.learning_rate =
        static_cast<float>(std::max(rate * options_.factor, options_.min_lr));
    reduced_after_.push_back(r.epoch);
    cooldown_left_ = options_.cooldown;
    waited_ = 0;
  }
}

// ---- ModelCheckpoint
// -------------------------------------------------------------

namespace {

// The path with every "{epoch}" or "{epoch:0Nd}" (N ≤ 9 digits, Keras'
// format) replaced by `epoch`; any other "{…}" is an std::invalid_argument,
// caught when the callback is made (epoch 0) rather than after an epoch.
std::string expand_epoch(const std::string& pattern, int epoch) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size();) {
    if (pattern[i] != '{') {
      out += pattern[i++];
      continue;
    }
    const std::size_t close = pattern.find('}', i);
    const std::string field = pattern.substr(
        i, close == std::string::npos ? std::string::npos : close - i + 1);
    int width = 0;
    if (field == "{epoch}") {
      width = 0;
    } else if (field.size() == 11 && field.compare(0, 8, "{epoch:0") == 0 &&
               field[8] >= '1' && field[8] <= '9' &&
               field.compare(9, 2, "d}") == 0) {
      width = field[8] - '0';
    } else {
      throw std::invalid_argument(
          "ModelCheckpoint: path " + pattern + " has '" + field +
          "'; only {epoch} and {epoch:0Nd} (zero-padded to N digits) are "
          "replaced");
    }
    std::string number = std::to_string(epoch);
    if (number.size() < static_cast<std::size_t>(width)) {
      number.insert(0, static_cast<std::size_t>(width) - number.size(), '0');
    }
    out += number;
    i += field.size();
  }
  return out;
}

// Makes `dir` and its parents, as Keras does for a checkpoint's path.
void make_directories(const std::filesystem::path& dir) {
  if (dir.empty()) return;
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    throw std::runtime_error("ModelCheckpoint: cannot create directory " +
                             dir.string() + ": " + error.message());
  }
}

}  // namespace

ModelCheckpoint::ModelCheckpoint(ModelCheckpointOptions options)
    : options_(std::move(options)) {
  check_monitor(options_.monitor);
  expand_epoch(options_.path.string(), 0);
}

void ModelCheckpoint::on_train_begin(TrainingControl& control) {
  if (options_.save_best_only && !will_measure(control, options_.monitor)) {
    throw not_measured("ModelCheckpoint", options_.monitor);
  }
  // The directories that hold no "{epoch}" now, so that a path that cannot
  // be written fails before the first epoch trains rather than after it;
  // those that do, before each save.
  const std::string path = options_.path.string();
  const std::size_t field = path.find('{');
  make_directories(std::filesystem::path(field == std::string::npos
                                             ? path
                                             : path.substr(0, field))
                       .parent_path());
  have_best_ = false;
  written_.clear();
}

void ModelCheckpoint::on_epoch_end(const EpochRecord& r,
                                   TrainingControl& control) {
  if (options_.save_best_only) {
    const double value =
        monitored_value(r, options_.monitor, "ModelCheckpoint");
    if (std::isnan(value)) return;  // a diverged epoch is never the best
    const bool better =
        !have_best_ ||
        improves(value, best_, 0.0, options_.monitor, options_.mode);
    if (!better) return;
    best_ = value;
    have_best_ = true;
  }
  const std::string path = expand_epoch(options_.path.string(), r.epoch);
  make_directories(std::filesystem::path(path).parent_path());
  if (options_.training_checkpoint) {
    control.save_checkpoint(path);
  } else {
    control.save_weights(path);
  }
  written_.emplace_back(path);
}

// ---- LearningRateScheduler, TerminateOnNaN
// -------------------------------------

LearningRateScheduler::LearningRateScheduler(
    std::function<float(int, float)> schedule)
    : schedule_(std::move(schedule)) {}

void LearningRateScheduler::on_epoch_begin(int epoch,
                                           TrainingControl& control) {
  control.learning_rate = schedule_(epoch, control.learning_rate);
}

StepLearningRateScheduler::StepLearningRateScheduler(
    std::function<float(double, float)> schedule)
    : schedule_(std::move(schedule)) {}

void StepLearningRateScheduler::on_batch_begin(int epoch, std::size_t step,
                                               std::size_t steps,
                                               TrainingControl& control) {
  const double progress =
      (epoch - 1) + static_cast<double>(step) / static_cast<double>(steps);
  control.learning_rate = schedule_(progress, control.learning_rate);
}

void TerminateOnNaN::on_epoch_end(const EpochRecord& r, TrainingControl&) {
  const bool bad_loss = !std::isfinite(r.loss);
  if (bad_loss || (r.validated && !std::isfinite(r.val_loss))) {
    throw NonFiniteLoss(
        "TerminateOnNaN: " + std::string(bad_loss ? "loss" : "val_loss") +
        " was " + std::to_string(bad_loss ? r.loss : r.val_loss) +
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
    return static_cast<float>(
        min_lr + 0.5 * (lr0 - min_lr) * (1 + std::cos(std::numbers::pi * t)));
  };
}

std::function<float(double, float)> warmup_cosine(float lr0, double epochs,
                                                  float min_lr, double warmup) {
  if (!(epochs > 0) || !(warmup >= 0) || warmup >= epochs) {
    throw std::invalid_argument(
        "schedules::warmup_cosine: needs epochs > 0 and 0 <= warmup < epochs");
  }
  return [=](double progress, float) {
    if (progress < warmup) {
      return static_cast<float>(lr0 * (0.1 + 0.9 * progress / warmup));
    }
    const double t = std::min(1.0, (progress - warmup) / (epochs - warmup));
    return static_cast<float>(
        min_lr + 0.5 * (lr0 - min_lr) * (1 + std::cos(std::numbers::pi * t)));
  };
}

}  // namespace schedules
}  // namespace sequent
