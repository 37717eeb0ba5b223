// AdamW and RMSprop through whole models: each trains, AdamW's decay is
// decoupled and reaches every parameter, and checkpoints carry their state
// (named, with its slots) so that a resumed run equals an uninterrupted one.
#define BOOST_TEST_MODULE model_optimizers
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <sequent/sequent.hpp>
#include <string>
#include <vector>

#include "quadrants.hpp"
#include "temp_dir.hpp"

namespace sq = sequent;
namespace tt = boost::test_tools;
using sq::test::first_batch;
using sq::test::params_of;
using sq::test::quadrant_images;

namespace {

using Loss = sq::SparseCategoricalCrossentropy;
using Mlp =
    sq::Sequential<sq::Input<6, 6, 1>, sq::Flatten, sq::Dense<16>, sq::ReLU,
                   sq::Dense<8>, sq::Tanh, sq::Dense<4>, sq::Softmax>;
// BatchNorm and Dropout too, so that a checkpoint must also restore the
// running statistics and resume the dropout masks.
using Cnn =
    sq::Sequential<sq::Input<6, 6, 1>, sq::Conv2D<4, 3, sq::Same>,
                   sq::BatchNorm<>, sq::ReLU, sq::MaxPool2D<2>, sq::Flatten,
                   sq::Dropout<0.25>, sq::Dense<4>, sq::Softmax>;

using sequent::test::TempDir;

template <class Opt>
void check_trains(const Opt& optimizer, const std::string& what) {
  const auto train = quadrant_images(512, 51);
  const auto test = quadrant_images(128, 52);
  sq::Model<Mlp, Loss> m{sq::Seed{2}};
  const auto h = m.fit(train, optimizer,
                       {.epochs = 4,
                        .batch_size = 16,
                        .validation = &test,
                        .verbose = sq::Verbosity::kSilent});
  BOOST_TEST_CONTEXT(what) {
    BOOST_REQUIRE_EQUAL(h.epochs.size(), 4u);
    BOOST_TEST(h.last().loss < 0.5 * h.epochs.front().loss);
    BOOST_TEST(h.last().val_accuracy > 0.9);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(adamw_trains) {
  check_trains(sq::AdamW{.lr = 1e-2f}, "AdamW");
  check_trains(sq::AdamW{.lr = 1e-2f, .weight_decay = 0.1f}, "AdamW wd 0.1");
}

BOOST_AUTO_TEST_CASE(rmsprop_trains) {
  check_trains(sq::RMSprop{.lr = 3e-3f}, "RMSprop");
  check_trains(sq::RMSprop{.lr = 1e-3f, .momentum = 0.9f}, "momentum");
  check_trains(sq::RMSprop{.lr = 3e-3f, .centered = true}, "centered");
  check_trains(sq::RMSprop{.lr = 1e-3f, .momentum = 0.9f, .centered = true},
               "momentum, centered");
}

BOOST_AUTO_TEST_CASE(defaults_are_keras) {
  const sq::AdamW w;
  BOOST_TEST(w.lr == 1e-3f);
  BOOST_TEST(w.beta1 == 0.9f);
  BOOST_TEST(w.beta2 == 0.999f);
  BOOST_TEST(w.epsilon == 1e-7f);
  BOOST_TEST(w.weight_decay == 0.004f);
  const sq::RMSprop r;
  BOOST_TEST(r.lr == 1e-3f);
  BOOST_TEST(r.rho == 0.9f);
  BOOST_TEST(r.momentum == 0.0f);
  BOOST_TEST(r.epsilon == 1e-7f);
  BOOST_TEST(!r.centered);
}

// On the first step the moments of Adam and AdamW agree (the decay never
// enters the gradient), so AdamW's weights are Adam's minus lr·wd·p — for
// every parameter, biases and the final layer included.
BOOST_AUTO_TEST_CASE(adamw_decay_is_decoupled_and_reaches_every_parameter) {
  const auto data = quadrant_images(16, 53);
  const auto batch = first_batch(data, 16);
  sq::Model<Mlp, Loss> adam{sq::Seed{3}}, adamw{sq::Seed{3}};
  // Non-zero biases, so that their decay shows.
  for (std::size_t layer : {1, 3, 5}) {
    auto w = adam.get_weights(layer);
    for (float& b : w[1]) b = 0.25f;
    adam.set_weights(layer, w);
    adamw.set_weights(layer, w);
  }
  const auto initial = params_of(adam);
  constexpr float kLr = 0.01f, kDecay = 0.5f;
  adam.train_step(batch.view(), sq::Adam{.lr = kLr});
  adamw.train_step(batch.view(), sq::AdamW{.lr = kLr, .weight_decay = kDecay});
  const auto a = params_of(adam), w = params_of(adamw);
  std::size_t decayed = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double expected = double(a[i]) - kLr * kDecay * initial[i];
    BOOST_TEST(std::fabs(w[i] - expected) <= 1e-6, "parameter " << i);
    decayed += initial[i] != 0.0f;
  }
  BOOST_TEST(decayed > 700u);
  // Adam with the same weight_decay is L2 through the gradient instead: its
  // moments see the decay, so its step is not this one.
  sq::Model<Mlp, Loss> coupled{sq::Seed{3}};
  auto params = coupled.parameters();
  std::copy(initial.begin(), initial.end(), params.begin());
  coupled.train_step(batch.view(), sq::Adam{.lr = kLr, .weight_decay = kDecay});
  BOOST_TEST(params_of(coupled) != w);
}

// Save a checkpoint half way, load it into a fresh model, and finish: the
// weights equal those of the uninterrupted run, bit for bit, which needs
// every slot of the optimiser's state and its step count.
template <class Opt>
void check_resume(const Opt& optimizer, std::size_t slots) {
  TempDir dir;
  const auto train = quadrant_images(200, 54);
  const sq::FitOptions base{.epochs = 4,
                            .batch_size = 16,
                            .seed = 77,
                            .verbose = sq::Verbosity::kSilent};
  sq::Model<Cnn, Loss> straight{sq::Seed{8}};
  straight.fit(train, optimizer, base);

  sq::Model<Cnn, Loss> first{sq::Seed{8}};
  auto half = base;
  half.epochs = 2;
  first.fit(train, optimizer, half);
  first.save_checkpoint(dir.path() / "ckpt.sqm");

  sq::Model<Cnn, Loss> resumed{sq::Seed{999}};
  const auto state = resumed.load_checkpoint(dir.path() / "ckpt.sqm");
  BOOST_TEST(state.optimizer == Opt::name);
  BOOST_TEST(state.optimizer_state.size() == slots * Cnn::param_buffer_size);
  BOOST_TEST(state.optimizer_step == 2 * 13);  // 200 samples, batch 16
  auto rest = base;
  rest.initial_epoch = resumed.epochs_done();
  resumed.fit(train, optimizer, rest);
  BOOST_TEST(params_of(resumed) == params_of(straight));
  const std::vector<float> sa(resumed.state().begin(), resumed.state().end()),
      sb(straight.state().begin(), straight.state().end());
  BOOST_TEST(sa == sb);
}

BOOST_AUTO_TEST_CASE(adamw_checkpoint_resumes_exactly) {
  check_resume(sq::AdamW{.lr = 1e-2f, .weight_decay = 0.01f}, 2);
}

BOOST_AUTO_TEST_CASE(rmsprop_checkpoint_resumes_exactly) {
  check_resume(sq::RMSprop{.lr = 1e-3f, .momentum = 0.9f, .centered = true}, 3);
  check_resume(sq::RMSprop{}, 3);
}

// Changing optimiser starts from fresh state: an Adam checkpoint continued
// with AdamW (both two slots) must not reuse Adam's moments.
BOOST_AUTO_TEST_CASE(another_optimizer_starts_from_fresh_state) {
  TempDir dir;
  const auto train = quadrant_images(64, 55);
  const sq::FitOptions one{.epochs = 1,
                           .batch_size = 16,
                           .seed = 5,
                           .verbose = sq::Verbosity::kSilent};
  sq::Model<Mlp, Loss> m{sq::Seed{1}};
  m.fit(train, sq::Adam{.lr = 1e-2f}, one);
  m.save_checkpoint(dir.path() / "adam.sqm");
  const auto weights = params_of(m);

  sq::Model<Mlp, Loss> resumed{sq::Seed{2}};
  resumed.load_checkpoint(dir.path() / "adam.sqm");
  const auto batch = first_batch(train, 16);
  resumed.train_step(batch.view(), sq::AdamW{.lr = 1e-2f});
  sq::Model<Mlp, Loss> fresh{sq::Seed{2}};
  auto params = fresh.parameters();
  std::copy(weights.begin(), weights.end(), params.begin());
  fresh.train_step(batch.view(), sq::AdamW{.lr = 1e-2f});
  BOOST_TEST(params_of(resumed) == params_of(fresh));
}
