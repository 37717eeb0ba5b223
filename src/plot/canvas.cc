// The raster behind every picture (see canvas.hpp).
#include "canvas.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace sequent::plot::detail {
namespace {

constexpr long long kMaxPixels = 100'000'000;

// stb_easy_font only knows ' ' to '~'; anything else would index past its
// glyph table.
std::string printable(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c < ' ' || c > '~') c = '?';
  }
  return out;
}

double distance_to_segment(Point p, Point a, Point b) {
  const double dx = b.x - a.x, dy = b.y - a.y;
  const double length2 = dx * dx + dy * dy;
  double t = 0;
  if (length2 > 0) {
    t = std::clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / length2, 0.0, 1.0);
  }
  return std::hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

Point lerp(Point a, Point b, double t) {
  return {a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t};
}

struct Segment {
  Point a, b;
};

// The visible pieces of a polyline under a dash pattern; the pattern's
// phase carries over from one segment to the next, so dashes look even
// on a curve made of many short segments.
std::vector<Segment> dashed_pieces(std::span<const Point> points, Dash dash) {
  std::vector<Segment> pieces;
  const bool dashed = dash.on > 0 && dash.off > 0;
  const double period = dash.on + dash.off;
  double phase = 0;  // distance already travelled into the current period
  for (std::size_t i = 1; i < points.size(); ++i) {
    const Point a = points[i - 1], b = points[i];
    const double length = std::hypot(b.x - a.x, b.y - a.y);
    if (!dashed) {
      pieces.push_back({a, b});
      continue;
    }
    for (double done = 0; done < length;) {
      const bool on = phase < dash.on;
      const double step =
          std::min((on ? dash.on : period) - phase, length - done);
      if (on)
        pieces.push_back(
            {lerp(a, b, done / length), lerp(a, b, (done + step) / length)});
      done += step;
      phase += step;
      if (phase >= period - 1e-9) phase = 0;
    }
  }
  return pieces;
}

std::string errno_text() { return std::strerror(errno); }

// Cleanup on an error path must not throw over the error being reported.
void remove_quietly(const std::filesystem::path& path) {
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
}

}  // namespace

Rgb mix(Rgb a, Rgb b, double amount) {
  const double t = std::clamp(amount, 0.0, 1.0);
  auto channel = [t](std::uint8_t from, std::uint8_t to) {
    return static_cast<std::uint8_t>(std::lround(from + (to - from) * t));
  };
  return {channel(a.r, b.r), channel(a.g, b.g), channel(a.b, b.b)};
}

double luminance(Rgb c) {
  return (0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b) / 255.0;
}

int text_width(std::string_view text, int scale) {
  if (text.empty()) return 0;
  // Every advance includes the gap after its glyph; the last one is not
  // part of the text's visible extent.
  return (stb::font_width(printable(text)) - 1) * scale;
}

Canvas::Canvas(int width, int height, Rgb background)
    : width_(width), height_(height) {
  if (width <= 0 || height <= 0 ||
      static_cast<long long>(width) * height > kMaxPixels) {
    throw std::invalid_argument(
        "sequent::plot: a picture of " + std::to_string(width) + "x" +
        std::to_string(height) + " pixels is empty or too large (limit " +
        std::to_string(kMaxPixels) + " pixels)");
  }
  pixels_.resize(static_cast<std::size_t>(width) * height * 3);
  for (std::size_t i = 0; i < pixels_.size(); i += 3) {
    pixels_[i] = background.r;
    pixels_[i + 1] = background.g;
    pixels_[i + 2] = background.b;
  }
}

Rgb Canvas::at(int x, int y) const {
  const std::size_t i = (static_cast<std::size_t>(y) * width_ + x) * 3;
  return {pixels_[i], pixels_[i + 1], pixels_[i + 2]};
}

void Canvas::blend(int x, int y, Rgb color, double alpha) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_ || alpha <= 0) return;
  const Rgb mixed = mix(at(x, y), color, alpha);
  const std::size_t i = (static_cast<std::size_t>(y) * width_ + x) * 3;
  pixels_[i] = mixed.r;
  pixels_[i + 1] = mixed.g;
  pixels_[i + 2] = mixed.b;
}

void Canvas::fill_rect(int x, int y, int w, int h, Rgb color) {
  const int x0 = std::max(x, 0), x1 = std::min(x + w, width_);
  const int y0 = std::max(y, 0), y1 = std::min(y + h, height_);
  for (int row = y0; row < y1; ++row) {
    for (int col = x0; col < x1; ++col) blend(col, row, color, 1.0);
  }
}

void Canvas::frame_rect(int x, int y, int w, int h, Rgb color, int thickness) {
  fill_rect(x, y, w, thickness, color);
  fill_rect(x, y + h - thickness, w, thickness, color);
  fill_rect(x, y, thickness, h, color);
  fill_rect(x + w - thickness, y, thickness, h, color);
}

void Canvas::polyline(std::span<const Point> requested, Rgb color,
                      double thickness, Dash dash) {
  // Points far outside the canvas are pulled in to a margin: it bounds the
  // work and keeps every coordinate within int range.
  const double margin = 2.0 * std::max(width_, height_);
  std::vector<Point> points;
  for (const Point& p : requested) {
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
    points.push_back({std::clamp(p.x, -margin, width_ + margin),
                      std::clamp(p.y, -margin, height_ + margin)});
  }
  std::vector<Segment> pieces;
  if (points.size() == 1) {
    pieces.push_back({points[0], points[0]});
  } else {
    pieces = dashed_pieces(points, dash);
  }
  if (pieces.empty()) return;
  // A pixel is covered by the part of it within thickness / 2 of the line:
  // approximated by half + 0.5 − distance from its centre, clamped to [0, 1].
  const double half = thickness / 2;
  const double reach = half + 1;
  double left = width_, top = height_, right = 0, bottom = 0;
  for (const Segment& s : pieces) {
    left = std::min({left, s.a.x - reach, s.b.x - reach});
    right = std::max({right, s.a.x + reach, s.b.x + reach});
    top = std::min({top, s.a.y - reach, s.b.y - reach});
    bottom = std::max({bottom, s.a.y + reach, s.b.y + reach});
  }
  const int x0 = std::max(0, static_cast<int>(std::floor(left)));
  const int y0 = std::max(0, static_cast<int>(std::floor(top)));
  const int x1 = std::min(width_, static_cast<int>(std::ceil(right)));
  const int y1 = std::min(height_, static_cast<int>(std::ceil(bottom)));
  if (x0 >= x1 || y0 >= y1) return;
  // The coverage of the whole polyline, the maximum over its pieces, so the
  // joins are not blended twice.
  const int box_w = x1 - x0;
  std::vector<float> coverage(static_cast<std::size_t>(box_w) * (y1 - y0));
  for (const Segment& s : pieces) {
    const int sx0 =
        std::max(x0, static_cast<int>(std::min(s.a.x, s.b.x) - reach));
    const int sx1 =
        std::min(x1, static_cast<int>(std::max(s.a.x, s.b.x) + reach) + 1);
    const int sy0 =
        std::max(y0, static_cast<int>(std::min(s.a.y, s.b.y) - reach));
    const int sy1 =
        std::min(y1, static_cast<int>(std::max(s.a.y, s.b.y) + reach) + 1);
    for (int y = sy0; y < sy1; ++y) {
      for (int x = sx0; x < sx1; ++x) {
        const double d = distance_to_segment({x + 0.5, y + 0.5}, s.a, s.b);
        const auto c = static_cast<float>(std::clamp(half + 0.5 - d, 0.0, 1.0));
        float& cell =
            coverage[static_cast<std::size_t>(y - y0) * box_w + (x - x0)];
        cell = std::max(cell, c);
      }
    }
  }
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) {
      blend(x, y, color,
            coverage[static_cast<std::size_t>(y - y0) * box_w + (x - x0)]);
    }
  }
}

void Canvas::dot(Point centre, double radius, Rgb color) {
  const Point only[] = {centre};
  polyline(only, color, 2 * radius);
}

void Canvas::glyph_quads(int x, int y, std::string_view text, Rgb color,
                         int scale, bool upright) {
  for (const stb::Quad& q : stb::font_quads(printable(text))) {
    const int qx = static_cast<int>(q.x) * scale;
    const int qy = static_cast<int>(q.y) * scale;
    const int qw = static_cast<int>(q.w) * scale;
    const int qh = static_cast<int>(q.h) * scale;
    if (upright) {
      fill_rect(x + qx, y + qy, qw, qh, color);
    } else {
      // Font point (u, v) goes to (x + v, y − u): a quarter turn
      // anticlockwise, so the text reads upwards.
      fill_rect(x + qy, y - qx - qw, qh, qw, color);
    }
  }
}

void Canvas::text(int x, int y, std::string_view text, Rgb color, int scale,
                  Align align) {
  const int w = text_width(text, scale);
  if (align == Align::kCenter) x -= w / 2;
  if (align == Align::kRight) x -= w;
  glyph_quads(x, y, text, color, scale, /*upright=*/true);
}

void Canvas::text_up(int centre_x, int centre_y, std::string_view text,
                     Rgb color, int scale) {
  glyph_quads(centre_x - text_height(scale) / 2,
              centre_y + text_width(text, scale) / 2, text, color, scale,
              /*upright=*/false);
}

void Canvas::image(int x, int y, int out_w, int out_h,
                   std::span<const std::uint8_t> pixels, int width, int height,
                   int channels) {
  for (int oy = 0; oy < out_h; ++oy) {
    const int sy =
        static_cast<int>(static_cast<long long>(oy) * height / out_h);
    for (int ox = 0; ox < out_w; ++ox) {
      const int sx =
          static_cast<int>(static_cast<long long>(ox) * width / out_w);
      const std::uint8_t* p =
          pixels.data() +
          (static_cast<std::size_t>(sy) * width + sx) * channels;
      const Rgb c =
          channels >= 3 ? Rgb{p[0], p[1], p[2]} : Rgb{p[0], p[0], p[0]};
      blend(x + ox, y + oy, c, 1.0);
    }
  }
}

void Canvas::save_png(const std::filesystem::path& png) const {
  const std::string failed =
      "sequent::plot: cannot write '" + png.string() + "': ";
  const std::vector<std::uint8_t> bytes =
      stb::encode_png(pixels_, width_, height_);
  if (bytes.empty()) throw std::runtime_error(failed + "PNG encoding failed");

  // A temporary file in the same directory (so the rename is atomic), named
  // uniquely per process and call. No fsync: a picture is cheap to redraw,
  // and a plot per epoch should not wait for the disk.
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path dir =
      png.has_parent_path() ? png.parent_path() : ".";
  const std::filesystem::path tmp =
      dir / ("." + png.filename().string() + ".tmp-" +
             std::to_string(getpid()) + "-" + std::to_string(counter++));
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw std::runtime_error(failed + "cannot create '" + tmp.string() +
                             "': " + errno_text());
  }
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n =
        ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string reason = errno_text();
      ::close(fd);
      remove_quietly(tmp);
      throw std::runtime_error(failed + reason);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    const std::string reason = errno_text();
    remove_quietly(tmp);
    throw std::runtime_error(failed + reason);
  }
  if (std::rename(tmp.c_str(), png.c_str()) != 0) {
    const std::string reason = errno_text();
    remove_quietly(tmp);
    throw std::runtime_error(failed + reason);
  }
}

}  // namespace sequent::plot::detail
