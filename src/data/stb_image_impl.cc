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

#include <climits>
#include <cstdlib>

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

bool read_header(std::span<const std::uint8_t> bytes, Header* header) {
  // stb_image counts bytes in int; image.cc refuses larger inputs first.
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) return false;
  if (const char* hazard = jpeg_hazard(bytes)) return stbi__err(hazard, hazard);
  stbi__context context;
  stbi__start_mem(&context, bytes.data(), static_cast<int>(bytes.size()));
  // stbi_info_from_memory asks every format in turn, so when the format the
  // data is in refuses its header, the reason left is the last format's
  // "unknown image type". Asking only the format whose signature matches
  // keeps its own reason ("bad IHDR len", "too large"). Same order as
  // stb_image's decoder, which picks a format the same way.
  struct Format {
    int (*matches)(stbi__context*);
    int (*info)(stbi__context*, int*, int*, int*);
  };
  constexpr Format kFormats[] = {{stbi__jpeg_test, stbi__jpeg_info},
                                 {stbi__png_test, stbi__png_info},
                                 {stbi__gif_test, stbi__gif_info},
                                 {stbi__bmp_test, stbi__bmp_info}};
  for (const Format& format : kFormats) {
    if (format.matches(&context)) {
      return format.info(&context, &header->width, &header->height,
                         &header->channels) != 0;
    }
  }
  stbi__err("unknown image type", "Image not of any known type, or corrupt");
  return false;
}

void PixelsDeleter::operator()(std::uint8_t* pixels) const {
  stbi_image_free(pixels);
}

Pixels decode(std::span<const std::uint8_t> bytes,
              std::size_t max_allocation_bytes, Header* header) {
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) return nullptr;
  if (const char* hazard = jpeg_hazard(bytes)) {
    stbi__err(hazard, hazard);
    return nullptr;
  }
  const AllocationLimit limit(max_allocation_bytes);
  // req_comp = 0: keep the file's channels, so image.cc can composite alpha
  // before converting.
  return Pixels(stbi_load_from_memory(
      bytes.data(), static_cast<int>(bytes.size()), &header->width,
      &header->height, &header->channels, 0));
}

const char* failure_reason() {
  const char* reason = stbi_failure_reason();
  return reason != nullptr ? reason : "unknown reason";
}

bool resize(const std::uint8_t* in, int in_width, int in_height,
            std::uint8_t* out, int out_width, int out_height, int channels) {
  // Strides of 0 mean tightly packed rows.
  return stbir_resize_uint8(in, in_width, in_height, 0, out, out_width,
                            out_height, 0, channels) != 0;
}

}  // namespace sequent::data::stb
