// Real data: the Fashion-MNIST MLP of examples/fashion_mlp.cpp, trained for
// one epoch, must reach at least 0.84 test accuracy.
#define BOOST_TEST_MODULE fashion_real
#include <boost/test/unit_test.hpp>
#include <sequent/sequent.hpp>

namespace sq = sequent;

using Net = sq::Sequential<sq::Input<28, 28, 1>, sq::Flatten, sq::Dense<128>,
                           sq::ReLU, sq::Dense<10>, sq::Softmax>;

BOOST_AUTO_TEST_CASE(mlp_one_epoch_reaches_084) {
  auto [train, test] = sq::data::fashion_mnist();
  BOOST_REQUIRE_EQUAL(train.size(), 60000u);
  BOOST_REQUIRE_EQUAL(test.size(), 10000u);
  sq::Model<Net, sq::SparseCategoricalCrossentropy> model{sq::Seed{7}};
  const auto history =
      model.fit(train, sq::Adam{.lr = 1e-3f},
                {.epochs = 1, .batch_size = 32, .validation = &test,
                 .verbose = sq::Verbosity::kLines});
  const auto result = model.evaluate(test);
  BOOST_TEST_MESSAGE("test accuracy after 1 epoch: " << result.accuracy
                     << " in " << history.last().seconds << " s");
  BOOST_TEST(result.accuracy >= 0.84);
  BOOST_TEST(history.last().val_accuracy == result.accuracy);
  // Predictions agree with evaluate's accuracy.
  const auto pred = model.predict(test);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < test.size(); ++i) {
    correct += pred.labels[i] == test.labels()[i];
  }
  BOOST_TEST(double(correct) / test.size() == result.accuracy,
             boost::test_tools::tolerance(1e-9));
}

// A small CNN trained one epoch on the first 10,000 training images must
// reach at least 0.80 on the whole test set.
BOOST_AUTO_TEST_CASE(small_cnn_one_epoch_on_10000_reaches_080) {
  using Cnn = sq::Sequential<sq::Input<28, 28, 1>,                        //
                             sq::Conv2D<16, 3, sq::Same>, sq::BatchNorm<>, //
                             sq::ReLU, sq::MaxPool2D<2>,                   //
                             sq::Conv2D<32, 3, sq::Same>, sq::ReLU,        //
                             sq::MaxPool2D<2>, sq::Flatten, sq::Dense<64>,
                             sq::ReLU, sq::Dense<10>, sq::Softmax>;
  auto [train, test] = sq::data::fashion_mnist();
  const auto subset = train.slice(0, 10000);
  sq::Model<Cnn, sq::SparseCategoricalCrossentropy> model{sq::Seed{3}};
  const auto history = model.fit(subset, sq::Adam{.lr = 1e-3f},
                                 {.epochs = 1, .batch_size = 32,
                                  .verbose = sq::Verbosity::kLines});
  const auto result = model.evaluate(test);
  BOOST_TEST_MESSAGE("small CNN, 1 epoch on 10,000 images: test accuracy "
                     << result.accuracy << " in " << history.last().seconds
                     << " s");
  BOOST_TEST(result.accuracy >= 0.80);
}
