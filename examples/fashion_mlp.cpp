// A dense network on Fashion-MNIST: Flatten, Dense<128>, ReLU, Dense<10>,
// Softmax, trained with Adam (lr 1e-3) at batch 32 for 5 epochs.
//
//   fashion_mlp [--data DIR] [--epochs N] [--batch B]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <sequent/sequent.hpp>
#include <string>

namespace sq = sequent;

using Net = sq::Sequential<sq::Input<28, 28, 1>,  //
                           sq::Flatten,           //
                           sq::Dense<128>, sq::ReLU,
                           sq::Dense<10>, sq::Softmax>;

int main(int argc, char** argv) {
  std::optional<std::string> data_dir;
  int epochs = 5;
  std::size_t batch = 32;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--data" && has_value) {
      data_dir = argv[++i];
    } else if (arg == "--epochs" && has_value) {
      epochs = std::atoi(argv[++i]);
    } else if (arg == "--batch" && has_value) {
      batch = static_cast<std::size_t>(std::atol(argv[++i]));
    } else {
      std::cerr << "usage: fashion_mlp [--data DIR] [--epochs N] [--batch B]\n";
      return 2;
    }
  }
  try {
    auto [train, test] = sq::data::fashion_mnist(data_dir);
    std::cout << "Fashion-MNIST: " << train.size() << " training and "
              << test.size() << " test images from " << train.source()
              << "\n\n";

    sq::Model<Net, sq::SparseCategoricalCrossentropy> model{sq::Seed{7}};
    std::cout << model.summary() << "\n";

    const auto history =
        model.fit(train, sq::Adam{.lr = 1e-3f},
                  {.epochs = epochs, .batch_size = batch, .validation = &test});
    std::cout << "\n" << history.to_string() << "\n";

    const auto result = model.evaluate(test);
    std::printf("test_loss: %.4f\ntest_accuracy: %.4f\n", result.loss,
                result.accuracy);
  } catch (const std::exception& e) {
    std::cerr << "fashion_mlp: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
