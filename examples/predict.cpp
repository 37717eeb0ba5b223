// Give it image files, get the class names back:
//
//   predict --model out/fashion_cnn.sqm [--invert auto|yes|no] IMAGE...
//
// prints per image its most likely class and the three most likely with
// their probabilities:
//
//   shoe.png: Sneaker  (Sneaker 0.912, Sandal 0.061, Ankle boot 0.020)
//
// The model file must hold the Fashion-MNIST CNN of examples/fashion_cnn.hpp
// (a file of another architecture is refused, naming both); the class names
// are those the file recorded when the model was trained. Each image (PNG,
// JPEG, BMP, GIF, PGM/PPM) is converted to the model's Input. Fashion-MNIST
// shows light clothes on black; a photo of dark clothes on a light
// background must be inverted, which "auto" (the default) does when the
// image's border is mostly light (ImageOptions::invert_light_background).
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include "fashion_cnn.hpp"

namespace sq = sequent;

int main(int argc, char** argv) {
  std::string model_path, invert = "auto";
  std::vector<std::string> images;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--model" && i + 1 < argc) {
      model_path = argv[++i];
    } else if (arg == "--invert" && i + 1 < argc) {
      invert = argv[++i];
    } else {
      images.push_back(arg);
    }
  }
  if (model_path.empty() || images.empty() ||
      (invert != "auto" && invert != "yes" && invert != "no")) {
    std::cerr << "usage: predict --model FILE [--invert auto|yes|no] "
                 "IMAGE...\n";
    return 2;
  }
  try {
    using Model = examples::FashionCnn<>;
    auto model = Model::load(model_path);
    std::vector<std::string> names = model.class_names();
    if (names.empty()) {  // a file of format version 1
      std::cerr << "predict: " << model_path
                << " records no class names; printing class numbers\n";
      for (std::size_t c = 0; c < Model::output_size; ++c) {
        names.push_back(std::to_string(c));
      }
    }
    sq::data::ImageOptions options = sq::data::input_image_options<Model>();
    options.invert = invert == "yes";
    options.invert_light_background = invert == "auto";
    const int top = static_cast<int>(std::min<std::size_t>(3, names.size()));
    int failures = 0;
    for (const std::string& path : images) {
      try {
        const auto image = sq::data::load_image(path, options);
        const auto p = model.predict(image);
        const auto row = p.row(0);
        std::vector<int> order(row.size());
        std::iota(order.begin(), order.end(), 0);
        // Ties keep the lower class first, as the model's argmax does.
        std::partial_sort(
            order.begin(), order.begin() + top, order.end(), [&](int a, int b) {
              return row[a] > row[b] || (row[a] == row[b] && a < b);
            });
        std::printf("%s: %s  (", path.c_str(), names[order[0]].c_str());
        for (int k = 0; k < top; ++k) {
          std::printf("%s%s %.3f", k ? ", " : "", names[order[k]].c_str(),
                      row[order[k]]);
        }
        std::printf(")\n");
      } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", path.c_str(), e.what());
        ++failures;
      }
    }
    return failures ? 1 : 0;
  } catch (const std::exception& e) {
    std::cerr << "predict: " << e.what() << "\n";
    return 1;
  }
}
