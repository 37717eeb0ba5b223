// The preprocessing layers: Rescaling and Normalization forward against
// naive loops and backward against their (linear) derivatives, and
// Model::adapt's statistics on images and on float features, through
// training, prediction and model files.
#define BOOST_TEST_MODULE preprocessing
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <sequent/sequent.hpp>
#include <vector>

#include "error_message.hpp"
#include "quadrants.hpp"
#include "random_values.hpp"
#include "temp_dir.hpp"

namespace sq = sequent;
using sq::test::message_has;
using sq::test::random_vector;

namespace {

// Runs L's forward and backward on one batch of In-shaped samples.
template <class L, class In>
struct Run {
  std::size_t batch;
  std::vector<float> state;
  std::vector<float> in = random_vector(batch * In::size, 7, 0.0f, 1.0f);

  std::vector<float> forward() {
    std::vector<float> out(in.size());
    L::template forward<In, In>({in.data(), out.data(), nullptr, nullptr, batch,
                                 true, 1, state.data()});
    return out;
  }
  std::vector<float> backward(std::vector<float> dout) {
    std::vector<float> din(dout.size(), -99.0f);
    L::template backward<In, In>({in.data(), nullptr, dout.data(), din.data(),
                                  nullptr, nullptr, nullptr, batch,
                                  state.data()});
    return din;
  }
  // backward's d(Σ out ⊙ R)/d(in) against central finite differences of
  // the forward pass, for every input.
  void check_finite_differences(float h, double tolerance) {
    const auto r = random_vector(in.size(), 5);
    const auto din = backward(r);
    const auto loss = [&] {
      const auto out = forward();
      double sum = 0;
      for (std::size_t i = 0; i < out.size(); ++i) sum += double(out[i]) * r[i];
      return sum;
    };
    for (std::size_t i = 0; i < in.size(); ++i) {
      const float saved = in[i];
      in[i] = saved + h;
      const double up = loss();
      in[i] = saved - h;
      const double down = loss();
      in[i] = saved;
      BOOST_TEST_REQUIRE(din[i] == (up - down) / (2.0 * h),
                         boost::test_tools::tolerance(tolerance));
    }
  }
};

// Images whose three channels have their own spread: red around 50, green
// uniform over 0–255, blue constant 200.
sq::data::Dataset three_channel_images(std::size_t n) {
  sq::Rng rng(3);
  std::vector<std::uint8_t> px;
  for (std::size_t i = 0; i < n * 4 * 4; ++i) {
    px.push_back(static_cast<std::uint8_t>(40 + rng.next() % 21));
    px.push_back(static_cast<std::uint8_t>(rng.next() % 256));
    px.push_back(200);
  }
  std::vector<std::int32_t> labels(n, 0);
  return {std::move(px), {4, 4, 3}, std::move(labels), {"x", "y"}, "rgb"};
}

using Standardize =
    sq::Sequential<sq::Input<4, 4, 3>, sq::Normalization<>, sq::Flatten>;

}  // namespace

BOOST_AUTO_TEST_CASE(rescaling_is_an_affine_map) {
  using In = sq::Shape<5, 7, 3>;
  using L = sq::Rescaling<2.0, -1.0>;
  Run<L, In> run{3};
  const auto out = run.forward();
  for (std::size_t i = 0; i < out.size(); ++i) {
    BOOST_TEST_REQUIRE(out[i] == 2.0f * run.in[i] - 1.0f);
  }
  const auto dout = random_vector(out.size(), 9);
  const auto din = run.backward(dout);
  for (std::size_t i = 0; i < din.size(); ++i) {
    BOOST_TEST_REQUIRE(din[i] == 2.0f * dout[i]);
  }
  BOOST_TEST(L::name() == "Rescaling<2, -1>");
}

BOOST_AUTO_TEST_CASE(normalization_standardises_each_channel) {
  using In = sq::Shape<3, 5, 3>;
  using L = sq::Normalization<>;
  // Means, then variances; the third channel is constant (variance 0).
  Run<L, In> run{2, {0.5f, -1.0f, 0.25f, 4.0f, 0.01f, 0.0f}};
  const float inv_std[3] = {0.5f, 10.0f, 1e7f};
  const float mean[3] = {0.5f, -1.0f, 0.25f};
  const auto out = run.forward();
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::size_t c = i % 3;
    const double expected = (double(run.in[i]) - mean[c]) * inv_std[c];
    BOOST_TEST_REQUIRE(out[i] == expected, boost::test_tools::tolerance(1e-4));
  }
  const auto dout = random_vector(out.size(), 9);
  const auto din = run.backward(dout);
  for (std::size_t i = 0; i < din.size(); ++i) {
    BOOST_TEST_REQUIRE(din[i] == dout[i] * inv_std[i % 3],
                       boost::test_tools::tolerance(1e-6f));
  }
  // Fresh state is the identity.
  std::vector<float> fresh(6);
  L::initialize_state<In>(fresh.data());
  run.state = fresh;
  const auto same = run.forward();
  for (std::size_t i = 0; i < same.size(); ++i) {
    BOOST_TEST_REQUIRE(same[i] == run.in[i]);
  }
}

BOOST_AUTO_TEST_CASE(gradients_match_finite_differences) {
  using In = sq::Shape<3, 4, 3>;
  Run<sq::Rescaling<2.0, -1.0>, In>{2}.check_finite_differences(1e-2f, 1e-3);
  Run<sq::Rescaling<-0.25, 3.0>, In>{3}.check_finite_differences(1e-2f, 1e-3);
  Run<sq::Normalization<>, In>{2, {0.5f, -1.0f, 0.25f, 4.0f, 0.09f, 1.5f}}
      .check_finite_differences(1e-2f, 1e-3);
  // A rank-1 input: one statistic per feature.
  Run<sq::Normalization<>, sq::Shape<4>>{3, {1, 2, 3, 4, 0.5f, 2, 0.25f, 8}}
      .check_finite_differences(1e-2f, 1e-3);
}

BOOST_AUTO_TEST_CASE(adapt_learns_the_channel_statistics_of_images) {
  const auto data = three_channel_images(300);
  // The same statistics in double, from the pixels as batches see them.
  double sum[3] = {}, squares[3] = {};
  const auto px = data.images().pixels;
  for (std::size_t i = 0; i < px.size(); ++i) sum[i % 3] += px[i] / 255.0;
  const double positions = double(px.size() / 3);
  for (double& s : sum) s /= positions;
  for (std::size_t i = 0; i < px.size(); ++i) {
    const double d = px[i] / 255.0 - sum[i % 3];
    squares[i % 3] += d * d;
  }

  sq::Model<Standardize, sq::MeanSquaredError> model;
  model.adapt(data);
  const auto w = model.get_weights(0);
  BOOST_REQUIRE_EQUAL(w.size(), 2u);
  for (int c = 0; c < 3; ++c) {
    BOOST_TEST(w[0][c] == sum[c], boost::test_tools::tolerance(1e-6));
    BOOST_TEST(w[1][c] == squares[c] / positions,
               boost::test_tools::tolerance(1e-5));
  }
  BOOST_TEST(w[1][2] == 0.0f);  // blue is constant

  // Through predict: red and green come out with mean 0 and variance 1,
  // the constant blue as 0.
  const auto out = model.predict(data.images()).probabilities;
  double mean[3] = {}, var[3] = {};
  for (std::size_t i = 0; i < out.size(); ++i) mean[i % 3] += out[i];
  for (double& m : mean) m /= positions;
  for (std::size_t i = 0; i < out.size(); ++i) {
    var[i % 3] += (out[i] - mean[i % 3]) * (out[i] - mean[i % 3]);
  }
  for (int c = 0; c < 2; ++c) {
    BOOST_TEST(std::fabs(mean[c]) < 1e-5);
    BOOST_TEST(var[c] / positions == 1.0, boost::test_tools::tolerance(1e-4));
  }
  BOOST_TEST(std::fabs(mean[2]) < 1e-5);
}

BOOST_AUTO_TEST_CASE(adapt_on_features_with_a_large_mean) {
  // 1000 ± 0.5 and −3 ± 30: one pass of sums of squares in float would
  // lose the first variance.
  using Net = sq::Sequential<sq::Input<2>, sq::Normalization<>, sq::Dense<1>>;
  sq::Model<Net, sq::MeanSquaredError> model;
  const std::size_t n = 2000;
  std::vector<float> x, y(n, 0.0f);
  sq::Rng rng(4);
  for (std::size_t i = 0; i < n; ++i) {
    x.push_back(1000.0f + rng.uniform(-0.5f, 0.5f));
    x.push_back(-3.0f + rng.uniform(-30.0f, 30.0f));
  }
  double mean[2] = {}, var[2] = {};
  for (std::size_t i = 0; i < x.size(); ++i) mean[i % 2] += x[i];
  for (double& m : mean) m /= n;
  for (std::size_t i = 0; i < x.size(); ++i) {
    var[i % 2] += (x[i] - mean[i % 2]) * (x[i] - mean[i % 2]);
  }
  const sq::data::FloatDataset data(x, 2, y, 1);
  model.adapt(data);
  const auto w = model.get_weights(0);
  BOOST_TEST(w[0][0] == mean[0], boost::test_tools::tolerance(1e-7));
  BOOST_TEST(w[1][0] == var[0] / n, boost::test_tools::tolerance(1e-4));
  BOOST_TEST(w[1][1] == var[1] / n, boost::test_tools::tolerance(1e-5));
  BOOST_TEST(w[1][0] == 1.0 / 12.0, boost::test_tools::tolerance(0.05));
  // Targets are ignored, whatever their width: 64 per sample against the
  // model's one output (they once overflowed the model's target buffer).
  sq::Model<Net, sq::MeanSquaredError> wide;
  wide.adapt(sq::data::FloatDataset(x, 2, std::vector<float>(n * 64), 64));
  BOOST_TEST(wide.get_weights(0) == w);
}

BOOST_AUTO_TEST_CASE(adapt_refuses_empty_and_misshapen_data) {
  sq::Model<Standardize, sq::MeanSquaredError> model;
  const auto before = model.get_weights();
  const sq::data::Dataset empty({}, {4, 4, 3}, {}, {"x"}, "nothing");
  BOOST_CHECK_EXCEPTION(model.adapt(empty), std::invalid_argument,
                        message_has("adapt", "empty"));
  const auto grey = sq::test::quadrant_images(4, 1);
  BOOST_CHECK_EXCEPTION(
      model.adapt(grey), std::invalid_argument,
      message_has("adapt", "quadrants", "6x6x1", "(4, 4, 3)"));
  using Net = sq::Sequential<sq::Input<2>, sq::Normalization<>, sq::Dense<1>>;
  sq::Model<Net, sq::MeanSquaredError> features;
  const sq::data::FloatDataset three({1, 2, 3}, 3, {0}, 1);
  BOOST_CHECK_EXCEPTION(features.adapt(three), std::invalid_argument,
                        message_has("adapt", "inputs of 3 values", "Input"));
  BOOST_TEST(model.get_weights() == before);
}

BOOST_AUTO_TEST_CASE(adapted_statistics_train_and_survive_a_model_file) {
  using Net = sq::Sequential<sq::Input<6, 6, 1>, sq::Normalization<>,
                             sq::Rescaling<0.5>, sq::Flatten, sq::Dense<16>,
                             sq::ReLU, sq::Dense<4>, sq::Softmax>;
  using Loss = sq::SparseCategoricalCrossentropy;
  const auto train = sq::test::quadrant_images(400, 1);
  const auto test = sq::test::quadrant_images(200, 2);
  sq::Model<Net, Loss> model{sq::Seed{5}};
  model.adapt(train);
  const auto history = model.fit(
      train, sq::Adam{.lr = 1e-2f},
      {.epochs = 3, .batch_size = 16, .verbose = sq::Verbosity::kSilent});
  BOOST_TEST(history.epochs.back().loss < history.epochs.front().loss);
  BOOST_TEST(model.evaluate(test).accuracy > 0.9);
  // Training leaves the statistics alone: they are not trainable.
  sq::Model<Net, Loss> fresh{sq::Seed{5}};
  fresh.adapt(train);
  BOOST_TEST(model.get_weights(0) == fresh.get_weights(0));

  const sq::test::TempDir dir("preprocessing");
  model.save(dir / "m.sqm");
  sq::Model<Net, Loss> loaded;
  loaded.load_weights(dir / "m.sqm");
  BOOST_TEST(loaded.get_weights(0) == model.get_weights(0));
  BOOST_TEST(loaded.predict(test.images()).probabilities ==
             model.predict(test.images()).probabilities);
}

BOOST_AUTO_TEST_CASE(summary_lists_the_statistics_as_non_trainable) {
  const std::string s = sq::Model<Standardize, sq::MeanSquaredError>::summary();
  BOOST_TEST(s.find("Normalization") != std::string::npos);
  BOOST_TEST(s.find("Non-trainable params: 6") != std::string::npos, s);
}
