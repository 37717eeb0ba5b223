// The four pictures of plot.hpp: learning curves, runs compared, the
// confusion-matrix heat map and the grid of samples.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "axes.hpp"
#include "canvas.hpp"
#include "sequent/plot/plot.hpp"

namespace sequent::plot {
namespace {

using detail::Align;
using detail::Canvas;
using detail::kInk;
using detail::kLabelScale;
using detail::kTitleBand;
using detail::LegendEntry;
using detail::Rect;
using detail::Rgb;
using detail::Series;
using detail::text_height;
using detail::text_width;

// Learning-curve pictures: two panels of this size side by side.
constexpr int kCurvesWidth = 1000;
constexpr int kPanelHeight = 370;
constexpr int kMargin = 16;

constexpr Rgb kWrong{200, 30, 30};  // misclassified
constexpr Rgb kRight{20, 130, 50};  // correctly classified

// The epoch number of record i: as recorded, or its position if unset.
double epoch_of(const History& h, std::size_t i) {
  const int e = h.epochs[i].epoch;
  return e > 0 ? e : static_cast<double>(i + 1);
}

Series curve(const History& h, double EpochRecord::*metric, Rgb color,
             bool dashed) {
  Series s;
  s.color = color;
  s.dashed = dashed;
  for (std::size_t i = 0; i < h.epochs.size(); ++i) {
    s.x.push_back(epoch_of(h, i));
    s.y.push_back(h.epochs[i].*metric);
  }
  return s;
}

bool any_finite(const History& h, double EpochRecord::*metric) {
  return std::any_of(
      h.epochs.begin(), h.epochs.end(),
      [&](const EpochRecord& e) { return std::isfinite(e.*metric); });
}

// One run on the learning-curve panels: its record, legend labels and
// colours.
struct RunCurves {
  const History* history = nullptr;
  std::string train_label, val_label;
  Rgb train_color, val_color;
};

// The loss and accuracy panels, training solid and validation dashed, and
// the legend below them.
void draw_curves(const std::vector<RunCurves>& runs,
                 const std::filesystem::path& png, const std::string& title) {
  std::vector<Series> loss, accuracy;
  std::vector<LegendEntry> entries;
  for (const RunCurves& run : runs) {
    const History& h = *run.history;
    loss.push_back(curve(h, &EpochRecord::loss, run.train_color, false));
    accuracy.push_back(
        curve(h, &EpochRecord::accuracy, run.train_color, false));
    // The legend lists only what is drawn.
    if (any_finite(h, &EpochRecord::loss) ||
        any_finite(h, &EpochRecord::accuracy)) {
      entries.push_back({run.train_label, run.train_color, false});
    }
    if (any_finite(h, &EpochRecord::val_loss) ||
        any_finite(h, &EpochRecord::val_accuracy)) {
      loss.push_back(curve(h, &EpochRecord::val_loss, run.val_color, true));
      accuracy.push_back(
          curve(h, &EpochRecord::val_accuracy, run.val_color, true));
      entries.push_back({run.val_label, run.val_color, true});
    }
  }
  const int legend_h = detail::legend_height(entries, kCurvesWidth);
  Canvas canvas(kCurvesWidth, kTitleBand + kPanelHeight + legend_h + kMargin,
                detail::kWhite);
  detail::title(canvas, title);
  const int panel_w = (kCurvesWidth - 2 * kMargin) / 2;
  detail::line_chart(canvas, {kMargin, kTitleBand, panel_w, kPanelHeight},
                     "Loss", "epoch", "loss", loss);
  detail::line_chart(canvas,
                     {kMargin + panel_w, kTitleBand, panel_w, kPanelHeight},
                     "Accuracy", "epoch", "accuracy", accuracy);
  detail::legend(canvas, {0, kTitleBand + kPanelHeight, kCurvesWidth, legend_h},
                 entries);
  canvas.save_png(png);
}

// matplotlib's "Blues" colour map, sampled at five stops: t = 0 is almost
// white, t = 1 dark blue.
Rgb heat_color(double t) {
  static constexpr Rgb kStops[] = {{247, 251, 255},
                                   {198, 219, 239},
                                   {107, 174, 214},
                                   {33, 113, 181},
                                   {8, 48, 107}};
  const double at = std::clamp(t, 0.0, 1.0) * (std::size(kStops) - 1);
  const auto i = std::min(static_cast<std::size_t>(at), std::size(kStops) - 2);
  return detail::mix(kStops[i], kStops[i + 1], at - static_cast<double>(i));
}

// Text that stays legible on a filled background.
Rgb ink_on(Rgb background) {
  return detail::luminance(background) < 0.5 ? detail::kWhite : kInk;
}

std::string class_name(const std::vector<std::string>& names,
                       std::int64_t label) {
  if (label >= 0 && static_cast<std::size_t>(label) < names.size()) {
    return names[static_cast<std::size_t>(label)];
  }
  return std::to_string(label);
}

void no_data_picture(const std::string& title, const std::string& message,
                     const std::filesystem::path& png) {
  Canvas canvas(
      std::max(480, text_width(title, detail::kTitleScale) + 2 * kMargin),
      kTitleBand + 100, detail::kWhite);
  detail::title(canvas, title);
  detail::note(canvas, canvas.width() / 2, kTitleBand + 40, message);
  canvas.save_png(png);
}

}  // namespace

void history(const History& h, const std::filesystem::path& png,
             const std::string& title) {
  draw_curves({{&h, "train", "validation", detail::series_color(0),
                detail::series_color(1)}},
              png, title);
}

void compare(const std::vector<Run>& runs, const std::filesystem::path& png,
             const std::string& title) {
  std::vector<RunCurves> curves;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const Rgb color = detail::series_color(r);
    curves.push_back({&runs[r].history, runs[r].name + " train",
                      runs[r].name + " val", color, color});
  }
  draw_curves(curves, png, title);
}

void confusion_matrix(const metrics::ConfusionMatrix& m,
                      const std::vector<std::string>& class_names,
                      const std::filesystem::path& png,
                      const std::string& title) {
  const std::size_t n = m.classes;
  if (m.counts.size() != n * n) {
    throw std::invalid_argument("plot::confusion_matrix: " + std::to_string(n) +
                                " classes need " + std::to_string(n * n) +
                                " counts, the matrix has " +
                                std::to_string(m.counts.size()));
  }
  if (!class_names.empty() && class_names.size() != n) {
    throw std::invalid_argument(
        "plot::confusion_matrix: " + std::to_string(class_names.size()) +
        " class names for " + std::to_string(n) + " classes");
  }
  if (n == 0) return no_data_picture(title, "no data", png);

  std::size_t largest = 0, diagonal = 0;
  int widest_count = 0, widest_name = 0;
  for (std::size_t t = 0; t < n; ++t) {
    diagonal += m.at(t, t);
    widest_name = std::max(widest_name,
                           text_width(class_name(class_names, t), kLabelScale));
    for (std::size_t p = 0; p < n; ++p) {
      largest = std::max(largest, m.at(t, p));
      widest_count = std::max(
          widest_count, text_width(std::to_string(m.at(t, p)), kLabelScale));
    }
  }
  // Cells wide enough for their counts; many classes shrink them, and then
  // counts and names are left out when they no longer fit.
  const int cell = std::min(
      std::max(44, widest_count + 16),
      std::max(4, 900 / static_cast<int>(std::min<std::size_t>(n, 900))));
  const int label_h = text_height(kLabelScale);
  const bool show_counts = widest_count + 6 <= cell;
  const bool show_names = label_h + 4 <= cell;
  const bool names_upright = widest_name + 8 <= cell;  // else turned
  const int grid = cell * static_cast<int>(n);

  // The colour scale runs from 0 to the largest count, the darkest cell.
  const double scale_top = std::max<double>(largest, 1);
  std::vector<double> scale_ticks;
  for (double v : detail::nice_ticks(0, scale_top, 5, true).values) {
    if (v <= scale_top) scale_ticks.push_back(v);
  }
  int widest_scale_label = 0;
  for (double v : scale_ticks) {
    widest_scale_label = std::max(
        widest_scale_label, text_width(detail::tick_label(v, 0), kLabelScale));
  }
  const int subtitle_band = 30;
  const int left = kMargin + label_h + 14 + (show_names ? widest_name + 10 : 0);
  const int top = kTitleBand + subtitle_band;
  const int names_below =
      show_names ? (names_upright ? label_h : widest_name) + 10 : 0;
  const int bar_x = left + grid + 24;
  const int width =
      std::max(bar_x + 20 + 10 + widest_scale_label + kMargin,
               text_width(title, detail::kTitleScale) + 2 * kMargin);
  Canvas canvas(width, top + grid + names_below + 14 + label_h + kMargin,
                detail::kWhite);
  detail::title(canvas, title);
  const std::size_t total = m.total();
  if (total > 0) {
    char subtitle[96];
    std::snprintf(
        subtitle, sizeof subtitle, "accuracy %.1f%% of %zu samples",
        100.0 * static_cast<double>(diagonal) / static_cast<double>(total),
        total);
    canvas.text(left + grid / 2, kTitleBand - 6, subtitle, detail::kNoteInk,
                kLabelScale, Align::kCenter);
  }

  for (std::size_t t = 0; t < n; ++t) {
    const int y = top + static_cast<int>(t) * cell;
    for (std::size_t p = 0; p < n; ++p) {
      const int x = left + static_cast<int>(p) * cell;
      const double share = static_cast<double>(m.at(t, p)) / scale_top;
      const Rgb fill = heat_color(share);
      canvas.fill_rect(x, y, cell, cell, fill);
      if (show_counts) {
        canvas.text(x + cell / 2, y + (cell - label_h) / 2,
                    std::to_string(m.at(t, p)), ink_on(fill), kLabelScale,
                    Align::kCenter);
      }
    }
  }
  canvas.frame_rect(left - 1, top - 1, grid + 2, grid + 2, detail::kAxisInk);
  if (show_names) {
    for (std::size_t c = 0; c < n; ++c) {
      const std::string name = class_name(class_names, c);
      const int middle = static_cast<int>(c) * cell + cell / 2;
      canvas.text(left - 10, top + middle - label_h / 2, name, kInk,
                  kLabelScale, Align::kRight);
      if (names_upright) {
        canvas.text(left + middle, top + grid + 10, name, kInk, kLabelScale,
                    Align::kCenter);
      } else {
        // Turned text, its end against the grid like matplotlib's rotated
        // labels.
        const int w = text_width(name, kLabelScale);
        canvas.text_up(left + middle, top + grid + 10 + w / 2, name, kInk,
                       kLabelScale);
      }
    }
  }
  canvas.text_up(kMargin + label_h / 2, top + grid / 2, "true", kInk,
                 kLabelScale);
  canvas.text(left + grid / 2, top + grid + names_below + 14, "predicted", kInk,
              kLabelScale, Align::kCenter);

  // The colour scale, largest count at the top.
  for (int row = 0; row < grid; ++row) {
    canvas.fill_rect(bar_x, top + row, 20, 1,
                     heat_color(1.0 - (row + 0.5) / grid));
  }
  canvas.frame_rect(bar_x, top, 20, grid, detail::kAxisInk);
  for (double v : scale_ticks) {
    const int y =
        top + grid - static_cast<int>(std::lround(v / scale_top * grid));
    canvas.fill_rect(bar_x + 20, y, 4, 1, detail::kAxisInk);
    canvas.text(bar_x + 28, y - label_h / 2, detail::tick_label(v, 0), kInk,
                kLabelScale);
  }
  canvas.save_png(png);
}

void samples(const data::ImageView& images,
             std::span<const std::int32_t> predicted,
             std::span<const std::int32_t> truth,
             const std::vector<std::string>& class_names,
             const std::filesystem::path& png, std::size_t max_images,
             const std::string& title) {
  const data::ImageShape& shape = images.shape;
  if (truth.size() != images.count || predicted.size() != images.count) {
    throw std::invalid_argument(
        "plot::samples: " + std::to_string(images.count) + " images, " +
        std::to_string(predicted.size()) + " predicted labels and " +
        std::to_string(truth.size()) + " true labels");
  }
  if (images.count > 0 && (shape.height <= 0 || shape.width <= 0 ||
                           shape.channels < 1 || shape.channels > 4)) {
    throw std::invalid_argument("plot::samples: cannot draw images of shape " +
                                data::to_string(shape) + " (1 to 4 channels)");
  }
  if (images.pixels.size() != images.count * shape.size()) {
    throw std::invalid_argument(
        "plot::samples: " + std::to_string(images.count) + " images of " +
        data::to_string(shape) + " need " +
        std::to_string(images.count * shape.size()) + " bytes, the view has " +
        std::to_string(images.pixels.size()));
  }

  // Misclassified first, then the correct ones, each in dataset order.
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < images.count; ++i) {
    if (truth[i] != predicted[i]) order.push_back(i);
  }
  const std::size_t wrong = order.size();
  for (std::size_t i = 0; i < images.count; ++i) {
    if (truth[i] == predicted[i]) order.push_back(i);
  }
  order.resize(std::min(order.size(), max_images));
  if (order.empty()) return no_data_picture(title, "no images", png);

  // Small images are enlarged by a whole factor to about 128 pixels (28 → 112),
  // large ones shrunk to 160.
  const int longest = std::max(shape.height, shape.width);
  const double zoom =
      longest <= 128 ? std::max(1, 128 / longest) : 160.0 / longest;
  const int image_w = std::max(1, static_cast<int>(shape.width * zoom));
  const int image_h = std::max(1, static_cast<int>(shape.height * zoom));
  constexpr int kFrame = 3, kGap = 12, kMaxCaption = 240;
  const int label_h = text_height(kLabelScale);
  std::vector<std::string> captions;
  int widest_caption = 0;
  for (std::size_t i : order) {
    for (const std::string& line :
         {"true: " + class_name(class_names, truth[i]),
          "pred: " + class_name(class_names, predicted[i])}) {
      captions.push_back(detail::fit_text(line, kMaxCaption, kLabelScale));
      widest_caption =
          std::max(widest_caption, text_width(captions.back(), kLabelScale));
    }
  }
  const int cell_w = std::max(image_w + 2 * kFrame, widest_caption) + 2 * kGap;
  const int cell_h = image_h + 2 * kFrame + 8 + 2 * (label_h + 8) + kGap;
  const int shown = static_cast<int>(order.size());
  int columns =
      static_cast<int>(std::ceil(std::sqrt(static_cast<double>(shown))));
  columns = std::clamp(1600 / cell_w, 1, columns);
  const int rows = (shown + columns - 1) / columns;
  const int subtitle_band = 30;
  Canvas canvas(std::max(columns * cell_w + 2 * kMargin,
                         text_width(title, detail::kTitleScale) + 2 * kMargin),
                kTitleBand + subtitle_band + rows * cell_h + kMargin,
                detail::kWhite);
  detail::title(canvas, title);
  std::string subtitle = std::to_string(wrong) + " of " +
                         std::to_string(images.count) + " misclassified";
  if (order.size() < images.count) {
    subtitle += ", " + std::to_string(shown) + " shown";
  }
  canvas.text(canvas.width() / 2, kTitleBand - 6, subtitle, detail::kNoteInk,
              kLabelScale, Align::kCenter);

  const int grid_x = (canvas.width() - columns * cell_w) / 2;
  for (int k = 0; k < shown; ++k) {
    const std::size_t i = order[static_cast<std::size_t>(k)];
    const Rgb verdict = truth[i] == predicted[i] ? kRight : kWrong;
    const int x = grid_x + (k % columns) * cell_w;
    const int y = kTitleBand + subtitle_band + (k / columns) * cell_h;
    const int frame_x = x + (cell_w - image_w - 2 * kFrame) / 2;
    canvas.fill_rect(frame_x, y, image_w + 2 * kFrame, image_h + 2 * kFrame,
                     verdict);
    canvas.image(frame_x + kFrame, y + kFrame, image_w, image_h,
                 images.pixels.subspan(i * shape.size(), shape.size()),
                 shape.width, shape.height, shape.channels);
    const int caption_y = y + image_h + 2 * kFrame + 8;
    canvas.text(x + cell_w / 2, caption_y, captions[2 * k], verdict,
                kLabelScale, Align::kCenter);
    canvas.text(x + cell_w / 2, caption_y + label_h + 8, captions[2 * k + 1],
                verdict, kLabelScale, Align::kCenter);
  }
  canvas.save_png(png);
}

}  // namespace sequent::plot
