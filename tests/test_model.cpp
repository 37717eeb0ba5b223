// Model<Net, Loss> as a whole: initialisation, weights, the fused and
// unfused plans, whole-model gradients, determinism, and the errors for bad
// input.
#define BOOST_TEST_MODULE model
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <sequent/sequent.hpp>
#include <string>
#include <vector>

#include "error_message.hpp"
#include "finite_differences.hpp"
#include "quadrants.hpp"

namespace sq = sequent;
using sq::test::check_step_against_differences;
using sq::test::first_batch;
using sq::test::message_has;
using sq::test::params_of;
using sq::test::quadrant_images;
using sq::test::state_of;

namespace {

using Mlp =
    sq::Sequential<sq::Input<6, 6, 1>, sq::Flatten, sq::Dense<16>, sq::ReLU,
                   sq::Dense<8>, sq::Tanh, sq::Dense<4>, sq::Softmax>;
using Loss = sq::SparseCategoricalCrossentropy;

}  // namespace

BOOST_AUTO_TEST_CASE(initialisation_is_glorot_and_seeded) {
  sq::Model<Mlp, Loss> a{sq::Seed{3}}, b{sq::Seed{3}}, c{sq::Seed{4}};
  BOOST_TEST(params_of(a) == params_of(b));
  BOOST_TEST(params_of(a) != params_of(c));
  const auto w = a.get_weights(1);  // Dense<16>: kernel, bias
  BOOST_REQUIRE_EQUAL(w.size(), 2u);
  BOOST_TEST(w[0].size() == 36u * 16u);
  BOOST_TEST(w[1].size() == 16u);
  const float limit = std::sqrt(6.0f / (36 + 16));
  for (float v : w[0]) BOOST_TEST(std::fabs(v) <= limit);
  for (float v : w[1]) BOOST_TEST(v == 0.0f);
  BOOST_TEST(a.get_weights(0).empty());  // Flatten has no weights
  BOOST_TEST(a.weight_info(1)[0].name == "kernel");
  BOOST_TEST((a.weight_info(1)[0].shape == std::vector<std::size_t>{36, 16}));
}

BOOST_AUTO_TEST_CASE(set_weights_round_trips_and_checks_sizes) {
  sq::Model<Mlp, Loss> m;
  auto w = m.get_weights(3);
  for (auto& t : w) {
    for (float& v : t) v = 0.5f;
  }
  m.set_weights(3, w);
  BOOST_TEST(m.get_weights(3) == w);
  auto wrong = w;
  wrong[0].pop_back();
  BOOST_CHECK_EXCEPTION(m.set_weights(3, wrong), std::invalid_argument,
                        message_has("layer 3", "kernel", "needs 128"));
  BOOST_CHECK_EXCEPTION(m.get_weights(9), std::out_of_range,
                        message_has("layer 9"));
}

BOOST_AUTO_TEST_CASE(model_wide_weights_copy_one_model_into_another) {
  sq::Model<Mlp, Loss> a{sq::Seed{1}}, b{sq::Seed{2}};
  const auto all = a.get_weights();
  BOOST_REQUIRE_EQUAL(all.size(), 6u);  // three Dense: kernel, bias each
  BOOST_TEST(all[2] == a.get_weights(3)[0]);
  BOOST_TEST(all[5] == a.get_weights(5)[1]);

  const auto data = quadrant_images(8, 4);
  BOOST_TEST(b.predict(data.images()).probabilities !=
             a.predict(data.images()).probabilities);
  b.set_weights(all);
  BOOST_TEST(params_of(b) == params_of(a));
  BOOST_TEST(b.predict(data.images()).probabilities ==
             a.predict(data.images()).probabilities);

  // A wrong count or size changes nothing, even in the tensors before it.
  sq::Model<Mlp, Loss> c{sq::Seed{3}};
  const auto before = params_of(c);
  auto short_list = all;
  short_list.pop_back();
  BOOST_CHECK_EXCEPTION(c.set_weights(short_list), std::invalid_argument,
                        message_has("6 weight tensors", "got 5"));
  auto bad_size = all;
  bad_size[4].push_back(0.0f);
  BOOST_CHECK_EXCEPTION(
      c.set_weights(bad_size), std::invalid_argument,
      message_has("tensor 4", "layer 5 kernel", "needs 32", "got 33"));
  BOOST_TEST(params_of(c) == before);
}

// The gradient of the whole model (plan routing, fused loss, every layer's
// backward) against finite differences of evaluate()'s mean loss. One SGD
// step with lr = 1 and no momentum moves the parameters by exactly −grad.
BOOST_AUTO_TEST_CASE(whole_model_gradient_matches_finite_differences) {
  const auto data = quadrant_images(5, 21);
  const auto batch = first_batch(data, 5);
  sq::Model<Mlp, Loss> model{sq::Seed{5}};
  const auto before = params_of(model);
  model.train_step(batch.view(), sq::SGD{.lr = 1.0f});
  const auto after = params_of(model);
  const std::size_t checked = check_step_against_differences(
      model, before, after, [&] { return model.evaluate(data).loss; });
  BOOST_TEST(checked > 250u);  // a third of the parameters
}

BOOST_AUTO_TEST_CASE(fused_and_unfused_agree) {
  const auto data = quadrant_images(32, 22);
  const auto batch = first_batch(data, 32);
  sq::Model<Mlp, Loss, sq::Fusion::kOn> fused{sq::Seed{6}};
  sq::Model<Mlp, Loss, sq::Fusion::kOff> plain{sq::Seed{6}};
  BOOST_REQUIRE(params_of(fused) == params_of(plain));
  // Outputs.
  const auto p1 = fused.predict(data);
  const auto p2 = plain.predict(data);
  for (std::size_t i = 0; i < p1.probabilities.size(); ++i) {
    BOOST_TEST(p1.probabilities[i] == p2.probabilities[i],
               boost::test_tools::tolerance(1e-5f));
  }
  // Gradients, through one plain SGD step.
  const auto r1 = fused.train_step(batch.view(), sq::SGD{.lr = 1.0f});
  const auto r2 = plain.train_step(batch.view(), sq::SGD{.lr = 1.0f});
  BOOST_TEST(r1.loss == r2.loss, boost::test_tools::tolerance(1e-5));
  const auto a = params_of(fused), b = params_of(plain);
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST(std::fabs(a[i] - b[i]) <= 1e-5f, "parameter " << i);
  }
}

BOOST_AUTO_TEST_CASE(predictions_are_probabilities) {
  const auto data = quadrant_images(10, 23);
  sq::Model<Mlp, Loss> m{sq::Seed{1}};
  const auto p = m.predict(data);
  BOOST_TEST(p.count == 10u);
  BOOST_TEST(p.classes == 4u);
  for (std::size_t i = 0; i < p.count; ++i) {
    const auto row = p.row(i);
    double total = 0;
    for (float v : row) total += v;
    BOOST_TEST(total == 1.0, boost::test_tools::tolerance(1e-5));
    const auto best = std::max_element(row.begin(), row.end()) - row.begin();
    BOOST_TEST(p.labels[i] == best);
  }
  // Batch size does not change the answer.
  const auto q = m.predict(data, 3);
  BOOST_TEST(q.labels == p.labels);
}

BOOST_AUTO_TEST_CASE(fit_learns_and_is_deterministic) {
  const auto train = quadrant_images(512, 24);
  const auto test = quadrant_images(128, 25);
  sq::Model<Mlp, Loss> a{sq::Seed{9}}, b{sq::Seed{9}};
  const sq::FitOptions options{.epochs = 5,
                               .batch_size = 16,
                               .validation = &test,
                               .verbose = sq::Verbosity::kSilent};
  const auto h = a.fit(train, sq::Adam{.lr = 1e-2f}, options);
  b.fit(train, sq::Adam{.lr = 1e-2f}, options);
  BOOST_TEST(params_of(a) == params_of(b));  // bitwise
  BOOST_REQUIRE_EQUAL(h.epochs.size(), 5u);
  BOOST_TEST(h.epochs[4].loss < h.epochs[0].loss);
  BOOST_TEST(h.last().val_accuracy > 0.9);
  const auto e = a.evaluate(test);
  BOOST_TEST(e.accuracy == h.last().val_accuracy,
             boost::test_tools::tolerance(1e-12));
  BOOST_TEST(e.loss == h.last().val_loss, boost::test_tools::tolerance(1e-9));
  // A different shuffling seed gives a different run.
  sq::Model<Mlp, Loss> c{sq::Seed{9}};
  auto other = options;
  other.seed = 1234;
  c.fit(train, sq::Adam{.lr = 1e-2f}, other);
  BOOST_TEST(params_of(a) != params_of(c));
}

BOOST_AUTO_TEST_CASE(sgd_momentum_and_nesterov_train) {
  const auto train = quadrant_images(256, 26);
  for (bool nesterov : {false, true}) {
    sq::Model<Mlp, Loss> m{sq::Seed{2}};
    const auto h = m.fit(
        train, sq::SGD{.lr = 0.05f, .momentum = 0.9f, .nesterov = nesterov},
        {.epochs = 4, .batch_size = 8, .verbose = sq::Verbosity::kSilent});
    BOOST_TEST(h.last().accuracy > 0.9, "nesterov " << nesterov);
  }
}

BOOST_AUTO_TEST_CASE(dataset_of_the_wrong_shape_is_refused) {
  sq::data::Dataset wrong(std::vector<std::uint8_t>(2 * 28 * 28), {28, 28, 1},
                          {0, 1}, {"a", "b", "c", "d"}, "wrong.idx");
  sq::Model<Mlp, Loss> m;
  BOOST_CHECK_EXCEPTION(m.fit(wrong, sq::Adam{}), std::invalid_argument,
                        message_has("wrong.idx", "28x28x1", "(6, 6, 1)"));
  BOOST_CHECK_EXCEPTION(m.predict(wrong), std::invalid_argument,
                        message_has("28x28x1"));
}

BOOST_AUTO_TEST_CASE(labels_beyond_the_model_classes_are_refused) {
  std::vector<std::string> names(10, "x");
  sq::data::Dataset ten(std::vector<std::uint8_t>(2 * 36), {6, 6, 1}, {0, 7},
                        names, "ten-classes");
  sq::Model<Mlp, Loss> m;
  BOOST_CHECK_EXCEPTION(m.fit(ten, sq::Adam{}), std::invalid_argument,
                        message_has("ten-classes", "label 7", "4 classes"));
}

BOOST_AUTO_TEST_CASE(bad_batches_are_refused) {
  sq::Model<Mlp, Loss> m;
  std::vector<float> x(2 * 36);
  std::vector<std::int32_t> labels{0, 1};
  BOOST_CHECK_THROW(m.train_step({x, labels, {}, 3}, sq::Adam{}),
                    std::invalid_argument);
  std::vector<std::int32_t> bad{0, 4};
  BOOST_CHECK_EXCEPTION(m.train_step({x, bad, {}, 2}, sq::Adam{}),
                        std::invalid_argument, message_has("label 4"));
  BOOST_CHECK_THROW(m.train_step({x, labels, {}, 0}, sq::Adam{}),
                    std::invalid_argument);
  const auto data = quadrant_images(4, 1);
  BOOST_CHECK_THROW(m.fit(data, sq::Adam{}, {.batch_size = 0}),
                    std::invalid_argument);
}

// A loss that turns infinite stops fit with a clear error and leaves the
// last good weights (here: those before fit, since epoch 1 never finished).
BOOST_AUTO_TEST_CASE(non_finite_loss_stops_fit_and_keeps_good_weights) {
  using Line = sq::Sequential<sq::Input<1>, sq::Dense<1>>;
  sq::Model<Line, sq::MeanSquaredError> m{sq::Seed{1}};
  std::vector<float> x(64), y(64);
  for (std::size_t i = 0; i < 64; ++i) {
    x[i] = static_cast<float>(i);
    y[i] = 3.0f * x[i];
  }
  const sq::data::FloatDataset data(x, 1, y, 1);
  // A healthy epoch first, whose weights must survive.
  m.fit(data, sq::SGD{.lr = 1e-5f},
        {.epochs = 1, .verbose = sq::Verbosity::kSilent});
  const auto good = params_of(m);
  BOOST_CHECK_EXCEPTION(
      m.fit(data, sq::SGD{.lr = 1e3f},
            {.epochs = 3, .batch_size = 8, .verbose = sq::Verbosity::kSilent}),
      sq::NonFiniteLoss, message_has("loss became", "epoch 1", "restored"));
  BOOST_TEST(params_of(m) == good);
  for (float v : params_of(m)) BOOST_TEST(std::isfinite(v));
}

// ---- convolutional models
// -----------------------------------------------------

namespace {
using Cnn = sq::Sequential<sq::Input<6, 6, 1>,                           //
                           sq::Conv2D<4, 3, sq::Same>, sq::BatchNorm<>,  //
                           sq::ReLU, sq::MaxPool2D<2>,                   //
                           sq::Conv2D<5, 3, sq::Valid>, sq::ReLU,        //
                           sq::Flatten, sq::Dense<6>, sq::BatchNorm<>,   //
                           sq::Tanh, sq::Dense<4>, sq::Softmax>;
}  // namespace

// Conv2D+BatchNorm+ReLU, Conv2D+ReLU, BatchNorm+Tanh and the loss fusion
// against every layer run as written: same outputs (BatchNorm folded into
// the convolution at inference) and the same gradients.
BOOST_AUTO_TEST_CASE(fused_and_unfused_cnn_agree) {
  const auto data = quadrant_images(16, 31);
  const auto batch = first_batch(data, 16);
  sq::Model<Cnn, Loss, sq::Fusion::kOn> fused{sq::Seed{4}};
  sq::Model<Cnn, Loss, sq::Fusion::kOff> plain{sq::Seed{4}};
  const std::string summary = fused.summary();
  BOOST_TEST(summary.find("Conv2D<4, 3x3, same>+BatchNorm+ReLU") !=
             std::string::npos);
  // Train both a few steps so that the running statistics are not trivial.
  for (int i = 0; i < 3; ++i) {
    const auto r1 = fused.train_step(batch.view(), sq::SGD{.lr = 0.1f});
    const auto r2 = plain.train_step(batch.view(), sq::SGD{.lr = 0.1f});
    BOOST_TEST(r1.loss == r2.loss, boost::test_tools::tolerance(1e-4));
  }
  const auto a = params_of(fused), b = params_of(plain);
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST(std::fabs(a[i] - b[i]) <= 2e-5f, "parameter " << i);
  }
  // The running statistics too: the fused Conv2D+BatchNorm+ReLU group
  // updates them where the BatchNorm layer would.
  const auto sa = state_of(fused), sb = state_of(plain);
  BOOST_REQUIRE_EQUAL(sa.size(), sb.size());
  for (std::size_t i = 0; i < sa.size(); ++i) {
    BOOST_TEST(std::fabs(sa[i] - sb[i]) <= 1e-5f, "running statistic " << i);
  }
  BOOST_TEST(sa != state_of(sq::Model<Cnn, Loss>{sq::Seed{4}}));
  const auto p1 = fused.predict(data);  // folded BatchNorm
  const auto p2 = plain.predict(data);  // BatchNorm with running statistics
  for (std::size_t i = 0; i < p1.probabilities.size(); ++i) {
    BOOST_TEST(p1.probabilities[i] == p2.probabilities[i],
               boost::test_tools::tolerance(2e-4f));
  }
  // Evaluation (BatchNorm unfolded, running statistics) agrees with the
  // folded inference path of the same model.
  const auto e = fused.evaluate(data);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    correct += p1.labels[i] == data.labels()[i];
  }
  BOOST_TEST(e.accuracy == double(correct) / data.size());
}

BOOST_AUTO_TEST_CASE(cnn_gradient_matches_finite_differences) {
  const auto data = quadrant_images(4, 32);
  const auto batch = first_batch(data, 4);
  sq::Model<Cnn, Loss> model{sq::Seed{6}};
  // BatchNorm's running statistics make evaluate() differ from training,
  // so the loss is measured through train_step with lr = 0 (which still
  // reports the training-mode loss) on copies of the model.
  const auto before = params_of(model);
  auto probe = model;
  probe.train_step(batch.view(), sq::SGD{.lr = 1.0f});
  const auto after = params_of(probe);
  auto params = model.parameters();
  const float h = 2e-3f;
  std::size_t checked = 0;
  for (std::size_t i = 0; i < params.size(); i += 5) {
    auto loss_at = [&](float v) {
      auto copy = model;
      copy.parameters()[i] = v;
      return copy.train_step(batch.view(), sq::SGD{.lr = 0.0f}).loss;
    };
    const double numeric =
        (loss_at(before[i] + h) - loss_at(before[i] - h)) / (2.0 * h);
    const double analytic = double(before[i]) - after[i];
    BOOST_TEST(
        std::fabs(analytic - numeric) <= 3e-3 + 3e-2 * std::fabs(numeric),
        "parameter " << i << ": backward " << analytic << ", finite difference "
                     << numeric);
    ++checked;
  }
  BOOST_TEST(checked > 30u);
  (void)params;
}
