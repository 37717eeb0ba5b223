// Pictures of a training run, written as PNG files: learning curves, several
// runs on one chart, a confusion-matrix heat map and a grid of sample images.
//
//   auto history = model.fit(train, sq::Adam{}, {.validation = &test});
//   sq::plot::history(history, "curves.png");
//   sq::plot::confusion_matrix(cm, test.class_names(), "confusion.png");
//
// Every function draws the whole picture in memory, then writes it to a
// temporary file beside `png` and renames it over `png`, so a failed write
// never leaves half a PNG. It throws std::runtime_error naming the file when
// the file cannot be written, and std::invalid_argument (naming the sizes)
// when its inputs disagree with each other. Values that are NaN or infinite
// are left out (a gap in a curve); empty inputs give a picture that says
// "no data" rather than an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "sequent/data/dataset.hpp"
#include "sequent/metrics/metrics.hpp"
#include "sequent/train/history.hpp"

namespace sequent::plot {

// One training run of a comparison: its name in the legend and its record.
struct Run {
  std::string name;
  History history;
};

// Two panels side by side, loss and accuracy against the epoch: training in
// a solid line, validation dashed in a second colour (when validated), with
// ticks, a legend and `title`. About 1000×450 pixels.
void history(const History& h, const std::filesystem::path& png,
             const std::string& title = "Training history");

// Several runs on the same two panels (loss, accuracy), one colour per run:
// "name train" solid, "name val" dashed. Runs may have different lengths.
void compare(const std::vector<Run>& runs, const std::filesystem::path& png,
             const std::string& title = "Runs compared");

// A heat map with true classes in rows and predicted classes in columns, the
// count written in each cell and a colour scale. class_names is empty (the
// classes are then called 0, 1, …) or has one name per class; otherwise, or
// when m.counts is not classes × classes, std::invalid_argument.
void confusion_matrix(const metrics::ConfusionMatrix& m,
                      const std::vector<std::string>& class_names,
                      const std::filesystem::path& png,
                      const std::string& title = "Confusion matrix");

// Up to max_images of `images` in a grid, each captioned "true: X" and
// "pred: Y": the misclassified ones first (red caption and frame), then the
// correct ones (green), each group in dataset order. The predicted labels
// come first, then the true ones, as in metrics::confusion_matrix and
// classification_report. Requires
// predicted.size() == truth.size() == images.count, 1 to 4 channels
// (grey, grey+alpha, RGB, RGBA; alpha is ignored) and images.pixels holding
// count × shape.size() bytes; otherwise std::invalid_argument. A label that
// has no name in class_names is shown as its number.
void samples(const data::ImageView& images,
             std::span<const std::int32_t> predicted,
             std::span<const std::int32_t> truth,
             const std::vector<std::string>& class_names,
             const std::filesystem::path& png, std::size_t max_images = 36,
             const std::string& title = "Misclassified first");

}  // namespace sequent::plot
