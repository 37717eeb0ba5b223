// A VGG-like network with BatchNorm and Dropout, the CIFAR-10 exercise that
// reaches about 80%: three blocks of two 3×3 convolutions with BatchNorm and
// ReLU, max-pool and Dropout 0.25; then Dense 128, Dropout 0.5, Dense 10.
// Adam, batch 64, random flips and shifts while training.
//
//   vgg_bn [--dataset fashion-mnist|cifar10] [--data DIR] [--epochs N]
//          [--batch N]
#include <cstdio>

#include "common.hpp"

namespace sq = sequent;

template <int H, int W, int C>
using Vgg = sq::Sequential<
    sq::Input<H, W, C>,
    sq::Conv2D<32, 3, sq::Same>, sq::BatchNorm<>, sq::ReLU,
    sq::Conv2D<32, 3, sq::Same>, sq::BatchNorm<>, sq::ReLU,
    sq::MaxPool2D<2>, sq::Dropout<0.25>,
    sq::Conv2D<64, 3, sq::Same>, sq::BatchNorm<>, sq::ReLU,
    sq::Conv2D<64, 3, sq::Same>, sq::BatchNorm<>, sq::ReLU,
    sq::MaxPool2D<2>, sq::Dropout<0.25>,
    sq::Conv2D<128, 3, sq::Same>, sq::BatchNorm<>, sq::ReLU,
    sq::Conv2D<128, 3, sq::Same>, sq::BatchNorm<>, sq::ReLU,
    sq::MaxPool2D<2>, sq::Dropout<0.25>,
    sq::Flatten, sq::Dense<128>, sq::ReLU, sq::Dropout<0.5>,
    sq::Dense<10>, sq::Softmax>;

int main(int argc, char** argv) {
  try {
    const auto args = examples::parse_args(
        argc, argv,
        "vgg_bn [--dataset fashion-mnist|cifar10] [--data DIR] [--epochs N] "
        "[--batch N]");
    const auto data = examples::load(args);
    return examples::with_input_shape(args, [&]<int H, int W, int C>() {
      sq::Model<Vgg<H, W, C>, sq::SparseCategoricalCrossentropy> model{
          sq::Seed{1}};
      std::cout << model.summary() << "\n";
      const auto history = model.fit(
          data.train, sq::Adam{.lr = 1e-3f},
          {.epochs = args.epochs ? args.epochs : 5,
           .batch_size = args.batch ? args.batch : 64,
           .validation = &data.test,
           .augmentation = {.horizontal_flip = true, .max_shift = 2}});
      std::cout << "\n" << history.to_string() << "\n";
      const auto pred = model.predict(data.test);
      std::cout << sq::metrics::classification_report(
                       pred, data.test.labels(), data.test.class_names())
                << "\n";
      std::printf("test_accuracy: %.4f\n", model.evaluate(data.test).accuracy);
      return 0;
    });
  } catch (const std::exception& e) {
    std::cerr << "vgg_bn: " << e.what() << "\n";
    return 1;
  }
}
