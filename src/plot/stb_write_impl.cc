// The stb single-file libraries the pictures use: stb_image_write (PNG) and
// stb_easy_font (text as quads). Both are compiled here and nowhere else,
// with static linkage (STB_IMAGE_WRITE_STATIC; stb_easy_font is static
// already), so a program that links sequent and has its own copy of stb gets
// no duplicate symbols. The rest of src/plot sees them only through the
// small functions below, declared in canvas.hpp.
#include <zlib.h>

#include <cstdlib>
#include <cstring>

#include "canvas.hpp"

namespace {

// stb_image_write's own deflate spends most of the time of a picture (85 %
// of a 1000×480 history chart, measured with perf) and writes larger files
// than zlib, which the library links anyway. stb frees the result with
// free(), so it is malloc'ed; nullptr tells stb the compression failed.
unsigned char* zlib_compress(unsigned char* data, int size, int* out_size,
                             int /*stb_quality*/) {
  uLongf capacity = compressBound(static_cast<uLong>(size));
  auto* out = static_cast<unsigned char*>(std::malloc(capacity));
  if (out == nullptr) return nullptr;
  if (compress2(out, &capacity, data, static_cast<uLong>(size),
                Z_DEFAULT_COMPRESSION) != Z_OK) {
    std::free(out);
    return nullptr;
  }
  *out_size = static_cast<int>(capacity);
  return out;
}

}  // namespace

#define STBIW_ZLIB_COMPRESS zlib_compress
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_easy_font.h>
#include <stb_image_write.h>

namespace sequent::plot::detail::stb {
namespace {

// stb_easy_font writes four vertices per quad, each 16 bytes:
// x, y, z as float, then an RGBA colour.
constexpr std::size_t kVertexBytes = 16;
constexpr std::size_t kQuadBytes = 4 * kVertexBytes;
// The busiest glyph ('X') is 11 quads.
constexpr std::size_t kMaxQuadsPerGlyph = 12;

float vertex_coordinate(const std::vector<char>& buffer, std::size_t vertex,
                        std::size_t coordinate) {
  float value;
  std::memcpy(&value,
              buffer.data() + vertex * kVertexBytes + coordinate * sizeof value,
              sizeof value);
  return value;
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(context);
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

}  // namespace

std::vector<Quad> font_quads(const std::string& printable_ascii) {
  std::string text = printable_ascii;  // stb_easy_font takes a char*
  std::vector<char> buffer(text.size() * kMaxQuadsPerGlyph * kQuadBytes +
                           kQuadBytes);
  const int quads =
      stb_easy_font_print(0, 0, text.data(), nullptr, buffer.data(),
                          static_cast<int>(buffer.size()));
  std::vector<Quad> out(static_cast<std::size_t>(quads));
  for (std::size_t q = 0; q < out.size(); ++q) {
    // Vertex 0 is the top-left corner of the quad and vertex 2 the
    // bottom-right one.
    const float x0 = vertex_coordinate(buffer, 4 * q, 0);
    const float y0 = vertex_coordinate(buffer, 4 * q, 1);
    const float x1 = vertex_coordinate(buffer, 4 * q + 2, 0);
    const float y1 = vertex_coordinate(buffer, 4 * q + 2, 1);
    out[q] = {x0, y0, x1 - x0, y1 - y0};
  }
  return out;
}

int font_width(const std::string& printable_ascii) {
  std::string text = printable_ascii;
  return stb_easy_font_width(text.data());
}

std::vector<std::uint8_t> encode_png(std::span<const std::uint8_t> rgb,
                                     int width, int height) {
  std::vector<std::uint8_t> out;
  if (!stbi_write_png_to_func(append_bytes, &out, width, height, 3, rgb.data(),
                              width * 3)) {
    out.clear();
  }
  return out;
}

}  // namespace sequent::plot::detail::stb
