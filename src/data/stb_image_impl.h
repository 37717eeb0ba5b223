// The library's private door to stb_image and stb_image_resize. Their code
// is compiled once, with `static` linkage, in stb_image_impl.cc: no stbi_*
// symbol leaves the library, so programs that compile their own copy of stb
// (many do) link without clashes, and only the functions below reach it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace sequent::data::stb {

// The formats load_image reads: stb_image is compiled with PNG, JPEG, BMP
// and GIF only (PGM/PPM is read by pnm.cc). TGA in particular is left out:
// it has no magic number, so random bytes would often "decode" as a TGA
// instead of failing.
inline constexpr const char* kFormatNames =
    "PNG, JPEG, BMP, GIF or binary PGM/PPM";

// stb_image refuses a side longer than this before allocating. A backstop
// only: image.cc first checks width × height against max_pixels (64 Mi by
// default), so this matters only when a caller raises max_pixels; 2^20 is
// longer than the side of any real image and keeps every size product far
// from overflowing.
inline constexpr int kMaxSide = 1 << 20;

struct Header {
  int width = 0;
  int height = 0;
  int channels = 0;  // 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA
};

// Reads only the header. False when the bytes are not an image of a
// compiled-in format, or that format refuses the header; failure_reason()
// says why. stb_image refuses a PNG header declaring more than 2^30 bytes
// of pixels ("too large") without giving its size.
bool read_header(std::span<const std::uint8_t> bytes, Header* header);

struct PixelsDeleter {
  void operator()(std::uint8_t* pixels) const;
};
using Pixels = std::unique_ptr<std::uint8_t[], PixelsDeleter>;

// Decodes to 8 bits per channel in the file's own channel count (written to
// *header): height × width × channels values, row-major. Null on failure.
// No single allocation stb_image makes while decoding may exceed
// max_allocation_bytes: a PNG's deflate stream may inflate to ~1000× its
// size regardless of the dimensions in its header, so without this bound a
// few-megabyte file could ask for gigabytes.
Pixels decode(std::span<const std::uint8_t> bytes,
              std::size_t max_allocation_bytes, Header* header);

// stb_image's reason for the last failure on this thread.
const char* failure_reason();

// Resamples row-major in (in_height × in_width × channels) to out
// (out_height × out_width × channels) with stb_image_resize's default
// filters on the stored values. False only when memory runs out.
bool resize(const std::uint8_t* in, int in_width, int in_height,
            std::uint8_t* out, int out_width, int out_height, int channels);

}  // namespace sequent::data::stb
