// fit's callbacks: CSVLogger, EarlyStopping (Keras' patience, min_delta,
// mode, restore_best_weights), ModelCheckpoint (every epoch, best only,
// training checkpoints that resume the run), LearningRateScheduler with the
// step and cosine schedules, ReduceLROnPlateau, TerminateOnNaN at the first
// and a later epoch.
#define BOOST_TEST_MODULE callbacks
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sequent/sequent.hpp>
#include <sstream>

#include "temp_dir.hpp"

namespace sq = sequent;
namespace fs = std::filesystem;

namespace {

using Line = sq::Sequential<sq::Input<1>, sq::Dense<1>>;
using Regressor = sq::Model<Line, sq::MeanSquaredError>;

sq::data::FloatDataset line_data(std::size_t n, std::uint64_t seed) {
  sq::Rng rng(seed);
  std::vector<float> x(n), y(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = rng.uniform(-1, 1);
    y[i] = 2 * x[i] + 0.5f;
  }
  return {x, 1, y, 1};
}

using sequent::test::TempDir;

// Records what fit told it, and stops at a chosen epoch.
struct Recorder : sq::Callback {
  std::vector<std::string> events;
  int stop_at = 0;
  void on_train_begin(sq::TrainingControl&) override {
    events.push_back("begin");
  }
  void on_epoch_begin(int e, sq::TrainingControl&) override {
    events.push_back("epoch " + std::to_string(e));
  }
  void on_epoch_end(const sq::EpochRecord& r, sq::TrainingControl& c) override {
    events.push_back("end " + std::to_string(r.epoch));
    if (r.epoch == stop_at) c.stop();
  }
  void on_train_end(sq::TrainingControl&) override { events.push_back("done"); }
};

// Copies of the weights and BatchNorm statistics at every epoch's end.
struct Snapshot : sq::Callback {
  std::vector<std::vector<float>> weights, state;
  void on_epoch_end(const sq::EpochRecord&, sq::TrainingControl& c) override {
    weights.emplace_back(c.parameters().begin(), c.parameters().end());
    state.emplace_back(c.state().begin(), c.state().end());
  }
};

// A TrainingControl without a model, so that a callback can be fed epochs
// with hand-made values: the "weights" are one number, set by feed() to the
// epoch, and the "running statistics" ten times it.
struct FakeControl : sq::TrainingControl {
  FakeControl() { validated = true; }  // feed()'s epochs have val_ values
  std::vector<float> weights{0}, running{0};
  // What save_* was called with: the path and the weight at the time, and
  // which of the two was called.
  mutable std::vector<std::pair<std::string, float>> saved;
  mutable std::vector<std::string> kinds;
  sq::History h;
  std::span<float> parameters() override { return weights; }
  std::span<float> state() override { return running; }
  void save_weights(const fs::path& p) const override {
    saved.emplace_back(p.string(), weights[0]);
    kinds.push_back("weights");
  }
  void save_checkpoint(const fs::path& p) const override {
    saved.emplace_back(p.string(), weights[0]);
    kinds.push_back("checkpoint");
  }
  const sq::History& history() const override { return h; }
};

// Runs `cb` over epochs 1, 2, … whose `monitor` (a validation metric) takes
// `values`, as fit would: on_train_begin, then per epoch the weights are
// set and on_epoch_end is called, until the callback stops training;
// on_train_end last. Returns the number of epochs run.
int feed(sq::Callback& cb, FakeControl& c, const std::string& monitor,
         const std::vector<double>& values) {
  cb.on_train_begin(c);
  int epoch = 0;
  for (double v : values) {
    ++epoch;
    c.weights[0] = static_cast<float>(epoch);
    c.running[0] = static_cast<float>(10 * epoch);
    sq::EpochRecord r;
    r.epoch = epoch;
    r.validated = true;
    r.loss = r.val_loss = 1.0;
    r.accuracy = r.val_accuracy = 0.5;
    if (monitor == "val_loss") r.val_loss = v;
    if (monitor == "val_accuracy") r.val_accuracy = v;
    if (monitor == "loss") r.loss = v;
    BOOST_REQUIRE(sq::metric_value(r, monitor) == v || std::isnan(v));
    cb.on_epoch_end(r, c);
    if (c.stop_requested()) break;
  }
  cb.on_train_end(c);
  return epoch;
}

// A 3-class image task of 4×4 pictures: the class is which of three pixel
// columns is bright.
using Classifier =
    sq::Sequential<sq::Input<4, 4, 1>, sq::Flatten, sq::Dense<8>, sq::ReLU,
                   sq::Dropout<0.25>, sq::Dense<3>, sq::Softmax>;
using Classify = sq::Model<Classifier, sq::SparseCategoricalCrossentropy>;

sq::data::Dataset tiny_images(std::size_t n, std::uint64_t seed) {
  sq::Rng rng(seed);
  std::vector<std::uint8_t> px(n * 16);
  std::vector<std::int32_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) {
    labels[i] = static_cast<std::int32_t>(rng.next() % 3);
    for (int j = 0; j < 16; ++j) {
      px[i * 16 + j] = static_cast<std::uint8_t>(
          (j % 3 == labels[i] ? 200 : 30) + rng.uniform(0, 50));
    }
  }
  return {std::move(px), {4, 4, 1}, std::move(labels), {"a", "b", "c"}, "tiny"};
}

template <class M>
std::vector<float> params_of(const M& m) {
  return {m.parameters().begin(), m.parameters().end()};
}

}  // namespace

BOOST_AUTO_TEST_CASE(callbacks_are_called_in_order_and_can_stop) {
  Regressor m;
  Recorder rec;
  rec.stop_at = 2;
  const auto h = m.fit(
      line_data(64, 1), sq::SGD{.lr = 0.1f},
      {.epochs = 5, .verbose = sq::Verbosity::kSilent, .callbacks = {&rec}});
  BOOST_TEST(h.epochs.size() == 2u);
  const std::vector<std::string> expected{"begin",   "epoch 1", "end 1",
                                          "epoch 2", "end 2",   "done"};
  BOOST_TEST(rec.events == expected);
}

BOOST_AUTO_TEST_CASE(csv_logger_writes_a_line_per_epoch) {
  TempDir dir;
  Regressor m;
  sq::CSVLogger csv(dir.path() / "log.csv");
  const auto val = line_data(32, 2);
  m.fit(line_data(64, 1), sq::SGD{.lr = 0.1f},
        {.epochs = 3,
         .validation = &val,
         .verbose = sq::Verbosity::kSilent,
         .callbacks = {&csv}});
  std::ifstream in(dir.path() / "log.csv");
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  BOOST_REQUIRE_EQUAL(lines.size(), 4u);
  BOOST_TEST(lines[0] ==
             "epoch,loss,accuracy,val_loss,val_accuracy,seconds,lr");
  BOOST_TEST(lines[3].rfind("3,", 0) == 0u);
  BOOST_TEST(lines[3].find(",0.100000") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(early_stopping_waits_patience_then_restores_best) {
  Regressor m;
  // Validation data from another line (y = −2x): the better the model fits
  // the training line, the worse the validation loss, so the best epoch is
  // the first one.
  std::vector<float> vx{-1.0f, -0.5f, 0.5f, 1.0f}, vy;
  for (float x : vx) vy.push_back(-2.0f * x);
  const sq::data::FloatDataset val(vx, 1, vy, 1);
  sq::EarlyStopping early(
      {.monitor = "val_loss", .patience = 1, .restore_best_weights = true});
  Snapshot snap;
  const auto h = m.fit(line_data(64, 1), sq::SGD{.lr = 0.05f},
                       {.epochs = 30,
                        .batch_size = 64,
                        .validation = &val,
                        .verbose = sq::Verbosity::kSilent,
                        .callbacks = {&snap, &early}});
  BOOST_TEST(early.best_epoch() == 1);
  BOOST_TEST(early.stopped_epoch() > 0);
  BOOST_TEST(h.epochs.size() == std::size_t(early.stopped_epoch()));
  // patience = 1: one epoch without improvement, then stop (Keras).
  BOOST_TEST(early.stopped_epoch() == early.best_epoch() + 1);
  // The weights are those of the best epoch.
  const auto& best = snap.weights[early.best_epoch() - 1];
  BOOST_TEST(std::equal(best.begin(), best.end(), m.parameters().begin()));
  // Monitoring a metric that is not reported is an error, not a silent
  // no-op, and it comes before an epoch has trained.
  sq::EarlyStopping on_val({.monitor = "val_loss"});
  const auto before = params_of(m);
  BOOST_CHECK_THROW(
      m.fit(line_data(8, 1), sq::SGD{},
            {.verbose = sq::Verbosity::kSilent, .callbacks = {&on_val}}),
      std::invalid_argument);
  BOOST_TEST(params_of(m) == before);
  sq::EarlyStopping on_accuracy({.monitor = "accuracy"});  // regression
  BOOST_CHECK_THROW(
      m.fit(line_data(8, 1), sq::SGD{},
            {.verbose = sq::Verbosity::kSilent, .callbacks = {&on_accuracy}}),
      std::invalid_argument);
  BOOST_CHECK_THROW(sq::EarlyStopping({.monitor = "auc"}),
                    std::invalid_argument);
  BOOST_CHECK_THROW(sq::EarlyStopping({.patience = -1}), std::invalid_argument);
  BOOST_CHECK_THROW(sq::EarlyStopping({.min_delta = -0.1}),
                    std::invalid_argument);
}

// Keras: patience = N stops after N epochs in a row without improvement;
// an improvement starts the count again; 0 and 1 both stop at the first
// epoch that does not improve.
BOOST_AUTO_TEST_CASE(
    early_stopping_patience_counts_epochs_without_improvement) {
  struct Case {
    int patience;
    std::vector<double> val_loss;
    int epochs_run, best_epoch, stopped_epoch;
  };
  const std::vector<Case> cases{
      {0, {1.0, 0.8, 0.9, 0.7}, 3, 2, 3},
      {1, {1.0, 0.8, 0.9, 0.7}, 3, 2, 3},
      {2, {1.0, 0.8, 0.9, 0.85, 0.7}, 4, 2, 4},
      {3, {1.0, 1.1, 1.2, 0.9, 1.0, 1.0, 1.0, 0.5}, 7, 4, 7},
      {2, {1.0, 0.9, 0.8, 0.7}, 4, 4, 0},  // improves every epoch
      {1, {1.0, NAN, 0.5}, 2, 1, 2},       // NaN never improves
  };
  for (const Case& c : cases) {
    sq::EarlyStopping early({.monitor = "val_loss", .patience = c.patience});
    FakeControl control;
    BOOST_TEST_CONTEXT("patience " << c.patience << ", " << c.val_loss.size()
                                   << " values") {
      BOOST_TEST(feed(early, control, "val_loss", c.val_loss) == c.epochs_run);
      BOOST_TEST(early.best_epoch() == c.best_epoch);
      BOOST_TEST(early.stopped_epoch() == c.stopped_epoch);
      BOOST_TEST(control.stop_requested() == (c.stopped_epoch != 0));
    }
  }
}

// An improvement must beat the best by more than min_delta; exactly
// min_delta is not enough (Keras compares strictly).
BOOST_AUTO_TEST_CASE(early_stopping_min_delta) {
  {
    sq::EarlyStopping early(
        {.monitor = "val_loss", .patience = 2, .min_delta = 0.1});
    FakeControl c;
    // 0.95 and 0.92 are lower but not by 0.1: two epochs without
    // improvement.
    BOOST_TEST(feed(early, c, "val_loss", {1.0, 0.95, 0.92, 0.5}) == 3);
    BOOST_TEST(early.best_epoch() == 1);
  }
  {
    sq::EarlyStopping early({.monitor = "val_loss", .patience = 1});
    FakeControl c;  // the same values without min_delta improve
    BOOST_TEST(feed(early, c, "val_loss", {1.0, 0.95, 0.92, 0.5}) == 4);
    BOOST_TEST(early.best_epoch() == 4);
  }
  {
    sq::EarlyStopping early(
        {.monitor = "val_loss", .patience = 1, .min_delta = 0.25});
    FakeControl c;  // 0.75 = 1.0 − 0.25 exactly: not an improvement
    BOOST_TEST(feed(early, c, "val_loss", {1.0, 0.75, 0.5}) == 2);
    BOOST_TEST(early.best_epoch() == 1);
  }
  {
    sq::EarlyStopping early(
        {.monitor = "val_accuracy", .patience = 1, .min_delta = 0.1});
    FakeControl c;  // going up, but by less than 0.1
    BOOST_TEST(feed(early, c, "val_accuracy", {0.5, 0.55, 0.9}) == 2);
    BOOST_TEST(early.best_epoch() == 1);
  }
}

// mode kAuto: accuracies, precision, recall and f1 go up, losses down; an
// explicit mode overrides the name.
BOOST_AUTO_TEST_CASE(early_stopping_mode_is_inferred_from_the_monitor_name) {
  for (const char* up :
       {"accuracy", "val_accuracy", "precision", "val_precision", "recall",
        "val_recall", "f1", "val_f1"}) {
    BOOST_TEST(sq::higher_is_better(up), up);
    BOOST_TEST(!sq::higher_is_better(up, sq::MonitorMode::kMin), up);
  }
  for (const char* down : {"loss", "val_loss"}) {
    BOOST_TEST(!sq::higher_is_better(down), down);
    BOOST_TEST(sq::higher_is_better(down, sq::MonitorMode::kMax), down);
  }
  const std::vector<double> rising{0.5, 0.6, 0.7, 0.8};
  {
    sq::EarlyStopping early({.monitor = "val_accuracy", .patience = 1});
    FakeControl c;  // rising accuracy improves every epoch
    BOOST_TEST(feed(early, c, "val_accuracy", rising) == 4);
    BOOST_TEST(early.stopped_epoch() == 0);
    BOOST_TEST(early.best_epoch() == 4);
  }
  {
    sq::EarlyStopping early({.monitor = "val_loss", .patience = 1});
    FakeControl c;  // rising loss never improves on epoch 1
    BOOST_TEST(feed(early, c, "val_loss", rising) == 2);
    BOOST_TEST(early.best_epoch() == 1);
  }
  {
    sq::EarlyStopping early(
        {.monitor = "val_loss", .patience = 1, .mode = sq::MonitorMode::kMax});
    FakeControl c;
    BOOST_TEST(feed(early, c, "val_loss", rising) == 4);
    BOOST_TEST(early.best_epoch() == 4);
  }
  {
    sq::EarlyStopping early({.monitor = "val_accuracy",
                             .patience = 1,
                             .mode = sq::MonitorMode::kMin});
    FakeControl c;
    BOOST_TEST(feed(early, c, "val_accuracy", rising) == 2);
  }
}

// restore_best_weights puts back the weights and the running statistics of
// the best epoch when training ends, whether or not it stopped early (Keras
// 3); without it the last epoch's stay.
BOOST_AUTO_TEST_CASE(early_stopping_restore_best_weights) {
  {
    sq::EarlyStopping early(
        {.monitor = "val_loss", .patience = 2, .restore_best_weights = true});
    FakeControl c;
    BOOST_TEST(feed(early, c, "val_loss", {1.0, 0.5, 0.7, 0.8, 0.1}) == 4);
    BOOST_TEST(c.weights[0] == 2.0f);
    BOOST_TEST(c.running[0] == 20.0f);
  }
  {
    sq::EarlyStopping early(
        {.monitor = "val_loss", .patience = 5, .restore_best_weights = true});
    FakeControl c;  // runs out of epochs before the patience
    BOOST_TEST(feed(early, c, "val_loss", {1.0, 0.5, 0.7}) == 3);
    BOOST_TEST(early.stopped_epoch() == 0);
    BOOST_TEST(c.weights[0] == 2.0f);
    BOOST_TEST(c.running[0] == 20.0f);
  }
  {
    sq::EarlyStopping early({.monitor = "val_loss", .patience = 2});
    FakeControl c;
    BOOST_TEST(feed(early, c, "val_loss", {1.0, 0.5, 0.7, 0.8}) == 4);
    BOOST_TEST(c.weights[0] == 4.0f);  // not restored
  }
}

// The same through a real fit of a model with BatchNorm: its parameters
// and its running statistics come back from the best epoch. Monitoring the
// training loss with mode kMax makes the first epoch the best one.
BOOST_AUTO_TEST_CASE(early_stopping_restores_batchnorm_statistics_in_fit) {
  using Net =
      sq::Sequential<sq::Input<4, 4, 1>, sq::Flatten, sq::Dense<8>,
                     sq::BatchNorm<>, sq::ReLU, sq::Dense<3>, sq::Softmax>;
  sq::Model<Net, sq::SparseCategoricalCrossentropy> m{sq::Seed{2}};
  sq::EarlyStopping early({.monitor = "loss",
                           .patience = 2,
                           .restore_best_weights = true,
                           .mode = sq::MonitorMode::kMax});
  Snapshot snap;
  const auto h = m.fit(tiny_images(96, 3), sq::Adam{.lr = 1e-2f},
                       {.epochs = 10,
                        .batch_size = 16,
                        .verbose = sq::Verbosity::kSilent,
                        .callbacks = {&snap, &early}});
  BOOST_REQUIRE(h.epochs.size() >= 2u);
  BOOST_TEST(early.best_epoch() == 1);  // the loss only falls
  BOOST_TEST(h.epochs.size() == 3u);
  BOOST_TEST(snap.weights.front() != snap.weights.back());
  BOOST_TEST(snap.state.front() != snap.state.back());
  BOOST_TEST(params_of(m) == snap.weights.front());
  BOOST_TEST(std::vector<float>(m.state().begin(), m.state().end()) ==
             snap.state.front());
}

BOOST_AUTO_TEST_CASE(model_checkpoint_every_epoch_and_best_only) {
  TempDir dir;
  Regressor m;
  const auto val = line_data(32, 2);
  sq::ModelCheckpoint every({.path = dir.path() / "e{epoch}.sqm"});
  sq::ModelCheckpoint best({.path = dir.path() / "best.sqm",
                            .monitor = "val_loss",
                            .save_best_only = true});
  m.fit(line_data(64, 1), sq::SGD{.lr = 0.1f},
        {.epochs = 3,
         .validation = &val,
         .verbose = sq::Verbosity::kSilent,
         .callbacks = {&every, &best}});
  BOOST_TEST(every.written().size() == 3u);
  for (int e = 1; e <= 3; ++e) {
    BOOST_TEST(fs::exists(dir.path() / ("e" + std::to_string(e) + ".sqm")));
  }
  BOOST_TEST(best.written().size() >= 1u);
  // The best file holds the final weights here (the loss only falls).
  auto loaded = Regressor::load(dir.path() / "best.sqm");
  BOOST_TEST(std::equal(loaded.parameters().begin(), loaded.parameters().end(),
                        m.parameters().begin()));
}

// As Keras: the path's directories are made, "{epoch:03d}" pads the number;
// a path that cannot work fails before the first epoch trains.
BOOST_AUTO_TEST_CASE(model_checkpoint_makes_its_directories_and_pads_epochs) {
  TempDir dir;
  Regressor m;
  sq::ModelCheckpoint every(
      {.path = dir.path() / "run" / "sub" / "e{epoch:03d}_{epoch}.sqm"});
  m.fit(
      line_data(64, 1), sq::SGD{.lr = 0.1f},
      {.epochs = 2, .verbose = sq::Verbosity::kSilent, .callbacks = {&every}});
  BOOST_TEST(fs::exists(dir.path() / "run" / "sub" / "e001_1.sqm"));
  BOOST_TEST(fs::exists(dir.path() / "run" / "sub" / "e002_2.sqm"));
  // A directory named by the epoch is made before each save.
  sq::ModelCheckpoint per_epoch({.path = dir.path() / "e{epoch}" / "m.sqm"});
  m.fit(line_data(64, 1), sq::SGD{.lr = 0.1f},
        {.epochs = 2,
         .verbose = sq::Verbosity::kSilent,
         .callbacks = {&per_epoch}});
  BOOST_TEST(fs::exists(dir.path() / "e1" / "m.sqm"));
  BOOST_TEST(fs::exists(dir.path() / "e2" / "m.sqm"));
  // Any other field in braces is refused when the callback is made.
  for (const char* path : {"e{epoch:2}.sqm", "e{val_loss:.2f}.sqm",
                           "e{epoch.sqm", "e{epoch:0d}.sqm"}) {
    BOOST_TEST_CONTEXT(path) {
      BOOST_CHECK_THROW(sq::ModelCheckpoint({.path = path}),
                        std::invalid_argument);
    }
  }
  // A directory that cannot be made (a file is in the way) is an error
  // naming it, before any training.
  std::ofstream(dir.path() / "file") << "x";
  sq::ModelCheckpoint blocked({.path = dir.path() / "file" / "e{epoch}.sqm"});
  const auto before = params_of(m);
  try {
    m.fit(line_data(64, 1), sq::SGD{.lr = 0.1f},
          {.epochs = 1,
           .verbose = sq::Verbosity::kSilent,
           .callbacks = {&blocked}});
    BOOST_ERROR("fit did not throw");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find("cannot create directory") !=
               std::string::npos);
    BOOST_TEST(std::string(e.what()).find("file") != std::string::npos);
  }
  BOOST_TEST(params_of(m) == before);
  // save_best_only on a metric the fit will not report: refused up front.
  sq::ModelCheckpoint on_val({.path = dir.path() / "best.sqm",
                              .monitor = "val_loss",
                              .save_best_only = true});
  BOOST_CHECK_THROW(m.fit(line_data(64, 1), sq::SGD{.lr = 0.1f},
                          {.epochs = 1,
                           .verbose = sq::Verbosity::kSilent,
                           .callbacks = {&on_val}}),
                    std::invalid_argument);
  BOOST_TEST(params_of(m) == before);
}

// save_best_only follows the monitor's direction: higher accuracy, lower
// loss, or what `mode` says.
BOOST_AUTO_TEST_CASE(model_checkpoint_best_only_follows_the_mode) {
  auto saved_epochs = [](sq::ModelCheckpointOptions o, const char* monitor,
                         const std::vector<double>& values) {
    sq::ModelCheckpoint cb(std::move(o));
    FakeControl c;
    feed(cb, c, monitor, values);
    std::vector<float> epochs;
    for (const auto& [path, weight] : c.saved) epochs.push_back(weight);
    return epochs;
  };
  const std::vector<double> values{0.5, 0.7, 0.6, 0.8, 0.4};
  BOOST_TEST(saved_epochs({.monitor = "val_accuracy", .save_best_only = true},
                          "val_accuracy",
                          values) == (std::vector<float>{1, 2, 4}));
  BOOST_TEST(saved_epochs({.monitor = "val_loss", .save_best_only = true},
                          "val_loss", values) == (std::vector<float>{1, 5}));
  BOOST_TEST(saved_epochs({.monitor = "val_accuracy",
                           .save_best_only = true,
                           .mode = sq::MonitorMode::kMin},
                          "val_accuracy",
                          values) == (std::vector<float>{1, 5}));
  BOOST_TEST(saved_epochs({.monitor = "val_loss"}, "val_loss", values) ==
             (std::vector<float>{1, 2, 3, 4, 5}));
  // {epoch} in the path, and training checkpoints through save_checkpoint.
  sq::ModelCheckpoint ck(
      {.path = "run/e{epoch}-{epoch}.sqm", .training_checkpoint = true});
  FakeControl c;
  feed(ck, c, "val_loss", {1.0, 2.0});
  BOOST_REQUIRE_EQUAL(c.saved.size(), 2u);
  BOOST_TEST(c.saved[1].first == "run/e2-2.sqm");
  BOOST_TEST(c.kinds == (std::vector<std::string>{"checkpoint", "checkpoint"}));
}

// ModelCheckpoint{.training_checkpoint = true} writes checkpoints from which
// a model of any Seed resumes the run: the checkpoint of epoch 2, loaded
// and fit to 4 epochs with the same options (no seed, no initial_epoch),
// ends bitwise where the run that wrote it did, dropout masks included.
BOOST_AUTO_TEST_CASE(model_checkpoint_training_checkpoint_resumes_the_run) {
  TempDir dir;
  const auto train = tiny_images(120, 5);
  const auto val = tiny_images(30, 6);
  const sq::FitOptions options{.epochs = 4,
                               .batch_size = 16,
                               .validation = &val,
                               .verbose = sq::Verbosity::kSilent};
  Classify run{sq::Seed{11}};
  sq::ModelCheckpoint ck(
      {.path = dir.path() / "ck{epoch}.sqm", .training_checkpoint = true});
  auto with_ck = options;
  with_ck.callbacks = {&ck};
  const auto full = run.fit(train, sq::Adam{.lr = 1e-2f}, with_ck);
  BOOST_TEST(ck.written().size() == 4u);

  Classify resumed{sq::Seed{12345}};
  const auto state = resumed.load_checkpoint(dir.path() / "ck2.sqm");
  BOOST_TEST(state.epochs_done == 2);
  BOOST_TEST(resumed.epochs_done() == 2);
  const auto rest = resumed.fit(train, sq::Adam{.lr = 1e-2f}, options);
  BOOST_REQUIRE_EQUAL(rest.epochs.size(), 2u);
  BOOST_TEST(rest.epochs[0].epoch == 3);
  BOOST_TEST(rest.epochs[1].loss == full.epochs[3].loss);  // bitwise
  BOOST_TEST(rest.epochs[1].val_loss == full.epochs[3].val_loss);
  BOOST_TEST(params_of(resumed) == params_of(run));
  // The last checkpoint holds the same weights.
  Classify last{sq::Seed{1}};
  last.load_checkpoint(dir.path() / "ck4.sqm");
  BOOST_TEST(params_of(last) == params_of(run));
}

BOOST_AUTO_TEST_CASE(learning_rate_schedules) {
  const auto step = sq::schedules::step(0.1f, 0.5f, 2);
  BOOST_TEST(step(1, 0) == 0.1f);
  BOOST_TEST(step(2, 0) == 0.1f);
  BOOST_TEST(step(3, 0) == 0.05f);
  BOOST_TEST(step(5, 0) == 0.025f);
  const auto cosine = sq::schedules::cosine(1.0f, 4, 0.0f);
  BOOST_TEST(cosine(1, 0) == 1.0f);
  BOOST_TEST(cosine(3, 0) == 0.5f, boost::test_tools::tolerance(1e-6f));
  BOOST_TEST(cosine(5, 0) == 0.0f, boost::test_tools::tolerance(1e-6f));

  Regressor m;
  sq::LearningRateScheduler sched(step);
  const auto h = m.fit(
      line_data(64, 1), sq::SGD{.lr = 1.0f},
      {.epochs = 4, .verbose = sq::Verbosity::kSilent, .callbacks = {&sched}});
  const std::vector<double> lrs{0.1, 0.1, 0.05, 0.05};
  for (std::size_t i = 0; i < 4; ++i) {
    BOOST_TEST(h.epochs[i].learning_rate == lrs[i],
               boost::test_tools::tolerance(1e-6));
  }
}

BOOST_AUTO_TEST_CASE(warmup_cosine_schedule) {
  const auto lr = sq::schedules::warmup_cosine(1.0f, 4.0, 0.0f, 1.0);
  const auto near = boost::test_tools::tolerance(1e-6f);
  BOOST_TEST(lr(0.0, 0) == 0.1f, near);   // warm-up starts at lr0 / 10
  BOOST_TEST(lr(0.5, 0) == 0.55f, near);  // linear rise
  BOOST_TEST(lr(1.0, 0) == 1.0f, near);   // the peak, then the cosine
  BOOST_TEST(lr(2.5, 0) == 0.5f, near);   // halfway down
  BOOST_TEST(lr(4.0, 0) == 0.0f, near);
  BOOST_TEST(lr(9.0, 0) == 0.0f, near);  // past the end it stays at min_lr
  const auto no_warmup = sq::schedules::warmup_cosine(2.0f, 2.0, 0.5f);
  BOOST_TEST(no_warmup(0.0, 0) == 2.0f, near);
  BOOST_TEST(no_warmup(1.0, 0) == 1.25f, near);
  BOOST_CHECK_THROW(sq::schedules::warmup_cosine(1.0f, 0.0), std::exception);
  BOOST_CHECK_THROW(sq::schedules::warmup_cosine(1.0f, 2.0, 0.0f, 2.0),
                    std::exception);
}

// The step scheduler runs before every batch with the epochs done so far,
// and the rate it returns is the one that step trains with: a rate of 0
// through epoch 1 leaves the weights as they were.
BOOST_AUTO_TEST_CASE(step_scheduler_sets_the_rate_of_every_step) {
  Regressor m{sq::Seed{3}};
  const auto before = params_of(m);
  std::vector<double> seen;
  sq::StepLearningRateScheduler sched([&](double progress, float) {
    seen.push_back(progress);
    return progress < 1.0 ? 0.0f : 0.01f * static_cast<float>(seen.size());
  });
  Snapshot snap;
  const auto h = m.fit(line_data(64, 1), sq::SGD{.lr = 1.0f},
                       {.epochs = 2,
                        .batch_size = 16,
                        .verbose = sq::Verbosity::kSilent,
                        .callbacks = {&sched, &snap}});
  const std::vector<double> expected{0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75};
  BOOST_TEST(seen == expected, boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(snap.weights.size(), 2u);
  BOOST_TEST(snap.weights[0] == before);
  BOOST_TEST(snap.weights[1] != before);
  // An epoch records the rate of its last step.
  BOOST_TEST(h.epochs[0].learning_rate == 0.0);
  BOOST_TEST(h.epochs[1].learning_rate == 0.08,
             boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(reduce_lr_on_plateau_waits_patience_then_cuts) {
  sq::ReduceLROnPlateau plateau({.factor = 0.5, .patience = 2});
  FakeControl c;
  c.learning_rate = 1.0f;
  // Best at 2; 3 and 4 are worse: cut after 4; 5 worse (wait 1), 6 better.
  BOOST_TEST(feed(plateau, c, "val_loss", {1.0, 0.9, 0.95, 0.96, 0.97, 0.5}) ==
             6);
  BOOST_TEST(plateau.reduced_after() == std::vector<int>{4});
  BOOST_TEST(c.learning_rate == 0.5f);
  // Patience 0 cuts at every epoch that does not improve; a NaN is one.
  sq::ReduceLROnPlateau eager({.factor = 0.5, .patience = 0});
  c.learning_rate = 1.0f;
  feed(eager, c, "val_loss", {1.0, NAN, 0.5, 0.6});
  BOOST_TEST(eager.reduced_after() == (std::vector<int>{2, 4}));
  BOOST_TEST(c.learning_rate == 0.25f);
}

BOOST_AUTO_TEST_CASE(reduce_lr_on_plateau_cooldown_min_lr_and_mode) {
  // Patience 1 and a cooldown of 2 on a flat metric: a cut every other
  // epoch (the two epochs after a cut do not count), down to min_lr, and
  // no further once there.
  sq::ReduceLROnPlateau plateau({.monitor = "val_accuracy",
                                 .patience = 1,
                                 .cooldown = 2,
                                 .min_lr = 0.005});
  FakeControl c;
  c.learning_rate = 1.0f;
  feed(plateau, c, "val_accuracy", {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5});
  BOOST_TEST(plateau.reduced_after() == (std::vector<int>{2, 4, 6}));
  BOOST_TEST(c.learning_rate == 0.005f);
  // Accuracy goes up: rising values are improvements, not a plateau...
  sq::ReduceLROnPlateau up({.monitor = "val_accuracy", .patience = 1});
  c.learning_rate = 1.0f;
  feed(up, c, "val_accuracy", {0.5, 0.6, 0.7});
  BOOST_TEST(up.reduced_after().empty());
  // ...unless the mode says lower is better; and rises of less than
  // min_delta are not improvements.
  sq::ReduceLROnPlateau down({.monitor = "val_accuracy",
                              .patience = 1,
                              .mode = sq::MonitorMode::kMin});
  feed(down, c, "val_accuracy", {0.5, 0.6, 0.7});
  BOOST_TEST(down.reduced_after() == (std::vector<int>{2, 3}));
  sq::ReduceLROnPlateau small(
      {.monitor = "val_accuracy", .patience = 1, .min_delta = 0.2});
  feed(small, c, "val_accuracy", {0.5, 0.6, 0.7});
  BOOST_TEST(small.reduced_after() == (std::vector<int>{2, 3}));
}

BOOST_AUTO_TEST_CASE(reduce_lr_on_plateau_refuses_bad_options) {
  for (const double factor : {0.0, 1.0, 2.0, -0.5, double(NAN)}) {
    BOOST_CHECK_EXCEPTION(
        sq::ReduceLROnPlateau({.factor = factor}), std::invalid_argument,
        [](const std::exception& e) {
          return std::string(e.what()).find("factor must be in (0, 1)") !=
                 std::string::npos;
        });
  }
  BOOST_CHECK_THROW(sq::ReduceLROnPlateau({.patience = -1}),
                    std::invalid_argument);
  BOOST_CHECK_THROW(sq::ReduceLROnPlateau({.cooldown = -1}),
                    std::invalid_argument);
  BOOST_CHECK_THROW(sq::ReduceLROnPlateau({.min_lr = -1e-3}),
                    std::invalid_argument);
  BOOST_CHECK_THROW(sq::ReduceLROnPlateau({.monitor = "val_los"}),
                    std::invalid_argument);
  // val_loss without validation data: refused when training begins.
  sq::ReduceLROnPlateau plateau;
  FakeControl c;
  c.validated = false;
  BOOST_CHECK_EXCEPTION(plateau.on_train_begin(c), std::invalid_argument,
                        [](const std::exception& e) {
                          return std::string(e.what()).find(
                                     "no validation data") != std::string::npos;
                        });
}

// In fit the cut rate is the one the next epoch trains with.
BOOST_AUTO_TEST_CASE(reduce_lr_on_plateau_sets_the_next_epochs_rate) {
  Regressor m;
  // The first epoch beats the initial infinity; no later one beats the best
  // by 1e9: a cut after every epoch from the second on.
  sq::ReduceLROnPlateau plateau(
      {.monitor = "loss", .factor = 0.5, .patience = 0, .min_delta = 1e9});
  const auto h = m.fit(line_data(64, 1), sq::SGD{.lr = 0.2f},
                       {.epochs = 4,
                        .verbose = sq::Verbosity::kSilent,
                        .callbacks = {&plateau}});
  const std::vector<double> lrs{0.2, 0.2, 0.1, 0.05};
  for (std::size_t i = 0; i < 4; ++i) {
    BOOST_TEST(h.epochs[i].learning_rate == lrs[i],
               boost::test_tools::tolerance(1e-6));
  }
  BOOST_TEST(plateau.reduced_after() == (std::vector<int>{2, 3, 4}));
}

BOOST_AUTO_TEST_CASE(terminate_on_nan_watches_validation) {
  Regressor m;
  // Targets whose squared error overflows (a dataset refuses NaN itself).
  std::vector<float> x{1, 2}, y{3e38f, -3e38f};
  const sq::data::FloatDataset bad_val(x, 1, y, 1);
  sq::TerminateOnNaN guard;
  const auto before =
      std::vector<float>(m.parameters().begin(), m.parameters().end());
  BOOST_CHECK_EXCEPTION(m.fit(line_data(64, 1), sq::SGD{.lr = 0.1f},
                              {.epochs = 3,
                               .validation = &bad_val,
                               .verbose = sq::Verbosity::kSilent,
                               .callbacks = {&guard}}),
                        sq::NonFiniteLoss, [](const sq::NonFiniteLoss& e) {
                          return std::string(e.what()).find("val_loss") !=
                                 std::string::npos;
                        });
  // Epoch 1 never finished well: the weights are those before fit.
  BOOST_TEST(std::equal(before.begin(), before.end(), m.parameters().begin()));
}

// A divergence at epoch 3, as a learning rate that jumps would cause: the
// training loss of the epoch's single step is still finite (it is measured
// before the update), but the validation loss of the weights after it
// overflows. TerminateOnNaN stops fit and the weights are those at the end
// of epoch 2, the last good one.
BOOST_AUTO_TEST_CASE(terminate_on_nan_at_epoch_3_restores_epoch_2) {
  Regressor m{sq::Seed{1}};
  // |w| < 2 after two epochs keeps (w · 1e15)² below FLT_MAX; after the
  // jump |w| is about 1e5 and it overflows.
  std::vector<float> x{1e15f}, y{0.0f};
  const sq::data::FloatDataset far_val(x, 1, y, 1);
  sq::LearningRateScheduler jump(
      [](int epoch, float) { return epoch < 3 ? 0.1f : 1e6f; });
  Snapshot snap;
  sq::TerminateOnNaN guard;
  BOOST_CHECK_EXCEPTION(m.fit(line_data(64, 1), sq::SGD{.lr = 0.1f},
                              {.epochs = 6,
                               .batch_size = 64,
                               .validation = &far_val,
                               .verbose = sq::Verbosity::kSilent,
                               .callbacks = {&jump, &snap, &guard}}),
                        sq::NonFiniteLoss, [](const sq::NonFiniteLoss& e) {
                          const std::string what = e.what();
                          return what.find("val_loss") != std::string::npos &&
                                 what.find("epoch 3") != std::string::npos;
                        });
  BOOST_REQUIRE_EQUAL(snap.weights.size(), 3u);  // epoch 3 ended, badly
  BOOST_TEST(snap.weights[1] != snap.weights[2]);
  BOOST_TEST(params_of(m) == snap.weights[1]);
  BOOST_TEST(m.epochs_done() == 2);
  for (float v : params_of(m)) BOOST_TEST(std::isfinite(v));
  // The step count is that of epoch 2's end too (one step an epoch): it
  // seeds train_step and goes into checkpoints.
  TempDir dir;
  m.save_checkpoint(dir.path() / "after.sqm");
  BOOST_TEST(
      sq::io::read_model_file(dir.path() / "after.sqm").training.train_steps ==
      2u);
}

// The same when the training loss itself overflows in a later epoch: fit
// stops at that step and puts back the end of the previous epoch.
BOOST_AUTO_TEST_CASE(non_finite_training_loss_at_epoch_3_restores_epoch_2) {
  Regressor m{sq::Seed{1}};
  sq::LearningRateScheduler jump(
      [](int epoch, float) { return epoch < 3 ? 0.1f : 1e12f; });
  Snapshot snap;
  BOOST_CHECK_EXCEPTION(m.fit(line_data(64, 1), sq::SGD{.lr = 0.1f},
                              {.epochs = 6,
                               .batch_size = 8,
                               .verbose = sq::Verbosity::kSilent,
                               .callbacks = {&jump, &snap}}),
                        sq::NonFiniteLoss, [](const sq::NonFiniteLoss& e) {
                          const std::string what = e.what();
                          return what.find("epoch 3") != std::string::npos &&
                                 what.find("end of epoch 2") !=
                                     std::string::npos;
                        });
  BOOST_REQUIRE_EQUAL(snap.weights.size(), 2u);
  BOOST_TEST(params_of(m) == snap.weights[1]);
  BOOST_TEST(m.epochs_done() == 2);
}
