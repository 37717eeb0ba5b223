// An RGB raster to draw charts on: rectangles, anti-aliased lines and dots,
// text from stb_easy_font scaled by whole pixels, nearest-neighbour images,
// and an atomic PNG save. Internal to the library (not installed).
//
// Coordinates are pixels, x to the right and y downwards, (0, 0) the top-left
// corner; a pixel (x, y) covers [x, x+1) × [y, y+1), so its centre is
// (x + 0.5, y + 0.5). Everything is clipped to the canvas.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sequent::plot::detail {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

// A colour mixed with another: `amount` 0 gives a, 1 gives b.
Rgb mix(Rgb a, Rgb b, double amount);
// Perceived brightness in [0, 1] (Rec. 709 weights), to pick a text colour
// that stays legible on a filled cell.
double luminance(Rgb c);

struct Point {
  double x = 0, y = 0;
};

// A dash pattern in pixels along the line; {0, 0} draws a solid line.
struct Dash {
  double on = 0, off = 0;
};

enum class Align { kLeft, kCenter, kRight };

// stb_easy_font draws glyphs 7 units tall above the baseline (9 with
// descenders) on lines 12 units apart; `scale` multiplies every unit.
int text_width(std::string_view text, int scale);
inline int text_height(int scale) { return 7 * scale; }

class Canvas {
 public:
  // Throws std::invalid_argument unless 0 < width, height and the raster
  // stays below 100 megapixels (a guard against absurd inputs).
  Canvas(int width, int height, Rgb background);

  int width() const { return width_; }
  int height() const { return height_; }
  Rgb at(int x, int y) const;
  // Row-major RGB, 3 bytes per pixel, no padding.
  std::span<const std::uint8_t> pixels() const { return pixels_; }

  void fill_rect(int x, int y, int w, int h, Rgb color);
  // An outline `thickness` pixels wide drawn inside the rectangle.
  void frame_rect(int x, int y, int w, int h, Rgb color, int thickness = 1);

  // A polyline `thickness` pixels wide with round joins and caps; the dash
  // pattern runs on across the vertices. Coverage is computed per pixel from
  // the distance to the line, so slopes are smooth and overlapping segments
  // of one polyline do not darken each other.
  void polyline(std::span<const Point> points, Rgb color, double thickness,
                Dash dash = {});
  void dot(Point centre, double radius, Rgb color);

  // Text whose top edge is at y, anchored at x by `align`. Characters
  // outside printable ASCII are drawn as '?'.
  void text(int x, int y, std::string_view text, Rgb color, int scale,
            Align align = Align::kLeft);
  // Text turned 90° counter-clockwise (reading upwards), centred on
  // (centre_x, centre_y).
  void text_up(int centre_x, int centre_y, std::string_view text, Rgb color,
               int scale);

  // An image (height × width × channels, uint8, row-major; 1 = grey,
  // 2 = grey + alpha, 3 = RGB, 4 = RGBA, alpha ignored) resampled to
  // out_w × out_h by nearest neighbour, so pixels stay crisp when enlarged.
  void image(int x, int y, int out_w, int out_h,
             std::span<const std::uint8_t> pixels, int width, int height,
             int channels);

  // Writes the canvas as a PNG: a temporary file in png's directory, then a
  // rename over png. Throws std::runtime_error naming png on failure and
  // leaves no temporary file behind.
  void save_png(const std::filesystem::path& png) const;

 private:
  void blend(int x, int y, Rgb color, double alpha);
  // Fills the quads stb_easy_font makes for `text`, each unit `scale`
  // pixels; `upright` false turns the text a quarter turn anticlockwise
  // about (x, y).
  void glyph_quads(int x, int y, std::string_view text, Rgb color, int scale,
                   bool upright);

  int width_ = 0;
  int height_ = 0;
  std::vector<std::uint8_t> pixels_;
};

// The stb glue, in stb_write_impl.cc: the only translation unit that
// includes stb headers, so their symbols stay private to the library.
namespace stb {

// One filled rectangle of a glyph, in font units, origin at the text's
// top-left corner.
struct Quad {
  float x = 0, y = 0, w = 0, h = 0;
};
std::vector<Quad> font_quads(const std::string& printable_ascii);
int font_width(const std::string& printable_ascii);
// PNG bytes of an RGB raster (width × height × 3, row-major); empty if the
// encoder fails.
std::vector<std::uint8_t> encode_png(std::span<const std::uint8_t> rgb,
                                     int width, int height);

}  // namespace stb
}  // namespace sequent::plot::detail
