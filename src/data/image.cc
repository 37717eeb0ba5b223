// Decoding one image (file or memory) and converting it to the shape a model
// expects. Bytes from the outside world are checked in
// this order, each failure naming the file: the size of the file, the
// format (from its signature), the header (dimensions, read without
// decoding), whether the file is long enough for what the header declares
// (BMP, GIF: stb_image reads past the end of these as zeros and reports
// success), then the decode itself, under an allocation limit. PGM/PPM is
// decoded by pnm.cc, every other format by stb_image.
#include "sequent/data/image.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "../io/regular_file.h"
#include "image_checks.h"
#include "image_containers.h"
#include "pnm.h"
#include "stb_image_impl.h"

namespace sequent::data {

namespace image_detail {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw std::runtime_error("image " + name + ": " + what);
}

// Signed: a corrupt header may give a negative side, which should read as
// such rather than as a number near 2^64.
std::string pixel_size(std::int64_t width, std::int64_t height) {
  return std::to_string(width) + "x" + std::to_string(height) +
         " (width x height)";
}

}  // namespace image_detail

namespace {

namespace fs = std::filesystem;

// No image within max_pixels can be stored in more bytes than this per
// pixel (16-bit RGBA PNG, incompressible: 8 bytes plus framing), plus room
// for metadata (EXIF, ICC profiles, further GIF frames). Larger files are
// refused before they are read into memory.
constexpr std::uint64_t kMaxFileBytesPerPixel = 16;
constexpr std::uint64_t kFileMetadataAllowance = std::uint64_t{64} << 20;

using image_detail::BmpLayout;
using image_detail::check_bmp_data_size;
using image_detail::check_bmp_palette;
using image_detail::check_gif_canvas;
using image_detail::check_gif_complete;
using image_detail::fail;
using image_detail::pixel_size;
using image_detail::read_bmp_layout;

struct DeclaredSize {
  std::uint64_t width = 0;
  std::uint64_t height = 0;
};

// The size a PNG header declares, if the bytes start like a PNG: the 8-byte
// signature, then the IHDR chunk (length 13, "IHDR") whose data opens with
// the width and height as big-endian uint32 (PNG spec, 5.2 and 11.2.2).
// Read here because stb_image refuses a PNG of more than 2^30 bytes of
// pixels without saying how large it is.
std::optional<DeclaredSize> png_declared_size(
    std::span<const std::uint8_t> bytes) {
  constexpr std::uint8_t kStart[16] = {0x89, 'P',  'N', 'G', '\r', '\n',
                                       0x1A, '\n', 0,   0,   0,    13,
                                       'I',  'H',  'D', 'R'};
  if (bytes.size() < sizeof(kStart) + 8 ||
      !std::equal(std::begin(kStart), std::end(kStart), bytes.begin())) {
    return std::nullopt;
  }
  const auto big_endian = [&](std::size_t at) {
    return std::uint64_t{bytes[at]} << 24 | std::uint64_t{bytes[at + 1]} << 16 |
           std::uint64_t{bytes[at + 2]} << 8 | std::uint64_t{bytes[at + 3]};
  };
  return DeclaredSize{big_endian(16), big_endian(20)};
}

// Refuses, before anything is decoded, an image of more than max_pixels.
void check_pixel_count(std::uint64_t width, std::uint64_t height,
                       const ImageOptions& options, const std::string& name) {
  const std::uint64_t pixels = width * height;  // both < 2^32
  if (pixels > options.max_pixels) {
    fail(name, "the image is " + pixel_size(width, height) + " = " +
                   std::to_string(pixels) + " pixels, more than max_pixels = " +
                   std::to_string(options.max_pixels) +
                   "; refused before decoding");
  }
}

// Whether bytes hold `end` anywhere, for the end of a PNG ("IEND", the
// type of its last chunk) or of a JPEG (its end-of-image marker, which its
// scans cannot contain: they stuff every 0xFF data byte with 0x00). A file
// without one was cut short; one inside metadata (an EXIF thumbnail) can
// hide a truncation, which then gets the general message. A search, not a
// walk of the chunks or segments, so that a damaged length does not pass
// for a truncation.
bool contains(std::span<const std::uint8_t> bytes, std::string_view end) {
  return std::search(bytes.begin(), bytes.end(), end.begin(), end.end(),
                     [](std::uint8_t byte, char expected) {
                       return byte == static_cast<std::uint8_t>(expected);
                     }) != bytes.end();
}

// " (stb_image: reason)", or nothing when stb_image gave no reason worth
// printing (see stb::failure_reason).
std::string stb_reason() {
  const char* reason = stb::failure_reason();
  return reason != nullptr ? std::string(" (stb_image: ") + reason + ")" : "";
}

// The largest single allocation stb_image needs for a width × height image:
// its zlib output for a 16-bit RGBA PNG (8 bytes per pixel) may be doubled
// once for interlacing, JPEG pads planes to whole 32-pixel MCUs, and small
// images get a fixed allowance for tables. A deflate bomb inside a small
// image hits this bound instead of taking all memory.
std::size_t decode_allocation_limit(int width, int height) {
  constexpr std::uint64_t kBytesPerPixel = 16;
  constexpr std::uint64_t kPadding = 32;
  constexpr std::uint64_t kTables = std::uint64_t{1} << 20;
  const std::uint64_t limit = kBytesPerPixel *
                                  (std::uint64_t(width) + kPadding) *
                                  (std::uint64_t(height) + kPadding) +
                              kTables;
  return static_cast<std::size_t>(
      std::min<std::uint64_t>(limit, std::numeric_limits<std::size_t>::max()));
}

// v over a white background at opacity a (both 0‥255), rounded.
inline std::uint8_t over_white(int value, int alpha) {
  return static_cast<std::uint8_t>(255 - ((255 - value) * alpha + 127) / 255);
}

// ITU-R BT.601 luma, 0.299 R + 0.587 G + 0.114 B, rounded; white stays 255.
inline std::uint8_t luma(int red, int green, int blue) {
  return static_cast<std::uint8_t>(
      (299 * red + 587 * green + 114 * blue + 500) / 1000);
}

// Pixels as a decoder returns them: height × width × channels, row-major,
// channels 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA.
struct Decoded {
  int width = 0;
  int height = 0;
  int channels = 0;
  const std::uint8_t* pixels = nullptr;
};

// Pixels without alpha at the decoded size: 1 channel (grey) or 3 (RGB).
struct Opaque {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<std::uint8_t> values;  // height × width × channels
};

// Composites the alpha channel, if any, over white and reduces colour to
// grey when the target is grey. A grey file stays grey for an RGB target:
// replicating after the resize is a third of the resizing work.
Opaque remove_alpha(const Decoded& decoded, int target_channels) {
  const int in_channels = decoded.channels;
  const bool has_alpha = in_channels == 2 || in_channels == 4;
  const bool has_colour = in_channels >= 3;
  Opaque out{decoded.width,
             decoded.height,
             has_colour && target_channels == 3 ? 3 : 1,
             {}};
  const std::size_t count = std::size_t(decoded.width) * decoded.height;
  out.values.resize(count * out.channels);
  std::uint8_t* to = out.values.data();
  // Most files have no alpha: copy, or only take the luma, without the
  // per-pixel compositing of the general loop (a quarter of the time of a
  // 64×64 PNG → 28×28 load before this shortcut).
  if (!has_alpha && in_channels == out.channels) {
    std::copy_n(decoded.pixels, count * in_channels, to);
    return out;
  }
  if (!has_alpha) {
    for (std::size_t i = 0; i < count; ++i) {
      const std::uint8_t* from = decoded.pixels + 3 * i;
      to[i] = luma(from[0], from[1], from[2]);
    }
    return out;
  }
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint8_t* from = decoded.pixels + i * in_channels;
    const int alpha = has_alpha ? from[in_channels - 1] : 255;
    if (!has_colour) {
      *to++ = over_white(from[0], alpha);
      continue;
    }
    const std::uint8_t red = over_white(from[0], alpha);
    const std::uint8_t green = over_white(from[1], alpha);
    const std::uint8_t blue = over_white(from[2], alpha);
    if (out.channels == 3) {
      *to++ = red;
      *to++ = green;
      *to++ = blue;
    } else {
      *to++ = luma(red, green, blue);
    }
  }
  return out;
}

// Mean of the outermost ring of pixels, every channel: the background,
// usually.
double border_mean(const Image& image) {
  const std::size_t h = image.shape.height, w = image.shape.width,
                    c = image.shape.channels;
  double sum = 0;
  std::size_t count = 0;
  for (std::size_t y = 0; y < h; ++y) {
    for (std::size_t x = 0; x < w; ++x) {
      if (y != 0 && x != 0 && y != h - 1 && x != w - 1) continue;
      for (std::size_t k = 0; k < c; ++k)
        sum += image.pixels[(y * w + x) * c + k];
      count += c;
    }
  }
  return count != 0 ? sum / static_cast<double>(count) : 0.0;
}

// Resizes (when needed), replicates grey to RGB (when needed) and inverts
// (when asked), producing exactly options.shape.
Image to_target_shape(Opaque opaque, const ImageOptions& options,
                      const std::string& name) {
  const ImageShape& target = options.shape;
  if (opaque.width != target.width || opaque.height != target.height) {
    std::vector<std::uint8_t> resized(std::size_t(target.height) *
                                      target.width * opaque.channels);
    if (!stb::resize(opaque.values.data(), opaque.width, opaque.height,
                     resized.data(), target.width, target.height,
                     opaque.channels)) {
      fail(name, "out of memory resizing " +
                     pixel_size(opaque.width, opaque.height) + " to " +
                     to_string(target));
    }
    opaque.values = std::move(resized);
  }
  Image image{target, {}};
  if (opaque.channels == target.channels) {
    image.pixels = std::move(opaque.values);
  } else {  // grey → RGB
    image.pixels.resize(target.size());
    for (std::size_t i = 0; i < opaque.values.size(); ++i) {
      image.pixels[3 * i] = image.pixels[3 * i + 1] = image.pixels[3 * i + 2] =
          opaque.values[i];
    }
  }
  if (options.invert ||
      (options.invert_light_background && border_mean(image) > 127.0)) {
    for (std::uint8_t& value : image.pixels) value = 255 - value;
  }
  return image;
}

// The whole file, refusing anything larger than max_bytes before reading.
std::vector<std::uint8_t> read_file(const fs::path& path,
                                    std::uint64_t max_bytes) {
  const std::string name = path.string();
  if (const auto problem = detail::not_a_regular_file(path)) {
    fail(name, *problem);
  }
  std::error_code error;
  const std::uint64_t size = fs::file_size(path, error);
  if (error) fail(name, "cannot read its size: " + error.message());
  if (size == 0) {
    fail(name, std::string("the file is empty, expected a ") +
                   stb::kFormatNames + " image");
  }
  if (size > max_bytes) {
    fail(name, "the file has " + std::to_string(size) +
                   " bytes, more than any image within max_pixels could "
                   "need (" +
                   std::to_string(max_bytes) + ")");
  }
  struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  const std::unique_ptr<std::FILE, FileCloser> file(
      std::fopen(path.c_str(), "rb"));
  if (!file) fail(name, std::string("cannot open: ") + std::strerror(errno));
  std::vector<std::uint8_t> bytes(size);
  const std::size_t got = std::fread(bytes.data(), 1, bytes.size(), file.get());
  if (got < bytes.size()) {
    fail(name, std::ferror(file.get())
                   ? std::string("read error: ") + std::strerror(errno)
                   : "the file shrank while it was read");
  }
  return bytes;
}

}  // namespace

void check_image_options(const ImageOptions& options) {
  const ImageShape& shape = options.shape;
  if (shape.height < 1 || shape.width < 1) {
    throw std::invalid_argument("ImageOptions: target shape " +
                                to_string(shape) +
                                " must have a height and width of at least 1");
  }
  if (shape.channels != 1 && shape.channels != 3) {
    throw std::invalid_argument(
        "ImageOptions: target shape " + to_string(shape) +
        " must have 1 channel (grey) or 3 (RGB), found " +
        std::to_string(shape.channels));
  }
  if (options.max_pixels == 0) {
    throw std::invalid_argument("ImageOptions: max_pixels must be at least 1");
  }
  const std::uint64_t target_pixels =
      std::uint64_t(shape.height) * std::uint64_t(shape.width);
  if (target_pixels > options.max_pixels) {
    throw std::invalid_argument(
        "ImageOptions: target shape " + to_string(shape) + " has " +
        std::to_string(target_pixels) + " pixels, more than max_pixels = " +
        std::to_string(options.max_pixels));
  }
}

Image decode_image(std::span<const std::uint8_t> bytes,
                   const ImageOptions& options, const std::string& name) {
  check_image_options(options);
  if (bytes.empty()) {
    fail(name,
         std::string("no data, expected a ") + stb::kFormatNames + " image");
  }
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
    fail(name, std::to_string(bytes.size()) +
                   " bytes is more than stb_image can read (2 GiB)");
  }
  if (pnm::is_pnm(bytes)) {
    const pnm::Header header = pnm::read_header(bytes, name);
    check_pixel_count(header.width, header.height, options, name);
    const std::vector<std::uint8_t> samples = pnm::decode(bytes, header, name);
    return to_target_shape(remove_alpha({header.width, header.height,
                                         header.channels, samples.data()},
                                        options.shape.channels),
                           options, name);
  }

  const stb::Format format = stb::detect_format(bytes);
  if (format == stb::Format::kUnknown) {
    fail(name, std::string("not a ") + stb::kFormatNames +
                   " image: it starts with none of their signatures");
  }
  const std::string format_name = stb::format_name(format);
  if (const auto size = png_declared_size(bytes)) {
    check_pixel_count(size->width, size->height, options, name);
  }
  std::optional<BmpLayout> bmp_layout;
  if (format == stb::Format::kBmp) bmp_layout = read_bmp_layout(bytes, name);
  if (format == stb::Format::kGif) check_gif_complete(bytes, name);
  stb::Header header;
  if (!stb::read_header(bytes, format, &header)) {
    fail(name,
         "corrupt or truncated " + format_name + " header" + stb_reason());
  }
  if (header.width < 1 || header.height < 1) {
    fail(name, "the " + format_name + " header gives a size of " +
                   pixel_size(header.width, header.height) +
                   "; the header is corrupt");
  }
  check_pixel_count(header.width, header.height, options, name);
  if (bmp_layout) {
    check_bmp_data_size(*bmp_layout, bytes.size(), name);
    check_bmp_palette(*bmp_layout, bytes, name);
  }
  if (format == stb::Format::kGif) {
    check_gif_canvas(header.width, header.height, bytes.size(), name);
  }

  stb::Header decoded_header;
  const stb::Pixels decoded = stb::decode(
      bytes, format, decode_allocation_limit(header.width, header.height),
      &decoded_header);
  if (!decoded) {
    using namespace std::string_view_literals;
    const bool cut_short =
        (format == stb::Format::kPng && !contains(bytes, "IEND"sv)) ||
        (format == stb::Format::kJpeg && !contains(bytes, "\xFF\xD9"sv));
    if (cut_short) {
      fail(name, "truncated " + format_name + " data: the file ends (at byte " +
                     std::to_string(bytes.size()) + ") before its " +
                     (format == stb::Format::kPng ? "IEND chunk"
                                                  : "end-of-image marker") +
                     stb_reason());
    }
    fail(name, "corrupt or truncated " + format_name + " data" + stb_reason());
  }
  if (decoded_header.width != header.width ||
      decoded_header.height != header.height) {
    fail(name, "decoded to " +
                   pixel_size(decoded_header.width, decoded_header.height) +
                   " although the header says " +
                   pixel_size(header.width, header.height));
  }
  return to_target_shape(
      remove_alpha({decoded_header.width, decoded_header.height,
                    decoded_header.channels, decoded.get()},
                   options.shape.channels),
      options, name);
}

Image load_image(const fs::path& path, const ImageOptions& options) {
  check_image_options(options);
  const std::uint64_t max_bytes =
      options.max_pixels > (std::numeric_limits<std::uint64_t>::max() -
                            kFileMetadataAllowance) /
                               kMaxFileBytesPerPixel
          ? std::numeric_limits<std::uint64_t>::max()
          : kMaxFileBytesPerPixel * options.max_pixels + kFileMetadataAllowance;
  return decode_image(read_file(path, max_bytes), options, path.string());
}

}  // namespace sequent::data
