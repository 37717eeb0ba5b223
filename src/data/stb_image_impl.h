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

// The compiled-in formats, told apart by their signatures.
enum class Format { kUnknown, kPng, kJpeg, kGif, kBmp };

// The format whose signature the bytes start with: the 8-byte PNG
// signature, a JPEG start-of-image marker (0xFF 0xD8, after any 0xFF fill
// bytes, which stb_image skips), "GIF87a" or "GIF89a", or "BM". Only the
// signature: whether the rest is valid is for read_header and decode.
Format detect_format(std::span<const std::uint8_t> bytes);

// "PNG", "JPEG", "GIF", "BMP", or "unknown" for Format::kUnknown.
const char* format_name(Format format);

struct Header {
  int width = 0;
  int height = 0;
  int channels = 0;  // 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA
};

// Reads only the header, with the reader of `format` alone (so that its own
// reason is kept, not another format's). False when the format is unknown
// or refuses the header; failure_reason() says why. stb_image refuses a PNG
// header declaring more than 2^30 bytes of pixels ("too large") without
// giving its size. The height of a top-down BMP (negative in its header) is
// given as its magnitude, the height decode() produces.
bool read_header(std::span<const std::uint8_t> bytes, Format format,
                 Header* header);

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
// Like read_header, only the decoder of `format` runs, so a failure's
// reason is that decoder's (stb_image's own dispatch tries PNG first, and
// its "bad png sig" would otherwise survive a JPEG decoder that fails
// without a reason).
Pixels decode(std::span<const std::uint8_t> bytes, Format format,
              std::size_t max_allocation_bytes, Header* header);

// stb_image's reason for the last failure on this thread of read_header or
// decode, or nullptr when it gave none worth printing. Its PNG reader puts
// an unknown chunk's type into the reason ("abCD PNG chunk not known"); in
// a truncated file it reads the type as zero bytes, which cut the string to
// "" or a fragment ("I", "IE", "IDA"). No reason of its own is shorter
// than 4 characters, so shorter strings are dropped as such fragments.
const char* failure_reason();

// Resamples row-major in (in_height × in_width × channels) to out
// (out_height × out_width × channels) with stb_image_resize's default
// filters on the stored values. False only when memory runs out.
bool resize(const std::uint8_t* in, int in_width, int in_height,
            std::uint8_t* out, int out_width, int out_height, int channels);

}  // namespace sequent::data::stb
