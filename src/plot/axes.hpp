// Chart furniture shared by the pictures: colours, "nice" tick values, a line
// chart on labelled axes, a legend box and the title. Internal to the
// library.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "canvas.hpp"

namespace sequent::plot::detail {

inline constexpr Rgb kWhite{255, 255, 255};
inline constexpr Rgb kInk{34, 34, 34};         // text
inline constexpr Rgb kAxisInk{80, 80, 80};     // frames and tick marks
inline constexpr Rgb kGridInk{225, 225, 225};  // grid lines
inline constexpr Rgb kNoteInk{130, 130, 130};  // "no data"

// Text sizes: stb_easy_font units are pixels, too small to read at 1×.
inline constexpr int kTitleScale = 3;
inline constexpr int kLabelScale = 2;
// The band at the top of every picture that holds its title.
inline constexpr int kTitleBand = 56;

// The i-th colour of a categorical palette (matplotlib's tab10), cycling.
Rgb series_color(std::size_t i);

struct Rect {
  int x = 0, y = 0, w = 0, h = 0;
  int right() const { return x + w; }
  int bottom() const { return y + h; }
};

// Tick values 1, 2 or 5 × 10^k apart covering [lo, hi] with about `target`
// intervals: lo and hi are widened to the ticks around them. With
// integer_only the step is at least 1. `decimals` is how many decimals the
// labels need to tell the ticks apart.
struct Ticks {
  double lo = 0, hi = 1;
  std::vector<double> values;
  int decimals = 0;
};
Ticks nice_ticks(double lo, double hi, int target, bool integer_only);
std::string tick_label(double value, int decimals);

// One curve: y[i] at x[i]; a non-finite y[i] is a gap.
struct Series {
  std::vector<double> x, y;
  Rgb color;
  bool dashed = false;
};

struct LegendEntry {
  std::string label;
  Rgb color;
  bool dashed = false;
};

// Line styles shared by the curves and their legend samples.
inline constexpr double kLineWidth = 3.0;
inline constexpr Dash kValidationDash{9, 6};

// A line chart filling `area`: subtitle above, y_label turned on the left,
// x_label below, ticks with labels and grid lines, then the series. x is
// treated as an epoch count (integer ticks). Draws "no data" in the frame
// when no series has a finite point.
void line_chart(Canvas& canvas, Rect area, const std::string& subtitle,
                const std::string& x_label, const std::string& y_label,
                const std::vector<Series>& series);

// A framed legend, entries flowed into centred rows across `width`.
int legend_height(const std::vector<LegendEntry>& entries, int width);
void legend(Canvas& canvas, Rect area, const std::vector<LegendEntry>& entries);

// The picture's title centred in the top band.
void title(Canvas& canvas, const std::string& text);
// Grey text centred on a point, for "no data" notes.
void note(Canvas& canvas, int centre_x, int centre_y, const std::string& text);

// `text` cut with ".." so that it is at most max_width pixels wide.
std::string fit_text(const std::string& text, int max_width, int scale);

}  // namespace sequent::plot::detail
