// The Fashion-MNIST MLP (Flatten, Dense<128>, ReLU, Dense<10>, Softmax) on
// real data: training images per second at batch 32 and 128 (Adam, whole
// epochs through the public fit(), shuffling and batch forming included),
// batch 32 also on one thread (so that "threads pay" is measured, not
// assumed), and the latency of predict() on one image.
//
// Prints `key: value` lines; asserts nothing.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sequent/sequent.hpp>
#include <vector>

namespace sq = sequent;

using Net = sq::Sequential<sq::Input<28, 28, 1>, sq::Flatten, sq::Dense<128>,
                           sq::ReLU, sq::Dense<10>, sq::Softmax>;
using Model = sq::Model<Net, sq::SparseCategoricalCrossentropy>;

// Images per second of the fastest of `epochs` epochs (the first one also
// pays for page faults and buffer allocation).
double train_images_per_second(const sq::data::Dataset& train,
                               std::size_t batch, int epochs) {
  Model model{sq::Seed{7}};
  const auto history = model.fit(train, sq::Adam{.lr = 1e-3f},
                                 {.epochs = epochs,
                                  .batch_size = batch,
                                  .verbose = sq::Verbosity::kSilent});
  double best = 1e30;
  for (const auto& e : history.epochs) best = std::min(best, e.seconds);
  return static_cast<double>(train.size()) / best;
}

// Median microseconds of predict() on one image, over many calls.
double single_image_microseconds(const sq::data::Dataset& test) {
  Model model{sq::Seed{7}};
  const sq::data::ImageView one{test.image(0), 1, test.shape()};
  for (int i = 0; i < 2000; ++i) model.predict(one);  // warm caches
  constexpr int kRounds = 31, kCalls = 2000;
  std::vector<double> rounds;
  std::int32_t sink = 0;
  for (int r = 0; r < kRounds; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kCalls; ++i) {
      const sq::data::ImageView image{test.image(i % test.size()), 1,
                                      test.shape()};
      sink += model.predict(image).labels[0];
    }
    rounds.push_back(std::chrono::duration<double, std::micro>(
                         std::chrono::steady_clock::now() - start)
                         .count() /
                     kCalls);
  }
  std::sort(rounds.begin(), rounds.end());
  if (sink == -1) std::puts("");  // keep the calls
  return rounds[kRounds / 2];
}

int main(int argc, char** argv) {
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 2;
  auto [train, test] = sq::data::fashion_mnist();
  const int threads = sq::num_threads();
  std::printf("threads: %d\n", threads);
  const double all_threads = train_images_per_second(train, 32, epochs);
  std::printf("mlp_train_bs32_img_s: %.0f\n", all_threads);
  // The same run on one thread, to measure what the other cores buy.
  sq::set_num_threads(1);
  const double one_thread = train_images_per_second(train, 32, epochs);
  sq::set_num_threads(threads);
  std::printf("mlp_train_bs32_1_thread_img_s: %.0f\n", one_thread);
  std::printf("mlp_train_bs32_thread_speedup: %.2f\n",
              all_threads / one_thread);
  std::printf("mlp_train_bs128_img_s: %.0f\n",
              train_images_per_second(train, 128, epochs));
  std::printf("mlp_infer_bs1_us: %.2f\n", single_image_microseconds(test));
  return 0;
}
