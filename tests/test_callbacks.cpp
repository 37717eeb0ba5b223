// fit's callbacks: CSVLogger, EarlyStopping, ModelCheckpoint,
// LearningRateScheduler with the step and cosine schedules, TerminateOnNaN.
#define BOOST_TEST_MODULE callbacks
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sequent/sequent.hpp>
#include <sstream>

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

struct TempDir {
  fs::path path = fs::temp_directory_path() /
                  ("sequent-callbacks-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

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
  void on_epoch_end(const sq::EpochRecord& r,
                    sq::TrainingControl& c) override {
    events.push_back("end " + std::to_string(r.epoch));
    if (r.epoch == stop_at) c.stop();
  }
  void on_train_end(sq::TrainingControl&) override { events.push_back("done"); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(callbacks_are_called_in_order_and_can_stop) {
  Regressor m;
  Recorder rec;
  rec.stop_at = 2;
  const auto h = m.fit(line_data(64, 1), sq::SGD{.lr = 0.1f},
                       {.epochs = 5, .verbose = sq::Verbosity::kSilent,
                        .callbacks = {&rec}});
  BOOST_TEST(h.epochs.size() == 2u);
  const std::vector<std::string> expected{"begin", "epoch 1", "end 1",
                                          "epoch 2", "end 2", "done"};
  BOOST_TEST(rec.events == expected);
}

BOOST_AUTO_TEST_CASE(csv_logger_writes_a_line_per_epoch) {
  TempDir dir;
  Regressor m;
  sq::CSVLogger csv(dir.path / "log.csv");
  const auto val = line_data(32, 2);
  m.fit(line_data(64, 1), sq::SGD{.lr = 0.1f},
        {.epochs = 3, .validation = &val, .verbose = sq::Verbosity::kSilent,
         .callbacks = {&csv}});
  std::ifstream in(dir.path / "log.csv");
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  BOOST_REQUIRE_EQUAL(lines.size(), 4u);
  BOOST_TEST(lines[0] == "epoch,loss,accuracy,val_loss,val_accuracy,seconds,lr");
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
  sq::EarlyStopping early({.monitor = "val_loss",
                           .patience = 1,
                           .restore_best_weights = true});
  struct Snapshot : sq::Callback {
    std::vector<std::vector<float>> weights;
    void on_epoch_end(const sq::EpochRecord&, sq::TrainingControl& c) override {
      weights.emplace_back(c.parameters().begin(), c.parameters().end());
    }
  } snap;
  const auto h = m.fit(line_data(64, 1), sq::SGD{.lr = 0.05f},
                       {.epochs = 30, .batch_size = 64, .validation = &val,
                        .verbose = sq::Verbosity::kSilent,
                        .callbacks = {&snap, &early}});
  BOOST_TEST(early.best_epoch() == 1);
  BOOST_TEST(early.stopped_epoch() > 0);
  BOOST_TEST(h.epochs.size() == std::size_t(early.stopped_epoch()));
  BOOST_TEST(early.stopped_epoch() == early.best_epoch() + 2);
  // The weights are those of the best epoch.
  const auto& best = snap.weights[early.best_epoch() - 1];
  BOOST_TEST(std::equal(best.begin(), best.end(), m.parameters().begin()));
  // Monitoring a metric that is not reported is an error, not a silent no-op.
  sq::EarlyStopping on_val({.monitor = "val_loss"});
  BOOST_CHECK_THROW(m.fit(line_data(8, 1), sq::SGD{},
                          {.verbose = sq::Verbosity::kSilent,
                           .callbacks = {&on_val}}),
                    std::invalid_argument);
  BOOST_CHECK_THROW(sq::EarlyStopping({.monitor = "precision"}),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(model_checkpoint_every_epoch_and_best_only) {
  TempDir dir;
  Regressor m;
  const auto val = line_data(32, 2);
  sq::ModelCheckpoint every({.path = dir.path / "e{epoch}.sqm"});
  sq::ModelCheckpoint best({.path = dir.path / "best.sqm",
                            .monitor = "val_loss",
                            .save_best_only = true});
  m.fit(line_data(64, 1), sq::SGD{.lr = 0.1f},
        {.epochs = 3, .validation = &val, .verbose = sq::Verbosity::kSilent,
         .callbacks = {&every, &best}});
  BOOST_TEST(every.written().size() == 3u);
  for (int e = 1; e <= 3; ++e) {
    BOOST_TEST(fs::exists(dir.path / ("e" + std::to_string(e) + ".sqm")));
  }
  BOOST_TEST(best.written().size() >= 1u);
  // The best file holds the final weights here (the loss only falls).
  auto loaded = Regressor::load(dir.path / "best.sqm");
  BOOST_TEST(std::equal(loaded.parameters().begin(), loaded.parameters().end(),
                        m.parameters().begin()));
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
  const auto h = m.fit(line_data(64, 1), sq::SGD{.lr = 1.0f},
                       {.epochs = 4, .verbose = sq::Verbosity::kSilent,
                        .callbacks = {&sched}});
  const std::vector<double> lrs{0.1, 0.1, 0.05, 0.05};
  for (std::size_t i = 0; i < 4; ++i) {
    BOOST_TEST(h.epochs[i].learning_rate == lrs[i],
               boost::test_tools::tolerance(1e-6));
  }
}

BOOST_AUTO_TEST_CASE(terminate_on_nan_watches_validation) {
  Regressor m;
  std::vector<float> x{1, 2}, y{NAN, NAN};
  const sq::data::FloatDataset bad_val(x, 1, y, 1);
  sq::TerminateOnNaN guard;
  const auto before =
      std::vector<float>(m.parameters().begin(), m.parameters().end());
  BOOST_CHECK_EXCEPTION(
      m.fit(line_data(64, 1), sq::SGD{.lr = 0.1f},
            {.epochs = 3, .validation = &bad_val,
             .verbose = sq::Verbosity::kSilent, .callbacks = {&guard}}),
      sq::NonFiniteLoss, [](const sq::NonFiniteLoss& e) {
        return std::string(e.what()).find("val_loss") != std::string::npos;
      });
  // Epoch 1 never finished well: the weights are those before fit.
  BOOST_TEST(std::equal(before.begin(), before.end(), m.parameters().begin()));
}
