// Per-epoch precision, recall and F1 in the History (fit's .metrics), on
// hand-computed cases: a model whose weights are set by hand so that every
// prediction is known, trained with a learning rate of 0 so that it stays
// so. Also how History, CSVLogger, the progress line and the callbacks'
// monitor see those metrics.
#define BOOST_TEST_MODULE history
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sequent/sequent.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace sq = sequent;
namespace fs = std::filesystem;
namespace tt = boost::test_tools;

namespace {

// Three inputs, three classes, identity weights and zero biases: the
// predicted class is the brightest pixel.
using Net = sq::Sequential<sq::Input<3>, sq::Dense<3>, sq::Softmax>;
using Model = sq::Model<Net, sq::SparseCategoricalCrossentropy>;

void make_argmax(Model& m) {
  m.set_weights(0, {{1, 0, 0, 0, 1, 0, 0, 0, 1}, {0, 0, 0}});
}

// One 1×3 image per sample whose pixel `predicted[i]` is bright.
sq::data::Dataset samples(const std::vector<int>& truth,
                          const std::vector<int>& predicted) {
  std::vector<std::uint8_t> px;
  for (int p : predicted) {
    for (int c = 0; c < 3; ++c) px.push_back(c == p ? 200 : 10);
  }
  return {std::move(px),
          {1, 3, 1},
          {truth.begin(), truth.end()},
          {"zero", "one", "two"},
          "hand-made"};
}

// Training set, truth → predicted:
//   class 0: 0→0, 0→1;  class 1: 1→1, 1→1;  class 2: 2→0, 2→2
//   precision 1/2, 2/3, 1;  recall 1/2, 1, 1/2;  F1 1/2, 4/5, 2/3
const auto kTrain = samples({0, 0, 1, 1, 2, 2}, {0, 1, 1, 1, 0, 2});
constexpr double kTrainPrecision = (0.5 + 2.0 / 3 + 1.0) / 3;  // 0.7222
constexpr double kTrainRecall = (0.5 + 1.0 + 0.5) / 3;         // 0.6667
constexpr double kTrainF1 = (0.5 + 0.8 + 2.0 / 3) / 3;         // 0.6556
// Validation set: 0→0, 1→0, 2→1, 2→1. Class 2 is never predicted, so its
// precision is 0 (zero division, as scikit-learn); classes 1 and 2 have no
// true positive.
//   precision 1/2, 0, 0;  recall 1, 0, 0;  F1 2/3, 0, 0
const auto kVal = samples({0, 1, 2, 2}, {0, 0, 1, 1});
constexpr double kValPrecision = 0.5 / 3;
constexpr double kValRecall = 1.0 / 3;
constexpr double kValF1 = (2.0 / 3) / 3;

sq::FitOptions options(std::vector<sq::Metric> metrics) {
  return {.epochs = 2,
          .batch_size = 4,  // a full batch and a partial one
          .validation = &kVal,
          .verbose = sq::Verbosity::kSilent,
          .metrics = std::move(metrics)};
}

}  // namespace

BOOST_AUTO_TEST_CASE(precision_recall_f1_of_train_and_validation) {
  Model m;
  make_argmax(m);
  const auto h = m.fit(
      kTrain, sq::SGD{.lr = 0.0f},
      options({sq::Metric::kPrecision, sq::Metric::kRecall, sq::Metric::kF1}));
  BOOST_REQUIRE_EQUAL(h.epochs.size(), 2u);
  for (const auto& e : h.epochs) {
    BOOST_TEST_CONTEXT("epoch " << e.epoch) {
      BOOST_TEST(e.accuracy == 4.0 / 6, tt::tolerance(1e-12));
      BOOST_TEST(e.precision == kTrainPrecision, tt::tolerance(1e-12));
      BOOST_TEST(e.recall == kTrainRecall, tt::tolerance(1e-12));
      BOOST_TEST(e.f1 == kTrainF1, tt::tolerance(1e-12));
      BOOST_TEST(e.val_accuracy == 0.25, tt::tolerance(1e-12));
      BOOST_TEST(e.val_precision == kValPrecision, tt::tolerance(1e-12));
      BOOST_TEST(e.val_recall == kValRecall, tt::tolerance(1e-12));
      BOOST_TEST(e.val_f1 == kValF1, tt::tolerance(1e-12));
    }
  }
  // The same numbers as classification_report's macro average.
  const auto pred = m.predict(kVal);
  const auto report = sq::metrics::scores(
      sq::metrics::confusion_matrix(pred.labels, kVal.labels(), 3), {});
  BOOST_TEST(h.last().val_precision == report.macro_avg.precision);
  BOOST_TEST(h.last().val_recall == report.macro_avg.recall);
  BOOST_TEST(h.last().val_f1 == report.macro_avg.f1);
  const auto val_precision = h.series("val_precision");
  const auto recall = h.series("recall");
  BOOST_REQUIRE_EQUAL(val_precision.size(), 2u);
  BOOST_REQUIRE_EQUAL(recall.size(), 2u);
  for (std::size_t e = 0; e < 2; ++e) {
    BOOST_TEST(val_precision[e] == kValPrecision, tt::tolerance(1e-12));
    BOOST_TEST(recall[e] == kTrainRecall, tt::tolerance(1e-12));
  }
}

// Only what was asked for is measured; the rest stays NaN and out of the
// tables.
BOOST_AUTO_TEST_CASE(only_the_requested_metrics_are_recorded) {
  Model m;
  make_argmax(m);
  const auto h =
      m.fit(kTrain, sq::SGD{.lr = 0.0f}, options({sq::Metric::kRecall}));
  BOOST_TEST(h.last().recall == kTrainRecall, tt::tolerance(1e-12));
  BOOST_TEST(h.last().val_recall == kValRecall, tt::tolerance(1e-12));
  BOOST_TEST(std::isnan(h.last().precision));
  BOOST_TEST(std::isnan(h.last().val_f1));
  BOOST_TEST(
      h.to_csv().rfind("epoch,loss,accuracy,recall,val_loss,val_accuracy,"
                       "val_recall,seconds,lr\n",
                       0) == 0u);
  BOOST_TEST(h.to_csv().find("precision") == std::string::npos);

  // Without .metrics: the tables of before.
  const auto plain = m.fit(kTrain, sq::SGD{.lr = 0.0f}, options({}));
  BOOST_TEST(std::isnan(plain.last().recall));
  BOOST_TEST(plain.to_csv().rfind(
                 "epoch,loss,accuracy,val_loss,val_accuracy,seconds,lr\n", 0) ==
             0u);
  BOOST_TEST(plain.to_string().rfind(
                 "epoch       loss   accuracy   val_loss  val_accuracy  "
                 "seconds         lr\n",
                 0) == 0u);
}

// One-hot float targets with a classification loss: the true class is the
// target's argmax. A regression loss has no classes to count.
BOOST_AUTO_TEST_CASE(metrics_from_one_hot_targets_and_refused_for_regression) {
  auto floats = [](const sq::data::Dataset& d) {
    std::vector<float> x, y;
    for (std::size_t i = 0; i < d.size(); ++i) {
      for (std::uint8_t v : d.image(i)) x.push_back(v / 255.0f);
      for (int c = 0; c < 3; ++c) y.push_back(c == d.labels()[i] ? 1.0f : 0.0f);
    }
    return sq::data::FloatDataset(x, 3, y, 3);
  };
  const auto train = floats(kTrain), val = floats(kVal);
  sq::Model<Net, sq::CategoricalCrossentropy> m;
  m.set_weights(0, {{1, 0, 0, 0, 1, 0, 0, 0, 1}, {0, 0, 0}});
  const auto h = m.fit(train, sq::SGD{.lr = 0.0f},
                       {.epochs = 1,
                        .batch_size = 4,
                        .validation = &val,
                        .verbose = sq::Verbosity::kSilent,
                        .metrics = {sq::Metric::kPrecision, sq::Metric::kF1}});
  BOOST_TEST(h.last().precision == kTrainPrecision, tt::tolerance(1e-12));
  BOOST_TEST(h.last().val_f1 == kValF1, tt::tolerance(1e-12));

  sq::Model<Net, sq::MeanSquaredError> regression;
  BOOST_CHECK_THROW(regression.fit(train, sq::SGD{},
                                   {.verbose = sq::Verbosity::kSilent,
                                    .metrics = {sq::Metric::kPrecision}}),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(tables_csv_logger_and_progress_lines_show_them) {
  const fs::path csv_path =
      fs::temp_directory_path() /
      ("sequent-history-" + std::to_string(getpid()) + ".csv");
  Model m;
  make_argmax(m);
  sq::CSVLogger csv(csv_path);
  std::ostringstream log;
  auto o =
      options({sq::Metric::kPrecision, sq::Metric::kRecall, sq::Metric::kF1});
  o.verbose = sq::Verbosity::kLines;
  o.log = &log;
  o.callbacks = {&csv};
  const auto h = m.fit(kTrain, sq::SGD{.lr = 0.0f}, o);

  const std::string header =
      "epoch,loss,accuracy,precision,recall,f1,val_loss,val_accuracy,"
      "val_precision,val_recall,val_f1";
  BOOST_TEST(h.to_csv().rfind(header + ",seconds,lr\n", 0) == 0u);
  BOOST_TEST(h.to_csv().find(",0.722222,0.666667,0.655556,") !=
             std::string::npos);
  BOOST_TEST(h.to_csv().find(",0.166667,0.333333,0.222222,") !=
             std::string::npos);
  BOOST_TEST(h.to_string().find("val_precision") != std::string::npos);
  BOOST_TEST(h.to_string().find("0.7222") != std::string::npos);

  std::ifstream in(csv_path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  fs::remove(csv_path);
  BOOST_REQUIRE_EQUAL(lines.size(), 3u);
  BOOST_TEST(lines[0] == header + ",seconds,lr");
  BOOST_TEST(lines[2].find(",0.722222,0.666667,0.655556,") !=
             std::string::npos);

  const std::string text = log.str();
  BOOST_TEST(text.find("precision: 0.7222 - recall: 0.6667 - f1: 0.6556") !=
             std::string::npos);
  BOOST_TEST(text.find("val_precision: 0.1667 - val_recall: 0.3333 - "
                       "val_f1: 0.2222") != std::string::npos);
}

// EarlyStopping and ModelCheckpoint monitor the new names, upwards; a name
// the fit does not measure is an error that says how to measure it.
BOOST_AUTO_TEST_CASE(callbacks_monitor_precision_and_recall) {
  Model m;
  make_argmax(m);
  sq::EarlyStopping early({.monitor = "val_recall", .patience = 1});
  auto o = options({sq::Metric::kRecall});
  o.epochs = 5;
  o.callbacks = {&early};
  const auto h = m.fit(kTrain, sq::SGD{.lr = 0.0f}, o);
  // Constant val_recall: epoch 1 is the best, epoch 2 does not improve.
  BOOST_TEST(h.epochs.size() == 2u);
  BOOST_TEST(early.best_epoch() == 1);

  sq::EarlyStopping unmeasured({.monitor = "val_precision"});
  o.callbacks = {&unmeasured};
  BOOST_CHECK_EXCEPTION(
      m.fit(kTrain, sq::SGD{.lr = 0.0f}, o), std::invalid_argument,
      [](const std::invalid_argument& e) {
        return std::string(e.what()).find(".metrics") != std::string::npos;
      });
  sq::ModelCheckpoint ck(
      {.path = "unused.sqm", .monitor = "f1", .save_best_only = true});
  o.callbacks = {&ck};
  BOOST_CHECK_THROW(m.fit(kTrain, sq::SGD{.lr = 0.0f}, o),
                    std::invalid_argument);
  BOOST_TEST(!fs::exists("unused.sqm"));
}

// A regression's table: no accuracy columns (never measured), a loss too
// small for 4 decimals in scientific notation, the learning rate at the end.
BOOST_AUTO_TEST_CASE(regression_tables_show_what_was_measured) {
  sq::History h;
  sq::EpochRecord e;
  e.epoch = 1;
  e.loss = 8.123e-14;
  e.seconds = 0.5;
  e.learning_rate = 0.01;
  h.epochs.push_back(e);
  e.epoch = 2;
  e.loss = 0.25;
  h.epochs.push_back(e);
  const std::string table = h.to_string();
  BOOST_TEST_MESSAGE(table);
  BOOST_TEST(table.find("accuracy") == std::string::npos);
  BOOST_TEST(table.find("val_") == std::string::npos);
  BOOST_TEST(table.find("8.123e-14") != std::string::npos);
  BOOST_TEST(table.find("0.2500") != std::string::npos);
  BOOST_TEST(table.find("lr\n") != std::string::npos);
  BOOST_TEST(table.find("0.0100\n") != std::string::npos);
  // The CSV keeps every column, as CSVLogger writes them.
  BOOST_TEST(h.to_csv().rfind(
                 "epoch,loss,accuracy,val_loss,val_accuracy,seconds,lr\n", 0) ==
             0u);
  BOOST_TEST(sq::format_metric(0.0) == "0.0000");
  BOOST_TEST(sq::format_metric(-2e-5) == "-2.000e-05");
  BOOST_TEST(sq::format_metric(NAN) == "-");
  BOOST_TEST(sq::format_csv(2e-7) == "2.000000e-07");
  BOOST_TEST(sq::format_csv(0.1) == "0.100000");
  BOOST_TEST(h.to_csv().find(",8.123000e-14,") != std::string::npos);
}
