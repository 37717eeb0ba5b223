// The Dropout lab: the same CNN trained with and without Dropout on a small
// training set (where overfitting shows quickly), both runs' curves on one
// chart, and each run's final gap between training and validation accuracy.
//
//   dropout_study [--epochs N] [--out DIR] [--data DIR]
#include <cstdio>
#include <filesystem>

#include "common.hpp"
#include "fashion_cnn.hpp"

namespace sq = sequent;

template <bool WithDropout>
sq::History run(const sq::data::Dataset& train, const sq::data::Dataset& test,
                int epochs) {
  examples::FashionCnn<WithDropout> model{sq::Seed{3}};
  std::printf("\n== %s Dropout ==\n", WithDropout ? "with" : "without");
  return model.fit(train, sq::Adam{.lr = 1e-3f},
                   {.epochs = epochs, .batch_size = 64, .validation = &test});
}

int main(int argc, char** argv) {
  try {
    const auto args = examples::parse_args(
        argc, argv, "dropout_study [--epochs N] [--out DIR] [--data DIR]");
    std::filesystem::create_directories(args.out);
    const auto [full, test] = sq::data::fashion_mnist(args.data_dir);
    // 6,000 training images: few enough that the plain network memorises
    // them within a few epochs.
    const auto train = full.slice(0, 6000);
    const int epochs = args.epochs ? args.epochs : 15;
    const auto with = run<true>(train, test, epochs);
    const auto without = run<false>(train, test, epochs);
    const auto png = std::filesystem::path(args.out) / "dropout_study.png";
    sq::plot::compare({{"dropout", with}, {"no dropout", without}}, png,
                      "CNN on 6,000 Fashion-MNIST images: Dropout or not");
    std::printf("\nwrote %s\n", png.c_str());
    for (const auto& [name, h] : {std::pair{"with_dropout", &with},
                                  std::pair{"without_dropout", &without}}) {
      const auto& e = h->last();
      std::printf("%s: train_accuracy %.4f val_accuracy %.4f gap %.4f\n", name,
                  e.accuracy, e.val_accuracy, e.accuracy - e.val_accuracy);
    }
  } catch (const std::exception& e) {
    std::cerr << "dropout_study: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
