// A training batch split into parts, one per thread, each run through the
// whole plan (Model::step for plans without BatchNorm): the parts' gradients
// must add up to the whole batch's, dropout must draw the same masks
// wherever the split falls, and a split run must stay deterministic.
#define BOOST_TEST_MODULE batch_split
#include <omp.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <sequent/sequent.hpp>
#include <string>
#include <vector>

namespace sq = sequent;

namespace {

using Loss = sq::SparseCategoricalCrossentropy;
using Mlp = sq::Sequential<sq::Input<4, 4, 1>, sq::Flatten, sq::Dense<12>,
                           sq::ReLU, sq::Dropout<0.3>, sq::Dense<6>, sq::Tanh,
                           sq::Dense<3>, sq::Softmax>;
using Cnn = sq::Sequential<sq::Input<8, 8, 2>, sq::Conv2D<5, 3>, sq::ReLU,
                           sq::MaxPool2D<2>, sq::Flatten, sq::Dropout<0.2>,
                           sq::Dense<3>, sq::Softmax>;
using CnnWithBatchNorm =
    sq::Sequential<sq::Input<8, 8, 2>, sq::Conv2D<5, 3>, sq::BatchNorm<>,
                   sq::ReLU, sq::Flatten, sq::Dense<3>, sq::Softmax>;

template <class Net>
using TrainingPlanOf = sq::PlanRunner<
    sq::plan_t<Net, Loss, sq::PlanKind::kTraining, sq::Fusion::kOn>>;
static_assert(TrainingPlanOf<Mlp>::samples_independent);
static_assert(TrainingPlanOf<Cnn>::samples_independent);
static_assert(!TrainingPlanOf<CnnWithBatchNorm>::samples_independent,
              "BatchNorm's batch statistics couple the samples");

sq::data::Dataset random_images(std::size_t n, int h, int w, int c,
                                std::uint64_t seed) {
  sq::Rng rng(seed);
  std::vector<std::uint8_t> pixels(n * static_cast<std::size_t>(h * w * c));
  for (auto& p : pixels) p = static_cast<std::uint8_t>(rng.next());
  std::vector<std::int32_t> labels(n);
  for (auto& l : labels) l = static_cast<std::int32_t>(rng.next() % 3);
  return {std::move(pixels),
          {h, w, c},
          std::move(labels),
          {"a", "b", "c"},
          "random"};
}

// Trains `steps` SGD steps on batches of `batch` with `threads` threads and
// returns the parameters and the last step's loss.
template <class Net>
std::pair<std::vector<float>, double> train(const sq::data::Dataset& data,
                                            std::size_t batch, int steps,
                                            int threads) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  sq::Model<Net, Loss> model{sq::Seed{3}};
  std::vector<float> x(batch * data.shape().size());
  std::vector<std::int32_t> labels(batch);
  std::vector<std::uint32_t> indices(batch);
  double loss = 0;
  for (int s = 0; s < steps; ++s) {
    for (std::size_t i = 0; i < batch; ++i) {
      indices[i] = static_cast<std::uint32_t>((s * batch + i) % data.size());
    }
    data.gather(indices, x.data(), labels.data());
    loss = model
               .train_step({.inputs = x, .labels = labels, .size = batch},
                           sq::SGD{.lr = 0.05f, .momentum = 0.9f})
               .loss;
  }
  omp_set_num_threads(saved);
  const auto p = model.parameters();
  return {{p.begin(), p.end()}, loss};
}

// Parts add up in another order than one thread's sums, so the runs agree
// to rounding, not bitwise. Masks drawn per part from the part's own
// counter would differ in a third of the values and fail this by far.
void expect_close(const std::vector<float>& a, const std::vector<float>& b,
                  const std::string& what) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(double(a[i]) - b[i]) /
                                (1e-3 + std::fabs(double(b[i]))));
  }
  BOOST_TEST(worst < 1e-3, what << ": largest relative difference " << worst);
}

}  // namespace

BOOST_AUTO_TEST_CASE(split_batches_train_like_one_thread) {
  if (omp_get_num_procs() < 2) {
    BOOST_TEST_MESSAGE("one core: the split runs on one thread only");
  }
  const auto images = random_images(64, 4, 4, 1, 11);
  for (const std::size_t batch : {2u, 4u, 5u, 17u, 32u}) {
    const auto one = train<Mlp>(images, batch, 6, 1);
    const auto two = train<Mlp>(images, batch, 6, 2);
    const auto four = train<Mlp>(images, batch, 6, 4);  // more than cores
    const std::string what = "MLP with dropout, batch " + std::to_string(batch);
    expect_close(two.first, one.first, what + ", 2 threads");
    expect_close(four.first, one.first, what + ", 4 threads");
    BOOST_TEST(std::fabs(two.second - one.second) <= 1e-4 * (1 + one.second));
  }
  const auto maps = random_images(40, 8, 8, 2, 12);
  for (const std::size_t batch : {3u, 8u, 13u}) {
    const auto one = train<Cnn>(maps, batch, 5, 1);
    const auto two = train<Cnn>(maps, batch, 5, 2);
    expect_close(two.first, one.first,
                 "CNN with dropout, batch " + std::to_string(batch));
  }
}

BOOST_AUTO_TEST_CASE(split_batches_are_deterministic) {
  const auto images = random_images(64, 4, 4, 1, 13);
  const auto a = train<Mlp>(images, 9, 8, 2);
  const auto b = train<Mlp>(images, 9, 8, 2);
  BOOST_TEST(a.first == b.first);  // bitwise, same thread count
}

BOOST_AUTO_TEST_CASE(a_single_sample_batch_and_a_batchnorm_plan_still_train) {
  const auto maps = random_images(16, 8, 8, 2, 14);
  const auto single = train<Cnn>(maps, 1, 3, 2);
  BOOST_TEST(std::all_of(single.first.begin(), single.first.end(),
                         [](float v) { return std::isfinite(v); }));
  const auto bn_one = train<CnnWithBatchNorm>(maps, 8, 3, 1);
  const auto bn_two = train<CnnWithBatchNorm>(maps, 8, 3, 2);
  expect_close(bn_two.first, bn_one.first, "BatchNorm CNN");
}

BOOST_AUTO_TEST_CASE(a_non_finite_loss_in_one_part_skips_the_update) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  sq::Model<Mlp, Loss> model{sq::Seed{4}};
  const std::size_t batch = 6, size = 16;
  std::vector<float> x(batch * size, 0.5f);
  x[(batch - 1) * size + 3] = NAN;  // in the last part only
  const std::vector<std::int32_t> labels(batch, 1);
  const auto before = model.get_weights(1);
  BOOST_CHECK_THROW(
      model.train_step({.inputs = x, .labels = labels, .size = batch},
                       sq::SGD{.lr = 0.1f}),
      sq::NonFiniteLoss);
  BOOST_TEST(model.get_weights(1) == before);
  omp_set_num_threads(saved);
}
