// The two CNNs of the tutorials on CIFAR-shaped input (32×32×3), with random
// pixels (the arithmetic does not depend on the values; CIFAR-10 cannot be
// downloaded here): LeNet trained with SGD+momentum at batch 4 and 64, and
// the VGG-like network with BatchNorm and Dropout trained with Adam at batch
// 64; images per second through the public fit(), and inference latency and
// throughput through predict().
//
// Prints `key: value` lines; asserts nothing.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sequent/sequent.hpp>
#include <vector>

namespace sq = sequent;

using LeNet = sq::Sequential<sq::Input<32, 32, 3>, sq::Conv2D<6, 5>, sq::ReLU,
                             sq::MaxPool2D<2>, sq::Conv2D<16, 5>, sq::ReLU,
                             sq::MaxPool2D<2>, sq::Flatten, sq::Dense<120>,
                             sq::ReLU, sq::Dense<84>, sq::ReLU, sq::Dense<10>,
                             sq::Softmax>;

using Vgg = sq::Sequential<
    sq::Input<32, 32, 3>,                                                //
    sq::Conv2D<32, 3, sq::Same>, sq::BatchNorm<>, sq::ReLU,              //
    sq::Conv2D<32, 3, sq::Same>, sq::BatchNorm<>, sq::ReLU,              //
    sq::MaxPool2D<2>, sq::Dropout<0.25>,                                 //
    sq::Conv2D<64, 3, sq::Same>, sq::BatchNorm<>, sq::ReLU,              //
    sq::Conv2D<64, 3, sq::Same>, sq::BatchNorm<>, sq::ReLU,              //
    sq::MaxPool2D<2>, sq::Dropout<0.25>,                                 //
    sq::Conv2D<128, 3, sq::Same>, sq::BatchNorm<>, sq::ReLU,             //
    sq::Conv2D<128, 3, sq::Same>, sq::BatchNorm<>, sq::ReLU,             //
    sq::MaxPool2D<2>, sq::Dropout<0.25>,                                 //
    sq::Flatten, sq::Dense<128>, sq::ReLU, sq::Dropout<0.5>, sq::Dense<10>,
    sq::Softmax>;

using Loss = sq::SparseCategoricalCrossentropy;

sq::data::Dataset random_images(std::size_t n) {
  sq::Rng rng(42);
  std::vector<std::uint8_t> px(n * 32 * 32 * 3);
  for (auto& p : px) p = static_cast<std::uint8_t>(rng.next());
  std::vector<std::int32_t> labels(n);
  for (auto& l : labels) l = static_cast<std::int32_t>(rng.next() % 10);
  return {std::move(px), {32, 32, 3}, std::move(labels),
          sq::data::cifar10_classes(), "random 32x32x3"};
}

// Images per second of the fastest of `epochs` epochs over `data`.
template <class Net, class Opt>
double train_rate(const sq::data::Dataset& data, Opt opt, std::size_t batch,
                  int epochs) {
  sq::Model<Net, Loss> model{sq::Seed{1}};
  const auto h = model.fit(data, opt,
                           {.epochs = epochs, .batch_size = batch,
                            .verbose = sq::Verbosity::kSilent});
  double best = 1e30;
  for (const auto& e : h.epochs) best = std::min(best, e.seconds);
  return double(data.size()) / best;
}

// Median seconds of predict() over `count` images at a time.
template <class Net>
double predict_seconds(const sq::data::Dataset& data, std::size_t count,
                       int rounds) {
  sq::Model<Net, Loss> model{sq::Seed{1}};
  const auto shape = data.shape();
  std::vector<double> times;
  for (int r = -3; r < rounds; ++r) {  // 3 warm-up rounds
    const std::size_t first = (static_cast<std::size_t>(r + 3) * count) %
                              (data.size() - count + 1);
    const sq::data::ImageView view{
        data.images().pixels.subspan(first * shape.size(), count * shape.size()),
        count, shape};
    const auto start = std::chrono::steady_clock::now();
    const auto p = model.predict(view, count);
    const double s = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    if (p.labels.empty()) std::puts("");
    if (r >= 0) times.push_back(s);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

int main(int argc, char** argv) {
  const double scale = argc > 1 ? std::atof(argv[1]) : 1.0;  // data size
  std::printf("threads: %d\n", sq::num_threads());
  const auto small = random_images(static_cast<std::size_t>(4000 * scale));
  const auto vgg_data = random_images(static_cast<std::size_t>(1280 * scale));
  const sq::SGD sgd{.lr = 1e-3f, .momentum = 0.9f};
  std::printf("lenet_train_bs4_img_s: %.0f\n",
              train_rate<LeNet>(small, sgd, 4, 2));
  std::printf("lenet_train_bs64_img_s: %.0f\n",
              train_rate<LeNet>(small, sgd, 64, 3));
  std::printf("lenet_infer_bs1_us: %.2f\n",
              predict_seconds<LeNet>(small, 1, 2001) * 1e6);
  std::printf("vgg_train_bs64_img_s: %.0f\n",
              train_rate<Vgg>(vgg_data, sq::Adam{}, 64, 3));
  std::printf("vgg_infer_bs64_img_s: %.0f\n",
              64.0 / predict_seconds<Vgg>(vgg_data, 64, 21));
  std::printf("vgg_infer_bs1_us: %.1f\n",
              predict_seconds<Vgg>(vgg_data, 1, 201) * 1e6);
  return 0;
}
