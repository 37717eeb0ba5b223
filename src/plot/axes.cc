// Ticks, line charts, legends and titles (see axes.hpp).
#include "axes.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace sequent::plot::detail {
namespace {

constexpr int kTickLength = 5;
// Curves start and end this far inside the frame, so the markers on the
// first and last epoch are not cut by it.
constexpr int kPlotInset = 12;
// Markers on every point while there are few enough, over all the curves
// of a chart, to tell apart.
constexpr std::size_t kMarkEveryPointUpTo = 60;
constexpr double kMarkerRadius = 3.5;

constexpr int kLegendSample = 34;  // length of the line sample
constexpr int kLegendSampleGap = 8;
constexpr int kLegendEntryGap = 28;
constexpr int kLegendRowHeight = 26;
constexpr int kLegendPad = 10;

int entry_width(const LegendEntry& e) {
  return kLegendSample + kLegendSampleGap + text_width(e.label, kLabelScale);
}

// Greedy flow of the legend entries into rows of at most max_width pixels;
// each row is the index of its first entry.
std::vector<std::size_t> legend_rows(const std::vector<LegendEntry>& entries,
                                     int max_width) {
  std::vector<std::size_t> starts;
  int row_width = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const int w = entry_width(entries[i]);
    if (starts.empty() || row_width + kLegendEntryGap + w > max_width) {
      starts.push_back(i);
      row_width = w;
    } else {
      row_width += kLegendEntryGap + w;
    }
  }
  return starts;
}

int row_width(const std::vector<LegendEntry>& entries, std::size_t begin,
              std::size_t end) {
  int w = 0;
  for (std::size_t i = begin; i < end; ++i) {
    w += (i > begin ? kLegendEntryGap : 0) + entry_width(entries[i]);
  }
  return w;
}

void draw_series(Canvas& canvas, const Series& s, bool mark_every_point,
                 auto to_x, auto to_y) {
  const std::size_t n = std::min(s.x.size(), s.y.size());
  std::vector<Point> run;
  auto flush = [&] {
    if (run.size() >= 2) {
      canvas.polyline(run, s.color, kLineWidth,
                      s.dashed ? kValidationDash : Dash{});
    }
    // A lone point between gaps would be invisible without its marker.
    if (run.size() == 1 || mark_every_point) {
      for (const Point& p : run) canvas.dot(p, kMarkerRadius, s.color);
    }
    run.clear();
  };
  for (std::size_t i = 0; i < n; ++i) {
    if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) {
      run.push_back({to_x(s.x[i]), to_y(s.y[i])});
    } else {
      flush();
    }
  }
  flush();
}

}  // namespace

Rgb series_color(std::size_t i) {
  static constexpr Rgb kPalette[] = {
      {31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
      {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127},
      {188, 189, 34},  {23, 190, 207}};
  return kPalette[i % std::size(kPalette)];
}

Ticks nice_ticks(double lo, double hi, int target, bool integer_only) {
  if (!(lo < hi)) hi = lo + 1;
  // Ranges at the edge of double precision (a difference that overflows, a
  // step that underflows) get just their two ends as ticks.
  Ticks ends;
  ends.lo = lo;
  ends.hi = hi;
  ends.values = {lo, hi};
  ends.decimals = 7;  // tick_label then prints 3 significant digits
  const double raw = (hi - lo) / std::max(target, 1);
  if (!std::isfinite(raw) || raw < 1e-290) return ends;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / magnitude;
  double step = (fraction < 1.5 ? 1
                 : fraction < 3 ? 2
                 : fraction < 7 ? 5
                                : 10) *
                magnitude;
  if (integer_only) step = std::max(step, 1.0);
  Ticks t;
  t.lo = std::floor(lo / step) * step;
  t.hi = std::ceil(hi / step) * step;
  if (!std::isfinite(t.lo) || !std::isfinite(t.hi)) return ends;
  const long count = std::lround((t.hi - t.lo) / step);
  for (long k = 0; k <= std::min(count, 100L); ++k) {
    const double v = t.lo + static_cast<double>(k) * step;
    // Snap the rounding residue of a tick at zero, or it prints as "-0.00".
    t.values.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  }
  t.decimals =
      std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  return t;
}

std::string tick_label(double value, int decimals) {
  char text[32];
  if (std::abs(value) >= 1e6 || decimals > 6) {
    std::snprintf(text, sizeof text, "%.3g", value);
  } else {
    std::snprintf(text, sizeof text, "%.*f", decimals,
                  value == 0 ? 0.0 : value);
  }
  return text;
}

void line_chart(Canvas& canvas, Rect area, const std::string& subtitle,
                const std::string& x_label, const std::string& y_label,
                const std::vector<Series>& series) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double x_min = kInf, x_max = -kInf, y_min = kInf, y_max = -kInf;
  for (const Series& s : series) {
    for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x_min = std::min(x_min, s.x[i]);
      x_max = std::max(x_max, s.x[i]);
      y_min = std::min(y_min, s.y[i]);
      y_max = std::max(y_max, s.y[i]);
    }
  }
  const bool has_data = y_min <= y_max;
  Ticks y_ticks;
  if (has_data) {
    // 5 % of headroom; a flat curve gets a band around its value instead.
    double pad = y_max > y_min ? (y_max - y_min) * 0.05
                               : std::max(std::abs(y_max) * 0.05, 0.05);
    if (!std::isfinite(pad)) pad = 0;
    // Losses and accuracies never go below 0, accuracies never above 1:
    // headroom must not put the axis where no value can be.
    double lo = y_min - pad, hi = y_max + pad;
    if (y_min >= 0) lo = std::max(lo, 0.0);
    if (y_min >= 0 && y_max <= 1 && y_max > y_min) hi = std::min(hi, 1.0);
    y_ticks = nice_ticks(lo, hi, 5, false);
    // A single epoch sits in the middle, with only its own tick.
    if (x_min == x_max) {
      x_min -= 0.5;
      x_max += 0.5;
    }
  }

  int widest_y_label = 0;
  if (has_data) {
    for (double v : y_ticks.values) {
      widest_y_label =
          std::max(widest_y_label,
                   text_width(tick_label(v, y_ticks.decimals), kLabelScale));
    }
  }
  const int label_h = text_height(kLabelScale);
  const int left = 8 + label_h + 14 + widest_y_label + 8 + kTickLength;
  const int top = 8 + label_h + 14;
  const int bottom = kTickLength + 8 + label_h + 14 + label_h + 8;
  const Rect plot{area.x + left, area.y + top, area.w - left - 16,
                  area.h - top - bottom};
  canvas.text(plot.x + plot.w / 2, area.y + 8, subtitle, kInk, kLabelScale,
              Align::kCenter);
  canvas.text_up(area.x + 8 + label_h / 2, plot.y + plot.h / 2, y_label, kInk,
                 kLabelScale);
  canvas.text(plot.x + plot.w / 2,
              plot.bottom() + kTickLength + 8 + label_h + 14, x_label, kInk,
              kLabelScale, Align::kCenter);
  if (!has_data || plot.w <= 2 * kPlotInset || plot.h <= 0) {
    canvas.frame_rect(plot.x, plot.y, plot.w, plot.h, kAxisInk);
    note(canvas, plot.x + plot.w / 2, plot.y + plot.h / 2, "no data");
    return;
  }

  auto to_x = [&](double x) {
    return plot.x + kPlotInset +
           (x - x_min) / (x_max - x_min) * (plot.w - 2 * kPlotInset);
  };
  auto to_y = [&](double y) {
    return plot.bottom() -
           (y - y_ticks.lo) / (y_ticks.hi - y_ticks.lo) * plot.h;
  };
  // Horizontal grid and y ticks.
  for (double v : y_ticks.values) {
    const double y = to_y(v);
    if (!std::isfinite(y)) continue;
    const int row =
        std::clamp(static_cast<int>(std::lround(y)), plot.y, plot.bottom() - 1);
    canvas.fill_rect(plot.x, row, plot.w, 1, kGridInk);
    canvas.fill_rect(plot.x - kTickLength, row, kTickLength, 1, kAxisInk);
    canvas.text(plot.x - kTickLength - 6, row - label_h / 2,
                tick_label(v, y_ticks.decimals), kInk, kLabelScale,
                Align::kRight);
  }
  // Vertical grid and epoch ticks, spaced so their labels cannot touch.
  const int widest_x_label = text_width(tick_label(x_max, 0), kLabelScale);
  const int x_target = std::clamp(plot.w / (widest_x_label + 40), 2, 10);
  for (double v : nice_ticks(x_min, x_max, x_target, true).values) {
    if (v < x_min || v > x_max) continue;
    const int col = static_cast<int>(std::lround(to_x(v)));
    canvas.fill_rect(col, plot.y, 1, plot.h, kGridInk);
    canvas.fill_rect(col, plot.bottom(), 1, kTickLength, kAxisInk);
    canvas.text(col, plot.bottom() + kTickLength + 6, tick_label(v, 0), kInk,
                kLabelScale, Align::kCenter);
  }
  std::size_t points = 0;
  for (const Series& s : series) points += s.y.size();
  for (const Series& s : series) {
    draw_series(canvas, s, points <= kMarkEveryPointUpTo, to_x, to_y);
  }
  canvas.frame_rect(plot.x, plot.y, plot.w, plot.h, kAxisInk);
}

int legend_height(const std::vector<LegendEntry>& entries, int width) {
  if (entries.empty()) return 0;
  const auto rows = static_cast<int>(
      legend_rows(entries, width - 2 * kLegendPad - 40).size());
  return rows * kLegendRowHeight + 2 * kLegendPad -
         (kLegendRowHeight - text_height(kLabelScale));
}

void legend(Canvas& canvas, Rect area,
            const std::vector<LegendEntry>& entries) {
  if (entries.empty()) return;
  std::vector<std::size_t> starts =
      legend_rows(entries, area.w - 2 * kLegendPad - 40);
  starts.push_back(entries.size());
  int box_w = 0;
  for (std::size_t r = 0; r + 1 < starts.size(); ++r) {
    box_w = std::max(box_w, row_width(entries, starts[r], starts[r + 1]));
  }
  box_w += 2 * kLegendPad;
  const int box_h = legend_height(entries, area.w);
  const int box_x = area.x + (area.w - box_w) / 2;
  canvas.frame_rect(box_x, area.y, box_w, box_h, kGridInk);
  const int label_h = text_height(kLabelScale);
  for (std::size_t r = 0; r + 1 < starts.size(); ++r) {
    int x =
        area.x + (area.w - row_width(entries, starts[r], starts[r + 1])) / 2;
    const int y = area.y + kLegendPad + static_cast<int>(r) * kLegendRowHeight;
    for (std::size_t i = starts[r]; i < starts[r + 1]; ++i) {
      const LegendEntry& e = entries[i];
      const double mid = y + label_h / 2.0;
      const Point sample[] = {{x + 2.0, mid}, {x + kLegendSample - 2.0, mid}};
      canvas.polyline(sample, e.color, kLineWidth,
                      e.dashed ? kValidationDash : Dash{});
      canvas.text(x + kLegendSample + kLegendSampleGap, y, e.label, kInk,
                  kLabelScale);
      x += entry_width(e) + kLegendEntryGap;
    }
  }
}

void title(Canvas& canvas, const std::string& text) {
  canvas.text(canvas.width() / 2, 18,
              fit_text(text, canvas.width() - 32, kTitleScale), kInk,
              kTitleScale, Align::kCenter);
}

void note(Canvas& canvas, int centre_x, int centre_y, const std::string& text) {
  canvas.text(centre_x, centre_y - text_height(kLabelScale) / 2, text, kNoteInk,
              kLabelScale, Align::kCenter);
}

std::string fit_text(const std::string& text, int max_width, int scale) {
  if (text_width(text, scale) <= max_width) return text;
  for (std::size_t keep = text.size(); keep-- > 0;) {
    std::string cut = text.substr(0, keep) + "..";
    if (text_width(cut, scale) <= max_width) return cut;
  }
  return {};
}

}  // namespace sequent::plot::detail
