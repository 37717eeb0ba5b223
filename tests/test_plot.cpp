// The pictures, decoded again with stb_image: their sizes, that the curves,
// cells, captions and legends are really drawn where they should be, that
// degenerate inputs (NaN, empty, one epoch, flat curves) still give a valid
// PNG, and that bad inputs and bad paths throw with a useful message.
#define BOOST_TEST_MODULE plot
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <ostream>
#include <sequent/plot/plot.hpp>
#include <stdexcept>
#include <string>
#include <vector>

// The library keeps its own stb symbols private; the test decodes with a
// private copy of the decoder.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

#include "temp_dir.hpp"

namespace fs = std::filesystem;
namespace plot = sequent::plot;
using sequent::EpochRecord;
using sequent::History;

namespace {

struct Rgb {
  int r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
  double luminance() const { return 0.2126 * r + 0.7152 * g + 0.0722 * b; }
  friend std::ostream& operator<<(std::ostream& out, const Rgb& c) {
    return out << "rgb(" << c.r << "," << c.g << "," << c.b << ")";
  }
};

// The colours the pictures promise: the tab10 palette, whose first two
// colours are train and validation in history(); the caption colours of
// samples; and the ends of the confusion matrix's colour scale.
constexpr Rgb kRunColors[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}};
constexpr Rgb kTrainColor = kRunColors[0];
constexpr Rgb kValidationColor = kRunColors[1];
constexpr Rgb kWrongColor{200, 30, 30};
constexpr Rgb kRightColor{20, 130, 50};
constexpr Rgb kHeatMax{8, 48, 107};
constexpr Rgb kHeatZero{247, 251, 255};
constexpr Rgb kWhite{255, 255, 255};

bool is_dark(Rgb c) { return c.luminance() < 100; }

struct Picture {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;

  explicit Picture(const fs::path& png) {
    int channels = 0;
    stbi_uc* data = stbi_load(png.c_str(), &width, &height, &channels, 3);
    BOOST_REQUIRE_MESSAGE(data != nullptr, "cannot decode "
                                               << png << ": "
                                               << stbi_failure_reason());
    rgb.assign(data, data + static_cast<std::size_t>(width) * height * 3);
    stbi_image_free(data);
  }
  Rgb at(int x, int y) const {
    const std::size_t i = (static_cast<std::size_t>(y) * width + x) * 3;
    return {rgb[i], rgb[i + 1], rgb[i + 2]};
  }
  // Pixels in [x0, x1) × [y0, y1) that satisfy `test`.
  template <class Test>
  int count(int x0, int y0, int x1, int y1, Test test) const {
    int n = 0;
    for (int y = y0; y < y1; ++y) {
      for (int x = x0; x < x1; ++x) n += test(at(x, y)) ? 1 : 0;
    }
    return n;
  }
  int count(int x0, int y0, int x1, int y1, Rgb color) const {
    return count(x0, y0, x1, y1, [&](Rgb c) { return c == color; });
  }
  // Mean row of the pixels of `color` in columns [x0, x1), rows [0, y1).
  double mean_row(int x0, int x1, int y1, Rgb color) const {
    double sum = 0;
    int n = 0;
    for (int y = 0; y < y1; ++y) {
      for (int x = x0; x < x1; ++x) {
        if (at(x, y) == color) {
          sum += y;
          ++n;
        }
      }
    }
    BOOST_REQUIRE_MESSAGE(
        n > 0, "no pixel of the colour in columns " << x0 << ".." << x1);
    return sum / n;
  }
};

using sequent::test::TempDir;

// Loss falling from 2.0 to 0.2 and accuracy rising, validation a bit worse.
History falling_loss(int epochs) {
  History h;
  for (int e = 1; e <= epochs; ++e) {
    const double t = (e - 1.0) / std::max(epochs - 1, 1);
    EpochRecord r;
    r.epoch = e;
    r.loss = 2.0 - 1.8 * t;
    r.accuracy = 0.3 + 0.6 * t;
    r.val_loss = r.loss + 0.3;
    r.val_accuracy = r.accuracy - 0.1;
    r.validated = true;
    h.epochs.push_back(r);
  }
  return h;
}

// The first pixel, in reading order, for which `test` holds.
template <class Test>
std::pair<int, int> first_pixel(const Picture& p, Test test) {
  for (int y = 0; y < p.height; ++y) {
    for (int x = 0; x < p.width; ++x) {
      if (test(p.at(x, y))) return {x, y};
    }
  }
  return {-1, -1};
}

template <class Function>
void check_throws_mentioning(Function f, const std::string& expected) {
  try {
    f();
    BOOST_ERROR("no exception; expected one mentioning '" << expected << "'");
  } catch (const std::exception& e) {
    BOOST_TEST(std::string(e.what()).find(expected) != std::string::npos,
               "'" << e.what() << "' should mention '" << expected << "'");
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(history_pictures)

BOOST_AUTO_TEST_CASE(curves_are_drawn_and_follow_the_values) {
  TempDir dir;
  plot::history(falling_loss(10), dir / "h.png");
  const Picture p(dir / "h.png");
  BOOST_TEST(p.width == 1000);
  BOOST_TEST(p.height >= 420);
  BOOST_TEST(p.height <= 520);
  // The legend sits in the bottom band; the panels are above it, loss on
  // the left half and accuracy on the right one.
  const int panels_bottom = p.height * 85 / 100;
  const int half = p.width / 2;
  BOOST_TEST(p.count(0, 0, half, panels_bottom, kTrainColor) > 200);
  BOOST_TEST(p.count(0, 0, half, panels_bottom, kValidationColor) > 100);
  BOOST_TEST(p.count(half, 0, p.width, panels_bottom, kTrainColor) > 200);
  BOOST_TEST(p.count(half, 0, p.width, panels_bottom, kValidationColor) > 100);

  // Falling loss: the training curve is lower (larger y) at the right end of
  // its panel than at the left end; rising accuracy: the opposite.
  auto ends = [&](int x0, int x1) {
    int first = -1, last = -1;
    for (int x = x0; x < x1; ++x) {
      if (p.count(x, 0, x + 1, panels_bottom, kTrainColor) > 0) {
        if (first < 0) first = x;
        last = x;
      }
    }
    BOOST_REQUIRE(last - first > 200);
    return std::pair{
        p.mean_row(first, first + 15, panels_bottom, kTrainColor),
        p.mean_row(last - 14, last + 1, panels_bottom, kTrainColor)};
  };
  const auto [loss_start, loss_end] = ends(0, half);
  BOOST_TEST(loss_end - loss_start > 150,
             "loss curve from row " << loss_start << " to " << loss_end);
  const auto [accuracy_start, accuracy_end] = ends(half, p.width);
  BOOST_TEST(
      accuracy_start - accuracy_end > 150,
      "accuracy curve from row " << accuracy_start << " to " << accuracy_end);

  // Legend: both line samples and dark text in the bottom band; title and
  // tick labels in dark ink too.
  BOOST_TEST(p.count(0, panels_bottom, p.width, p.height, kTrainColor) > 20);
  BOOST_TEST(p.count(0, panels_bottom, p.width, p.height, kValidationColor) >
             20);
  BOOST_TEST(p.count(0, panels_bottom, p.width, p.height, is_dark) > 100);
  BOOST_TEST(p.count(0, 0, p.width, 50, is_dark) > 100);
  BOOST_TEST(p.count(0, 60, 90, panels_bottom, is_dark) > 200);  // y ticks
}

BOOST_AUTO_TEST_CASE(without_validation_only_the_training_curve) {
  TempDir dir;
  History h = falling_loss(5);
  for (EpochRecord& e : h.epochs) e.val_loss = e.val_accuracy = NAN;
  plot::history(h, dir / "h.png");
  const Picture p(dir / "h.png");
  BOOST_TEST(p.count(0, 0, p.width, p.height, kTrainColor) > 200);
  BOOST_TEST(p.count(0, 0, p.width, p.height, kValidationColor) == 0);
}

BOOST_AUTO_TEST_CASE(empty_and_nan_histories_still_give_a_picture) {
  TempDir dir;
  const double kNan = std::numeric_limits<double>::quiet_NaN();
  const double kInf = std::numeric_limits<double>::infinity();
  History all_nan = falling_loss(6);
  for (EpochRecord& e : all_nan.epochs) {
    e.loss = e.accuracy = e.val_loss = e.val_accuracy = kNan;
  }
  History holes = falling_loss(8);
  holes.epochs[2].loss = kNan;
  holes.epochs[3].val_loss = kInf;
  holes.epochs[5].accuracy = -kInf;
  holes.epochs[6].loss = kNan;  // leaves epoch 8 alone between gaps
  History huge = falling_loss(4);
  huge.epochs[1].loss = std::numeric_limits<double>::max();
  huge.epochs[2].loss = -std::numeric_limits<double>::max();
  History tiny = falling_loss(4);  // differences below double's normal range
  for (EpochRecord& e : tiny.epochs) e.loss = 1e-320 * e.epoch;
  History unnumbered = falling_loss(4);
  for (EpochRecord& e : unnumbered.epochs) e.epoch = 0;

  int i = 0;
  for (const History& h : {History{}, all_nan, holes, huge, tiny, unnumbered}) {
    const fs::path png = dir / ("h" + std::to_string(i++) + ".png");
    BOOST_CHECK_NO_THROW(plot::history(h, png));
    const Picture p(png);
    BOOST_TEST(p.width == 1000);
    BOOST_TEST(p.count(0, 0, p.width, 50, is_dark) > 100);  // the title
  }
  // Nothing to draw means no curve at all, but the frames and "no data".
  const Picture empty(dir / "h0.png");
  BOOST_TEST(empty.count(0, 0, empty.width, empty.height, kTrainColor) == 0);
  BOOST_TEST(empty.count(0, 60, empty.width, empty.height, is_dark) > 500);
  const Picture with_holes(dir / "h2.png");
  BOOST_TEST(with_holes.count(0, 0, 500, with_holes.height, kTrainColor) > 100);
}

BOOST_AUTO_TEST_CASE(missing_values_leave_a_gap) {
  TempDir dir;
  History h = falling_loss(10);
  for (int e = 4; e <= 6; ++e) h.epochs[e - 1].loss = NAN;  // epochs 4, 5, 6
  plot::history(h, dir / "gap.png");
  const Picture p(dir / "gap.png");
  const int panels_bottom = p.height * 85 / 100;
  int first = -1, last = -1;
  for (int x = 0; x < 500; ++x) {
    if (p.count(x, 0, x + 1, panels_bottom, kTrainColor) > 0) {
      if (first < 0) first = x;
      last = x;
    }
  }
  BOOST_REQUIRE(last - first > 200);
  // Epochs 1 and 10 are at the ends; between epochs 4 and 6 (from 3/9 to
  // 5/9 of the way) no training loss may be drawn, neither line nor marker.
  const int gap_from = first + (last - first) * 38 / 100;
  const int gap_to = first + (last - first) * 52 / 100;
  BOOST_TEST(p.count(gap_from, 0, gap_to, panels_bottom, kTrainColor) == 0);
  BOOST_TEST(p.count(gap_from, 0, gap_to, panels_bottom, kValidationColor) >
             10);
}

BOOST_AUTO_TEST_CASE(a_single_epoch_is_a_marker) {
  TempDir dir;
  History one = falling_loss(1);
  one.epochs[0].val_loss = one.epochs[0].val_accuracy = NAN;
  plot::history(one, dir / "one.png");
  const Picture p(dir / "one.png");
  // A dot of radius 3.5: about 20 pixels of full colour in each panel,
  // plus the legend sample below.
  const int panels_bottom = p.height * 85 / 100;
  BOOST_TEST(p.count(0, 0, 500, panels_bottom, kTrainColor) >= 12);
  BOOST_TEST(p.count(500, 0, 1000, panels_bottom, kTrainColor) >= 12);
}

BOOST_AUTO_TEST_CASE(flat_curves_get_a_range_around_their_value) {
  TempDir dir;
  History flat = falling_loss(6);
  for (EpochRecord& e : flat.epochs) {
    e.loss = e.val_loss = 0.5;
    e.accuracy = e.val_accuracy = 0;
  }
  plot::history(flat, dir / "flat.png");
  const Picture p(dir / "flat.png");
  // The loss line is horizontal, in the middle band of the panel.
  const int panels_bottom = p.height * 85 / 100;
  const double row = p.mean_row(0, 500, panels_bottom, kTrainColor);
  BOOST_TEST(row > 150);
  BOOST_TEST(row < 350);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(compare_gives_each_run_its_colour) {
  TempDir dir;
  std::vector<plot::Run> runs{{"dropout", falling_loss(10)},
                              {"no dropout", falling_loss(7)},
                              {"batchnorm", falling_loss(12)}};
  plot::compare(runs, dir / "c.png");
  const Picture p(dir / "c.png");
  BOOST_TEST(p.width == 1000);
  const int panels_bottom = p.height * 80 / 100;
  for (Rgb color : kRunColors) {
    BOOST_TEST(p.count(0, 0, 500, panels_bottom, color) > 100);
    BOOST_TEST(p.count(500, 0, 1000, panels_bottom, color) > 100);
    BOOST_TEST(p.count(0, panels_bottom, 1000, p.height, color) >
               20);  // legend
  }
  BOOST_TEST(p.count(0, panels_bottom, 1000, p.height, is_dark) > 300);

  // No runs, or a run without epochs: a valid picture.
  BOOST_CHECK_NO_THROW(plot::compare({}, dir / "none.png"));
  BOOST_CHECK_NO_THROW(
      plot::compare({{"empty", History{}}, runs[0]}, dir / "some.png"));
  BOOST_TEST(Picture(dir / "none.png").width == 1000);
  BOOST_TEST(
      Picture(dir / "some.png").count(0, 0, 1000, 300, kValidationColor) > 100);
}

BOOST_AUTO_TEST_SUITE(confusion_matrix_pictures)

BOOST_AUTO_TEST_CASE(cells_are_shaded_by_count_with_counts_and_names) {
  TempDir dir;
  sequent::metrics::ConfusionMatrix m{3,
                                      {50, 0, 1,  //
                                       2, 40, 0,  //
                                       0, 5, 30}};
  plot::confusion_matrix(m, {"cat", "dog", "bird"}, dir / "cm.png");
  const Picture p(dir / "cm.png");
  BOOST_TEST(p.width >= 300);
  BOOST_TEST(p.height >= 250);

  // Cell (0, 0) holds the largest count: the darkest colour of the scale.
  // Its top row, free of text, gives its position and size.
  const auto [x0, y0] = first_pixel(p, [](Rgb c) { return c == kHeatMax; });
  BOOST_REQUIRE(x0 >= 0);
  int cell = 0;
  while (p.at(x0 + cell, y0) == kHeatMax) ++cell;
  BOOST_TEST_MESSAGE("grid at " << x0 << "," << y0 << ", cells of " << cell);
  BOOST_REQUIRE(cell >= 20);
  auto cell_color = [&](int t, int pr) {
    return p.at(x0 + pr * cell + 2, y0 + t * cell + 2);
  };
  BOOST_TEST(cell_color(0, 1) == kHeatZero);
  BOOST_TEST(cell_color(1, 1).luminance() < cell_color(0, 1).luminance() - 100);
  BOOST_TEST(cell_color(2, 2).luminance() < cell_color(2, 0).luminance() - 100);
  BOOST_TEST(cell_color(2, 1).luminance() <
             cell_color(2, 0).luminance());  // 5 > 0
  BOOST_TEST(cell_color(1, 0).luminance() <
             cell_color(0, 1).luminance());  // 2 > 0

  // Counts: white ink on the dark cell, dark ink on the pale ones.
  auto inside = [&](int t, int pr, auto test) {
    return p.count(x0 + pr * cell, y0 + t * cell, x0 + (pr + 1) * cell,
                   y0 + (t + 1) * cell, test);
  };
  BOOST_TEST(inside(0, 0, [](Rgb c) { return c == kWhite; }) > 20);
  BOOST_TEST(inside(0, 1, is_dark) > 10);
  // Class names left of the rows and below the columns.
  BOOST_TEST(p.count(0, y0, x0 - 2, y0 + 3 * cell, is_dark) > 100);
  BOOST_TEST(p.count(x0, y0 + 3 * cell + 2, x0 + 3 * cell, p.height, is_dark) >
             100);
}

BOOST_AUTO_TEST_CASE(degenerate_matrices) {
  TempDir dir;
  BOOST_CHECK_NO_THROW(plot::confusion_matrix({}, {}, dir / "zero.png"));
  BOOST_TEST(Picture(dir / "zero.png").width > 0);
  // All zero: no division by the largest count.
  BOOST_CHECK_NO_THROW(
      plot::confusion_matrix({2, {0, 0, 0, 0}}, {}, dir / "empty.png"));
  // Many classes: small cells without text, still a bounded picture.
  sequent::metrics::ConfusionMatrix many{
      200, std::vector<std::size_t>(200 * 200, 3)};
  BOOST_CHECK_NO_THROW(plot::confusion_matrix(many, {}, dir / "many.png"));
  BOOST_TEST(Picture(dir / "many.png").width < 1400);
}

BOOST_AUTO_TEST_CASE(inconsistent_sizes_throw) {
  TempDir dir;
  check_throws_mentioning(
      [&] {
        plot::confusion_matrix({2, {1, 2, 3}}, {}, dir / "x.png");
      },
      "3");
  check_throws_mentioning(
      [&] {
        plot::confusion_matrix({2, {1, 2, 3, 4}}, {"a", "b", "c"},
                               dir / "x.png");
      },
      "3 class names for 2 classes");
  BOOST_TEST(!fs::exists(dir / "x.png"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sample_pictures)

// Six 8×8 grey images, black except image 4, which is white and the only
// misclassified one.
struct SixImages {
  std::vector<std::uint8_t> pixels = std::vector<std::uint8_t>(6 * 64, 0);
  std::vector<std::int32_t> truth{0, 1, 2, 0, 1, 2};
  std::vector<std::int32_t> predicted{0, 1, 2, 0, 2, 2};
  SixImages() {
    std::fill(pixels.begin() + 4 * 64, pixels.begin() + 5 * 64, 255);
  }
  sequent::data::ImageView view() const { return {pixels, 6, {8, 8, 1}}; }
};

BOOST_AUTO_TEST_CASE(misclassified_come_first_in_red) {
  TempDir dir;
  const SixImages six;
  plot::samples(six.view(), six.predicted, six.truth, {"zero", "one", "two"},
                dir / "s.png");
  const Picture p(dir / "s.png");
  BOOST_TEST(p.width >= 300);
  BOOST_TEST(p.count(0, 0, p.width, p.height, kWrongColor) > 100);
  BOOST_TEST(p.count(0, 0, p.width, p.height, kRightColor) > 500);

  // The first tile in reading order has a red frame, and inside it the
  // white image, enlarged from 8×8.
  const auto [x, y] = first_pixel(
      p, [](Rgb c) { return c == kWrongColor || c == kRightColor; });
  BOOST_REQUIRE(x >= 0);
  BOOST_TEST(p.at(x, y) == kWrongColor);
  BOOST_TEST(p.count(x + 4, y + 4, x + 40, y + 40, kWhite) == 36 * 36);
  // The frame is 3 + 128 + 3 pixels wide; the other tiles of the row are
  // framed in green.
  BOOST_TEST(p.count(x, y, x + 134, y + 1, kWrongColor) == 134);
  BOOST_TEST(p.count(x + 134, y, p.width, y + 1, kWrongColor) == 0);
  BOOST_TEST(p.count(x + 134, y, p.width, y + 1, kRightColor) >= 2 * 134);
}

BOOST_AUTO_TEST_CASE(max_images_and_colour_images) {
  TempDir dir;
  // Two RGB images, pure blue, one shown.
  std::vector<std::uint8_t> rgb(2 * 4 * 4 * 3, 0);
  for (std::size_t i = 2; i < rgb.size(); i += 3) rgb[i] = 255;
  const std::vector<std::int32_t> labels{0, 1};
  plot::samples({rgb, 2, {4, 4, 3}}, labels, labels, {}, dir / "rgb.png", 1);
  const Picture p(dir / "rgb.png");
  BOOST_TEST(p.count(0, 0, p.width, p.height, Rgb{0, 0, 255}) == 128 * 128);
  // None at all, or max_images = 0: a picture saying so.
  BOOST_CHECK_NO_THROW(plot::samples({}, {}, {}, {}, dir / "none.png"));
  BOOST_CHECK_NO_THROW(plot::samples({rgb, 2, {4, 4, 3}}, labels, labels, {},
                                     dir / "zero.png", 0));
  BOOST_TEST(Picture(dir / "zero.png").width > 0);
}

BOOST_AUTO_TEST_CASE(mismatched_sizes_throw_naming_them) {
  TempDir dir;
  const SixImages six;
  const std::vector<std::int32_t> five(5, 0);
  check_throws_mentioning(
      [&] {
        plot::samples(six.view(), six.predicted, five, {}, dir / "x.png");
      },
      "6 images, 6 predicted labels and 5 true labels");
  check_throws_mentioning(
      [&] { plot::samples(six.view(), five, six.truth, {}, dir / "x.png"); },
      "5 predicted labels");
  check_throws_mentioning(
      [&] {
        plot::samples({std::span(six.pixels).first(100), 6, {8, 8, 1}},
                      six.predicted, six.truth, {}, dir / "x.png");
      },
      "the view has 100");
  check_throws_mentioning(
      [&] {
        plot::samples({std::span(six.pixels).first(6 * 5), 6, {1, 1, 5}},
                      six.predicted, six.truth, {}, dir / "x.png");
      },
      "1x1x5");
  BOOST_TEST(!fs::exists(dir / "x.png"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(files)

BOOST_AUTO_TEST_CASE(unwritable_paths_throw_naming_the_file) {
  TempDir dir;
  const fs::path missing = dir / "no" / "such" / "dir" / "h.png";
  check_throws_mentioning([&] { plot::history(falling_loss(3), missing); },
                          missing.string());
  // A directory in the way: the rename fails, the temporary file goes.
  fs::create_directory(dir / "taken.png");
  fs::create_directory(dir / "taken.png" / "inside");
  check_throws_mentioning(
      [&] {
        plot::confusion_matrix({1, {4}}, {}, dir / "taken.png");
      },
      (dir / "taken.png").string());
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path()))
    ++entries;
  BOOST_TEST(entries == 1, "only taken.png should be left, found " << entries);
}

BOOST_AUTO_TEST_CASE(an_existing_file_is_replaced_whole) {
  TempDir dir;
  {
    std::ofstream old(dir / "h.png");
    old << "not a png";
  }
  plot::history(falling_loss(3), dir / "h.png");
  BOOST_TEST(Picture(dir / "h.png").width == 1000);
}

BOOST_AUTO_TEST_SUITE_END()
