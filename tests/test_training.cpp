// The single-neuron workloads: one Dense<1> learns y = 3·x and y = a + b to
// within 0.01 of the true weights, as examples/neuron_regression.cpp does.
#define BOOST_TEST_MODULE training
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <sequent/sequent.hpp>
#include <sstream>
#include <vector>

namespace sq = sequent;

namespace {

sq::data::FloatDataset linear_data(std::size_t n, const std::vector<float>& w,
                                   float b, std::uint64_t seed) {
  sq::Rng rng(seed);
  std::vector<float> x(n * w.size()), y(n, b);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < w.size(); ++j) {
      x[i * w.size() + j] = rng.uniform(-1.0f, 1.0f);
      y[i] += w[j] * x[i * w.size() + j];
    }
  }
  return {std::move(x), w.size(), std::move(y), 1};
}

template <class Model>
void check_learned(Model& m, const std::vector<float>& w, float b) {
  const auto learned = m.get_weights(0);
  for (std::size_t j = 0; j < w.size(); ++j) {
    BOOST_TEST(std::fabs(learned[0][j] - w[j]) < 0.01f,
               "w" << j << " learned " << learned[0][j] << ", true " << w[j]);
  }
  BOOST_TEST(std::fabs(learned[1][0] - b) < 0.01f,
             "b learned " << learned[1][0] << ", true " << b);
}

const sq::FloatFitOptions kOptions{
    .epochs = 40, .batch_size = 16, .verbose = sq::Verbosity::kSilent};

}  // namespace

BOOST_AUTO_TEST_CASE(neuron_learns_multiplication) {
  sq::Model<sq::Sequential<sq::Input<1>, sq::Dense<1>>, sq::MeanSquaredError> m{
      sq::Seed{1}};
  m.fit(linear_data(1000, {3.0f}, 0.0f, 11), sq::SGD{.lr = 0.1f}, kOptions);
  check_learned(m, {3.0f}, 0.0f);
  BOOST_TEST(m.predict(std::vector<float>{2.5f})[0] == 7.5f,
             boost::test_tools::tolerance(0.01f));
}

// A nonzero bias, so that check_learned's bias check can fail.
BOOST_AUTO_TEST_CASE(neuron_learns_an_affine_map) {
  sq::Model<sq::Sequential<sq::Input<1>, sq::Dense<1>>, sq::MeanSquaredError> m{
      sq::Seed{4}};
  m.fit(linear_data(1000, {3.0f}, 2.0f, 14), sq::SGD{.lr = 0.1f}, kOptions);
  check_learned(m, {3.0f}, 2.0f);
  BOOST_TEST(m.predict(std::vector<float>{-1.5f})[0] == -2.5f,
             boost::test_tools::tolerance(0.01f));
}

BOOST_AUTO_TEST_CASE(neuron_learns_addition) {
  sq::Model<sq::Sequential<sq::Input<2>, sq::Dense<1>>, sq::MeanSquaredError> m{
      sq::Seed{2}};
  m.fit(linear_data(1000, {1.0f, 1.0f}, 0.0f, 12), sq::SGD{.lr = 0.1f},
        kOptions);
  check_learned(m, {1.0f, 1.0f}, 0.0f);
}

BOOST_AUTO_TEST_CASE(neuron_learns_with_adam_and_mae) {
  sq::Model<sq::Sequential<sq::Input<2>, sq::Dense<1>>, sq::MeanAbsoluteError>
      m{sq::Seed{3}};
  m.fit(linear_data(2000, {2.0f, -1.0f}, 0.5f, 13), sq::Adam{.lr = 1e-2f},
        {.epochs = 30, .batch_size = 16, .verbose = sq::Verbosity::kSilent});
  check_learned(m, {2.0f, -1.0f}, 0.5f);
}

BOOST_AUTO_TEST_CASE(history_reports_every_epoch) {
  sq::Model<sq::Sequential<sq::Input<1>, sq::Dense<1>>, sq::MeanSquaredError> m{
      sq::Seed{1}};
  const auto train = linear_data(200, {3.0f}, 0.0f, 1);
  const auto val = linear_data(50, {3.0f}, 0.0f, 2);
  std::ostringstream log;
  const auto h = m.fit(train, sq::SGD{.lr = 0.1f},
                       {.epochs = 3,
                        .validation = &val,
                        .verbose = sq::Verbosity::kLines,
                        .log = &log});
  BOOST_REQUIRE_EQUAL(h.epochs.size(), 3u);
  for (const auto& e : h.epochs) {
    BOOST_TEST(std::isfinite(e.loss));
    BOOST_TEST(std::isfinite(e.val_loss));
    BOOST_TEST(std::isnan(e.accuracy));  // regression: no accuracy
    BOOST_TEST(e.seconds >= 0.0);
  }
  BOOST_TEST(h.series("val_loss").size() == 3u);
  BOOST_CHECK_THROW(h.series("auc"), std::invalid_argument);
  BOOST_TEST(std::isnan(h.series("precision")[0]));  // not asked for
  // One plain line per epoch when not on a terminal.
  const std::string text = log.str();
  BOOST_TEST(std::count(text.begin(), text.end(), '\n') == 3);
  BOOST_TEST(text.find("epoch 3/3") != std::string::npos);
  BOOST_TEST(text.find("val_loss:") != std::string::npos);
  BOOST_TEST(h.to_csv().find("epoch,loss,accuracy,val_loss") == 0u);
}
