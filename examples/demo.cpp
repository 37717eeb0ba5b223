// The main job, end to end: train the Fashion-MNIST CNN, then write what a
// person looks at — curves, confusion matrix, misclassified images, the
// per-class report, the history, the model file — and classify a few images
// from PNG files the way a user's own pictures would be.
//
//   demo [--out DIR] [--epochs N] [--batch N] [--data DIR]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common.hpp"
#include "fashion_cnn.hpp"

namespace sq = sequent;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  try {
    const auto args = examples::parse_args(
        argc, argv, "demo [--out DIR] [--epochs N] [--batch N] [--data DIR]");
    const auto start = std::chrono::steady_clock::now();
    const fs::path out = args.out;
    fs::create_directories(out / "samples");
    const auto [train, test] = sq::data::fashion_mnist(args.data_dir);
    const auto& names = train.class_names();
    std::printf("Fashion-MNIST: %zu training, %zu test images (%s)\n\n",
                train.size(), test.size(), train.source().c_str());

    examples::FashionCnn<> model{sq::Seed{7}};
    std::cout << model.summary() << "\n";
    sq::CSVLogger csv(out / "history.csv");
    // Adam with the rate decaying along a cosine over the run: the last
    // epochs at a small rate settle the weights (and BatchNorm's statistics)
    // that the regularised network has found.
    const int epochs = args.epochs ? args.epochs : 6;
    sq::LearningRateScheduler schedule(
        sq::schedules::cosine(1e-3f, epochs, 2e-5f));
    const auto history = model.fit(train, sq::Adam{.lr = 1e-3f},
                                   {.epochs = epochs,
                                    .batch_size = args.batch ? args.batch : 64,
                                    .validation = &test,
                                    .callbacks = {&csv, &schedule}});
    std::cout << "\n" << history.to_string() << "\n";

    const fs::path model_file = out / "fashion_cnn.sqm";
    model.save(model_file);
    const auto pred = model.predict(test);
    const auto report =
        sq::metrics::classification_report(pred, test.labels(), names, 4);
    std::ofstream(out / "report.txt") << report;
    std::cout << report << "\n";

    sq::plot::history(history, out / "curves.png",
                      "Fashion-MNIST CNN: loss and accuracy");
    sq::plot::confusion_matrix(
        sq::metrics::confusion_matrix(pred.labels, test.labels(), names.size()),
        names, out / "confusion.png", "Fashion-MNIST CNN: confusion matrix");
    sq::plot::samples(test.images(), pred.labels, test.labels(), names,
                      out / "misclassified.png", 36,
                      "Test images, misclassified first");

    // A few test images as PNG files, classified back from the files.
    std::ofstream predictions(out / "predictions.txt");
    for (std::size_t i = 0; i < 8; ++i) {
      std::string name = names[test.labels()[i]];
      for (char& c : name) c = (c == '/' || c == ' ') ? '_' : c;
      const fs::path png =
          out / "samples" / (std::to_string(i) + "_" + name + ".png");
      sq::data::write_png(png, test.shape(), test.image(i));
      const auto image = sq::data::load_image(
          png, sq::data::input_image_options<examples::FashionCnn<>>());
      const auto p =
          model.predict(sq::data::ImageView{image.pixels, 1, image.shape});
      char line[256];
      std::snprintf(line, sizeof line, "%s -> %s (%.3f)\n",
                    png.filename().c_str(), names[p.labels[0]].c_str(),
                    p.row(0)[p.labels[0]]);
      predictions << line;
      std::printf("%s", line);
    }

    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    std::printf("\nwrote:\n");
    for (const char* f :
         {"curves.png", "confusion.png", "misclassified.png", "report.txt",
          "history.csv", "fashion_cnn.sqm", "predictions.txt", "samples/"}) {
      std::printf("  %s\n", (out / f).c_str());
    }
    std::printf(
        "classify your own images: ./sequent.sh run predict --model "
        "%s IMAGE...\n",
        model_file.c_str());
    std::printf("wall_seconds: %.1f\n", seconds);
    std::printf("test_accuracy: %.4f\n", model.evaluate(test).accuracy);
  } catch (const std::exception& e) {
    std::cerr << "demo: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
