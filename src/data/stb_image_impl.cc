// stb_image and stb_image_resize compiled once, with `static` linkage, behind
// the small interface of stb_image_impl.h. Configuration:
//   - only the formats load_image documents (no TGA, PSD, HDR, PIC), and
//     not PNM either, which pnm.cc reads (see pnm.h for why);
//   - memory-only decoding (STBI_NO_STDIO): every image goes through the
//     checks in image.cc, which read the file themselves;
//   - stb_image's allocations go through a per-thread size limit, so a
//     decompression bomb fails cleanly instead of exhausting memory, and
//     are zeroed;
//   - JPEGs that reach known bugs of this stb_image version are refused
//     before it sees them (jpeg_guard.h).
#include "stb_image_impl.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "jpeg_guard.h"

namespace sequent::data::stb {
namespace {

// The largest single allocation stb_image may make on this thread; 0 means
// no limit (outside decode()).
thread_local std::size_t allocation_limit = 0;

// Zeroed, so that no path through a corrupt file can hand out what an
// earlier allocation left in memory: stb_image v2.27 reads tables of a
// JPEG it never filled (see jpeg_guard.h) and pads short data unevenly.
void* limited_malloc(std::size_t bytes) {
  if (allocation_limit != 0 && bytes > allocation_limit) return nullptr;
  return std::calloc(1, bytes);
}

void* limited_realloc(void* pointer, std::size_t bytes) {
  if (allocation_limit != 0 && bytes > allocation_limit) return nullptr;
  return std::realloc(pointer, bytes);
}

// Sets the limit for one decode and restores the previous one, also when
// the decode is left early.
class AllocationLimit {
 public:
  explicit AllocationLimit(std::size_t bytes) : previous_(allocation_limit) {
    allocation_limit = bytes;
  }
  ~AllocationLimit() { allocation_limit = previous_; }
  AllocationLimit(const AllocationLimit&) = delete;
  AllocationLimit& operator=(const AllocationLimit&) = delete;

 private:
  std::size_t previous_;
};

}  // namespace
}  // namespace sequent::data::stb

#define STBI_MALLOC(bytes) ::sequent::data::stb::limited_malloc(bytes)
#define STBI_REALLOC(pointer, bytes) \
  ::sequent::data::stb::limited_realloc(pointer, bytes)
#define STBI_FREE(pointer) std::free(pointer)

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_MAX_DIMENSIONS (::sequent::data::stb::kMaxSide)
#include <stb_image.h>

#define STB_IMAGE_RESIZE_STATIC
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image_resize.h>

namespace sequent::data::stb {

namespace {

// One format's entry points into stb_image. Reading the header and
// decoding go to the format the signature names, never through
// stbi_info/stbi_load, which ask every format in turn: a format asked
// before the right one may leave its own reason behind ("bad png sig" for
// a JPEG whose decoder then fails without one).
struct FormatReader {
  int (*info)(stbi__context*, int*, int*, int*);
  void* (*load)(stbi__context*, int*, int*, int*, int, stbi__result_info*);
};

const FormatReader* reader_for(Format format) {
  static constexpr FormatReader kPng = {stbi__png_info, stbi__png_load};
  static constexpr FormatReader kJpeg = {stbi__jpeg_info, stbi__jpeg_load};
  static constexpr FormatReader kGif = {stbi__gif_info, stbi__gif_load};
  static constexpr FormatReader kBmp = {stbi__bmp_info, stbi__bmp_load};
  switch (format) {
    case Format::kPng:
      return &kPng;
    case Format::kJpeg:
      return &kJpeg;
    case Format::kGif:
      return &kGif;
    case Format::kBmp:
      return &kBmp;
    case Format::kUnknown:
      break;
  }
  return nullptr;
}

bool starts_with(std::span<const std::uint8_t> bytes,
                 std::string_view signature) {
  return bytes.size() >= signature.size() &&
         std::equal(signature.begin(), signature.end(), bytes.begin(),
                    [](char expected, std::uint8_t byte) {
                      return static_cast<std::uint8_t>(expected) == byte;
                    });
}

// stb_image keeps the reason of the last failure until the next one, so a
// reader that fails without giving one would report a stale reason.
void clear_failure_reason() { stbi__g_failure_reason = nullptr; }

}  // namespace

Format detect_format(std::span<const std::uint8_t> bytes) {
  using namespace std::string_view_literals;
  if (starts_with(bytes, "\x89PNG\r\n\x1A\n"sv)) return Format::kPng;
  if (starts_with(bytes, "GIF87a"sv) || starts_with(bytes, "GIF89a"sv)) {
    return Format::kGif;
  }
  if (starts_with(bytes, "BM"sv)) return Format::kBmp;
  if (!bytes.empty() && bytes[0] == 0xFF) {
    std::size_t at = 1;
    while (at < bytes.size() && bytes[at] == 0xFF) ++at;
    if (at < bytes.size() && bytes[at] == 0xD8) return Format::kJpeg;
  }
  return Format::kUnknown;
}

const char* format_name(Format format) {
  switch (format) {
    case Format::kPng:
      return "PNG";
    case Format::kJpeg:
      return "JPEG";
    case Format::kGif:
      return "GIF";
    case Format::kBmp:
      return "BMP";
    case Format::kUnknown:
      break;
  }
  return "unknown";
}

bool read_header(std::span<const std::uint8_t> bytes, Format format,
                 Header* header) {
  clear_failure_reason();
  // stb_image counts bytes in int; image.cc refuses larger inputs first.
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) return false;
  const FormatReader* reader = reader_for(format);
  if (reader == nullptr) {
    return stbi__err("unknown image type",
                     "Image not of any known type, or corrupt");
  }
  if (const char* hazard = jpeg_hazard(bytes)) return stbi__err(hazard, hazard);
  stbi__context context;
  stbi__start_mem(&context, bytes.data(), static_cast<int>(bytes.size()));
  if (!reader->info(&context, &header->width, &header->height,
                    &header->channels)) {
    return false;
  }
  // stbi__bmp_info passes on the header's signed height, negative for rows
  // stored top-down; its decoder flips by the sign and uses the magnitude.
  if (format == Format::kBmp && header->height < 0) {
    if (header->height == INT_MIN) {
      return stbi__err("too large", "Very large image (corrupt?)");
    }
    header->height = -header->height;
  }
  return true;
}

void PixelsDeleter::operator()(std::uint8_t* pixels) const {
  stbi_image_free(pixels);
}

Pixels decode(std::span<const std::uint8_t> bytes, Format format,
              std::size_t max_allocation_bytes, Header* header) {
  clear_failure_reason();
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) return nullptr;
  const FormatReader* reader = reader_for(format);
  if (reader == nullptr) {
    stbi__err("unknown image type", "Image not of any known type, or corrupt");
    return nullptr;
  }
  if (const char* hazard = jpeg_hazard(bytes)) {
    stbi__err(hazard, hazard);
    return nullptr;
  }
  const AllocationLimit limit(max_allocation_bytes);
  stbi__context context;
  stbi__start_mem(&context, bytes.data(), static_cast<int>(bytes.size()));
  // What stbi_load_from_memory does after choosing the format
  // (stbi__load_main, stbi__load_and_postprocess_8bit): defaults of 8 bits
  // in RGB order, then 16-bit samples (PNG only) reduced to 8. Vertical
  // flipping on load is never enabled here. req_comp = 0: keep the file's
  // channels, so image.cc can composite alpha before converting.
  stbi__result_info info{};
  info.bits_per_channel = 8;
  info.channel_order = STBI_ORDER_RGB;
  void* pixels = reader->load(&context, &header->width, &header->height,
                              &header->channels, 0, &info);
  if (pixels != nullptr && info.bits_per_channel == 16) {
    // Frees the 16-bit buffer when it succeeds, and keeps it otherwise.
    stbi_uc* reduced =
        stbi__convert_16_to_8(static_cast<stbi__uint16*>(pixels), header->width,
                              header->height, header->channels);
    if (reduced == nullptr) stbi_image_free(pixels);
    pixels = reduced;
  }
  return Pixels(static_cast<std::uint8_t*>(pixels));
}

const char* failure_reason() {
  const char* reason = stbi_failure_reason();
  constexpr std::size_t kShortestReason = 4;
  if (reason == nullptr || std::strlen(reason) < kShortestReason) {
    return nullptr;
  }
  return reason;
}

bool resize(const std::uint8_t* in, int in_width, int in_height,
            std::uint8_t* out, int out_width, int out_height, int channels) {
  // Strides of 0 mean tightly packed rows.
  return stbir_resize_uint8(in, in_width, in_height, 0, out, out_width,
                            out_height, 0, channels) != 0;
}

}  // namespace sequent::data::stb
