// Every loss through a whole Model: the value evaluate() reports against a
// hand computation from predict(), and the parameter gradients of one
// train_step against central finite differences of that value. One SGD step
// with lr = 1 and no momentum moves the parameters by exactly −gradient, so
// the weight change is the analytic gradient.
#define BOOST_TEST_MODULE model_losses
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <sequent/sequent.hpp>
#include <vector>

#include "random_values.hpp"

namespace sq = sequent;
using sq::test::random_vector;

namespace {

template <class M>
std::vector<float> params_of(const M& m) {
  return {m.parameters().begin(), m.parameters().end()};
}

// The whole dataset as one batch of float targets.
sq::Batch batch_of(const sq::data::FloatDataset& d) {
  return {d.inputs(), {}, d.targets(), d.size()};
}

// Analytic gradient (one SGD step, lr = 1) against central differences of
// evaluate()'s mean loss, for every `stride`-th parameter.
template <class M>
void check_gradient(M& model, const sq::data::FloatDataset& data, float h,
                    double abs_tol, double rel_tol, std::size_t stride = 1) {
  const auto before = params_of(model);
  {
    M probe = model;
    probe.train_step(batch_of(data), sq::SGD{.lr = 1.0f});
    const auto after = params_of(probe);
    auto params = model.parameters();
    std::size_t checked = 0, nonzero = 0;
    for (std::size_t i = 0; i < params.size(); i += stride) {
      const float saved = params[i];
      params[i] = saved + h;
      const double up = model.evaluate(data).loss;
      params[i] = saved - h;
      const double down = model.evaluate(data).loss;
      params[i] = saved;
      const double numeric = (up - down) / (2.0 * h);
      const double analytic = double(before[i]) - after[i];
      BOOST_TEST(std::fabs(analytic - numeric) <=
                     abs_tol + rel_tol * std::fabs(numeric),
                 "parameter " << i << ": backward " << analytic
                              << ", finite difference " << numeric);
      ++checked;
      nonzero += std::fabs(numeric) > 1e-3;
    }
    // Most parameters matter (padding between layers does not): the
    // comparison is not between two zeros.
    BOOST_TEST(nonzero > checked / 2);
  }
  BOOST_TEST(params_of(model) == before);  // evaluate changed nothing
}

// ---- regression losses
// --------------------------------------------------------

using Regressor =
    sq::Sequential<sq::Input<4>, sq::Dense<6>, sq::Tanh, sq::Dense<3>>;
constexpr std::size_t kSamples = 7;

// Targets at least `margin` away from the model's current outputs, so that
// MeanAbsoluteError's kink at p = t is far from every finite difference.
template <class M>
sq::data::FloatDataset targets_away_from_outputs(M& model, float margin,
                                                 std::uint64_t seed) {
  auto x = random_vector(kSamples * 4, seed);
  const auto out = model.predict(x);
  auto t = random_vector(out.size(), seed + 1, margin, 1.0f);
  for (std::size_t i = 0; i < t.size(); ++i) {
    t[i] = out[i] + (i % 3 == 1 ? -t[i] : t[i]);
  }
  return {std::move(x), 4, std::move(t), 3};
}

}  // namespace

BOOST_AUTO_TEST_CASE(mean_squared_error_value_and_gradient) {
  sq::Model<Regressor, sq::MeanSquaredError> model{sq::Seed{11}};
  const auto data = targets_away_from_outputs(model, 0.1f, 100);
  // Keras' definition: the mean over the outputs, then over the batch.
  const auto out = model.predict(data.inputs());
  double expected = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double d = double(out[i]) - data.targets()[i];
    expected += d * d;
  }
  expected /= kSamples * 3;
  BOOST_TEST(model.evaluate(data).loss == expected,
             boost::test_tools::tolerance(1e-6));
  check_gradient(model, data, 1e-3f, 1e-3, 1e-2);
  // train_step reports the same mean loss as evaluate.
  auto copy = model;
  BOOST_TEST(
      copy.train_step(batch_of(data), sq::SGD{.lr = 0.0f}).loss == expected,
      boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(mean_absolute_error_value_and_gradient_away_from_kinks) {
  sq::Model<Regressor, sq::MeanAbsoluteError> model{sq::Seed{12}};
  const auto data = targets_away_from_outputs(model, 0.2f, 200);
  const auto out = model.predict(data.inputs());
  double expected = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    expected += std::fabs(double(out[i]) - data.targets()[i]);
  }
  expected /= kSamples * 3;
  BOOST_TEST(model.evaluate(data).loss == expected,
             boost::test_tools::tolerance(1e-6));
  // |p − t| is linear on each side of the kink: a large step is exact.
  check_gradient(model, data, 1e-2f, 1e-3, 1e-2);
}

// ---- categorical cross-entropy
// ---------------------------------------------------

namespace {

using Classifier = sq::Sequential<sq::Input<5>, sq::Dense<6>, sq::Tanh,
                                  sq::Dense<4>, sq::Softmax>;

enum class Targets { kOneHot, kSoft, kUnnormalised };

sq::data::FloatDataset classification_data(Targets kind, std::uint64_t seed) {
  auto x = random_vector(kSamples * 5, seed, -2.0f, 2.0f);
  std::vector<float> t(kSamples * 4, 0.0f);
  sq::Rng rng(seed + 1);
  for (std::size_t r = 0; r < kSamples; ++r) {
    float* row = t.data() + r * 4;
    if (kind == Targets::kOneHot) {
      row[rng.next() % 4] = 1.0f;
      continue;
    }
    float sum = 0;
    for (int c = 0; c < 4; ++c) sum += row[c] = rng.uniform(0.05f, 1.0f);
    if (kind == Targets::kSoft) {
      for (int c = 0; c < 4; ++c) row[c] /= sum;
    }
  }
  return {std::move(x), 5, std::move(t), 4};
}

// −Σ t·log p over the batch, from predict()'s probabilities.
template <class M>
double hand_cross_entropy(M& model, const sq::data::FloatDataset& data) {
  const auto p = model.predict(data.inputs());
  double total = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    total -= double(data.targets()[i]) * std::log(double(p[i]));
  }
  return total / static_cast<double>(data.size());
}

template <sq::Fusion F>
void check_categorical(Targets kind, std::uint64_t seed) {
  sq::Model<Classifier, sq::CategoricalCrossentropy, F> model{sq::Seed{seed}};
  const auto data = classification_data(kind, seed * 10);
  BOOST_TEST(model.evaluate(data).loss == hand_cross_entropy(model, data),
             boost::test_tools::tolerance(1e-5));
  check_gradient(model, data, 1e-3f, 1e-3, 1e-2);
}

}  // namespace

// Fused with the trailing Softmax: the loss takes logits, gradient
// p·Σt − t.
BOOST_AUTO_TEST_CASE(categorical_cross_entropy_fused_one_hot) {
  check_categorical<sq::Fusion::kOn>(Targets::kOneHot, 21);
}
BOOST_AUTO_TEST_CASE(categorical_cross_entropy_fused_soft_targets) {
  check_categorical<sq::Fusion::kOn>(Targets::kSoft, 22);
  check_categorical<sq::Fusion::kOn>(Targets::kUnnormalised, 23);
}
// Unfused: Softmax's own backward and the loss on probabilities.
BOOST_AUTO_TEST_CASE(categorical_cross_entropy_unfused) {
  check_categorical<sq::Fusion::kOff>(Targets::kOneHot, 24);
  check_categorical<sq::Fusion::kOff>(Targets::kSoft, 25);
}

// Sparse labels and their one-hot rows are the same loss and gradient.
BOOST_AUTO_TEST_CASE(categorical_on_one_hot_equals_sparse_on_labels) {
  const auto data = classification_data(Targets::kOneHot, 31);
  std::vector<std::int32_t> labels(kSamples);
  for (std::size_t r = 0; r < kSamples; ++r) {
    const float* row = data.targets().data() + r * 4;
    labels[r] = static_cast<std::int32_t>(std::max_element(row, row + 4) - row);
  }
  sq::Model<Classifier, sq::CategoricalCrossentropy> dense{sq::Seed{3}};
  sq::Model<Classifier, sq::SparseCategoricalCrossentropy> sparse{sq::Seed{3}};
  const auto a = dense.train_step(batch_of(data), sq::SGD{.lr = 0.5f});
  const auto b = sparse.train_step({data.inputs(), labels, {}, kSamples},
                                   sq::SGD{.lr = 0.5f});
  BOOST_TEST(a.loss == b.loss, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(a.accuracy == b.accuracy);
  const auto pa = params_of(dense), pb = params_of(sparse);
  for (std::size_t i = 0; i < pa.size(); ++i) {
    BOOST_TEST(std::fabs(pa[i] - pb[i]) <= 1e-6f, "parameter " << i);
  }
}

// fit on a FloatDataset of one-hot rows: accuracy is measured (the argmax
// of the target row is the class) and rises as the model learns.
BOOST_AUTO_TEST_CASE(categorical_fit_on_one_hot_float_dataset_learns) {
  // Three classes, decided by which of three inputs is largest.
  constexpr std::size_t n = 600;
  auto x = random_vector(n * 3, 41);
  std::vector<float> t(n * 3, 0.0f);
  for (std::size_t i = 0; i < n; ++i) {
    const float* row = x.data() + i * 3;
    t[i * 3 + (std::max_element(row, row + 3) - row)] = 1.0f;
  }
  const sq::data::FloatDataset train(x, 3, t, 3);
  const sq::data::FloatDataset val(
      std::vector<float>(x.begin(), x.begin() + 150 * 3), 3,
      std::vector<float>(t.begin(), t.begin() + 150 * 3), 3);
  using Net = sq::Sequential<sq::Input<3>, sq::Dense<16>, sq::ReLU,
                             sq::Dense<3>, sq::Softmax>;
  sq::Model<Net, sq::CategoricalCrossentropy> model{sq::Seed{4}};
  const double chance = model.evaluate(train).accuracy;
  const auto h = model.fit(train, sq::Adam{.lr = 1e-2f},
                           {.epochs = 6,
                            .batch_size = 16,
                            .validation = &val,
                            .verbose = sq::Verbosity::kSilent});
  BOOST_REQUIRE_EQUAL(h.epochs.size(), 6u);
  for (const auto& e : h.epochs) {
    BOOST_TEST(std::isfinite(e.accuracy));
    BOOST_TEST(std::isfinite(e.val_accuracy));
    BOOST_TEST(e.accuracy >= 0.0);
    BOOST_TEST(e.accuracy <= 1.0);
  }
  BOOST_TEST(h.last().accuracy > h.epochs[0].accuracy);
  BOOST_TEST(h.last().loss < h.epochs[0].loss);
  BOOST_TEST(h.last().accuracy > 0.9);
  BOOST_TEST(h.last().val_accuracy > 0.9);
  BOOST_TEST(chance < 0.7);
  // evaluate counts the same way: the fraction whose argmax matches.
  const auto p = model.predict(val.inputs());
  std::size_t correct = 0;
  for (std::size_t i = 0; i < val.size(); ++i) {
    const float* row = p.data() + i * 3;
    const float* target = val.targets().data() + i * 3;
    correct += (std::max_element(row, row + 3) - row) ==
               (std::max_element(target, target + 3) - target);
  }
  BOOST_TEST(model.evaluate(val).accuracy ==
             double(correct) / static_cast<double>(val.size()));
}
