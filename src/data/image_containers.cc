// Structural checks of the BMP and GIF containers, made before stb_image
// decodes them: it reads past the end of either as zeros and reports
// success, so a truncated file would decode as if complete, and a tiny
// header declaring a huge image would make it fill a huge buffer.
#include "image_containers.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "image_checks.h"

namespace sequent::data::image_detail {
namespace {

std::uint32_t little_endian_u16(std::span<const std::uint8_t> bytes,
                                std::size_t at) {
  return std::uint32_t{bytes[at]} | std::uint32_t{bytes[at + 1]} << 8;
}

std::uint32_t little_endian_u32(std::span<const std::uint8_t> bytes,
                                std::size_t at) {
  return little_endian_u16(bytes, at) | little_endian_u16(bytes, at + 2) << 16;
}

constexpr std::uint32_t kBmpRgb = 0;        // BI_RGB: uncompressed
constexpr std::uint32_t kBmpRle8 = 1;       // BI_RLE8
constexpr std::uint32_t kBmpRle4 = 2;       // BI_RLE4
constexpr std::uint32_t kBmpBitfields = 3;  // BI_BITFIELDS: uncompressed
constexpr std::size_t kBmpFileHeaderBytes = 14;

// No GIF stores more than 4095 pixels in 12 bits of LZW data: a code names
// one dictionary entry; entry c holds at most c − clear pixels (each entry
// after the clear and end codes extends an earlier one by one pixel); and
// a code must be wide enough to hold c, at most 12 bits (4096 entries).
// (A minimum code size of 12 allows 13-bit codes, but then clear = 4096
// and the ratio is lower.) So at most 4095 / 12 = 341.25 pixels per bit,
// under 2730 per byte. A canvas of more pixels than that per byte of the
// whole file cannot be covered by its images, yet stb_image would allocate
// 9 bytes per canvas pixel for it.
constexpr std::uint64_t kMaxGifPixelsPerByte = 4095 * 8 / 12;

std::string hex_byte(std::uint8_t byte) {
  constexpr char kDigits[] = "0123456789ABCDEF";
  return {'0', 'x', kDigits[byte >> 4], kDigits[byte & 15]};
}

}  // namespace

// The layout of a BMP, for bytes starting with "BM". Refuses a file that
// ends inside its headers (stb_image would read the missing fields as
// zeros), pixel data that would start inside the headers (stb_image then
// reads a palette it never filled), compression stb_image cannot decode,
// and bit depths it does not read. nullopt for an info header size
// stb_image does not know: its own message says so.
std::optional<BmpLayout> read_bmp_layout(std::span<const std::uint8_t> bytes,
                                         const std::string& name) {
  const auto truncated_header = [&](std::uint64_t needed) {
    fail(name, "truncated BMP: its headers need " + std::to_string(needed) +
                   " bytes, the file has " + std::to_string(bytes.size()));
  };
  if (bytes.size() < kBmpFileHeaderBytes + 4) {
    truncated_header(kBmpFileHeaderBytes + 4);
  }
  const std::uint32_t info_size = little_endian_u32(bytes, 14);
  const bool os2 = info_size == 12;
  if (!os2 && info_size != 40 && info_size != 56 && info_size != 108 &&
      info_size != 124) {
    return std::nullopt;
  }
  std::uint64_t headers_end = kBmpFileHeaderBytes + info_size;
  if (bytes.size() < headers_end) truncated_header(headers_end);
  BmpLayout layout;
  layout.pixel_offset = little_endian_u32(bytes, 10);
  layout.info_size = info_size;
  if (os2) {
    layout.width = little_endian_u16(bytes, 18);
    layout.height = little_endian_u16(bytes, 20);
    layout.bits_per_pixel = little_endian_u16(bytes, 24);
  } else {
    const auto width = static_cast<std::int32_t>(little_endian_u32(bytes, 18));
    const auto height = static_cast<std::int32_t>(little_endian_u32(bytes, 22));
    // A negative width is refused once stb_image has read the header; here
    // it only must not wrap. int64 keeps the magnitude of INT32_MIN exact.
    layout.width = static_cast<std::uint64_t>(std::max(width, 0));
    layout.height =
        static_cast<std::uint64_t>(std::abs(static_cast<std::int64_t>(height)));
    layout.bits_per_pixel = little_endian_u16(bytes, 28);
    layout.compression = little_endian_u32(bytes, 30);
    // A BITMAPINFOHEADER (or its 56-byte version, as stb_image reads it)
    // with bit fields is followed by the three colour masks.
    if ((info_size == 40 || info_size == 56) &&
        layout.compression == kBmpBitfields) {
      headers_end += 12;
      if (bytes.size() < headers_end) truncated_header(headers_end);
    }
  }
  if (layout.compression == kBmpRle8 || layout.compression == kBmpRle4) {
    // stb_image 2.27 has no RLE decoder at all, so there is no size to
    // check: the file is refused here, saying why, rather than by stb.
    fail(name, std::string("is an RLE-compressed BMP (BI_RLE") +
                   (layout.compression == kBmpRle8 ? "8" : "4") +
                   "), which is not supported; only uncompressed BMPs are");
  }
  if (layout.compression != kBmpRgb && layout.compression != kBmpBitfields) {
    fail(name, "the BMP has compression " + std::to_string(layout.compression) +
                   ", which is not supported; only uncompressed BMPs are");
  }
  switch (layout.bits_per_pixel) {
    case 1:
    case 4:
    case 8:
    case 16:
    case 24:
    case 32:
      break;
    default:
      fail(name, "the BMP has " + std::to_string(layout.bits_per_pixel) +
                     " bits per pixel; supported are 1, 4, 8, 16, 24 and 32");
  }
  if (layout.pixel_offset < headers_end) {
    fail(name, "corrupt BMP: its pixel data would start at byte " +
                   std::to_string(layout.pixel_offset) +
                   ", inside its headers, which end at byte " +
                   std::to_string(headers_end));
  }
  return layout;
}

// Refuses a BMP shorter than its pixels need: rows of width × bits per
// pixel, each padded to a multiple of 4 bytes, from bfOffBits on. The last
// row's padding is not required, since it holds no pixel. Without this a
// truncated BMP decodes to zeros, and a 154-byte file declaring 8192x8192
// makes stb_image fill a 200 MB buffer with them.
void check_bmp_data_size(const BmpLayout& layout, std::size_t file_bytes,
                         const std::string& name) {
  if (layout.width == 0 || layout.height == 0) return;  // refused elsewhere
  const std::uint64_t row_bits = layout.width * layout.bits_per_pixel;
  const std::uint64_t padded_row_bytes = (row_bits + 31) / 32 * 4;
  const std::uint64_t needed = layout.pixel_offset +
                               padded_row_bytes * (layout.height - 1) +
                               (row_bits + 7) / 8;
  if (file_bytes < needed) {
    fail(name, "truncated BMP: its header declares " +
                   pixel_size(layout.width, layout.height) + " at " +
                   std::to_string(layout.bits_per_pixel) +
                   " bits per pixel, whose pixels, stored from byte " +
                   std::to_string(layout.pixel_offset) + ", need a file of " +
                   std::to_string(needed) + " bytes, but the file has " +
                   std::to_string(file_bytes));
  }
}

// stb_image 2.27 takes a paletted BMP's colour count from the gap between
// its headers and its pixel data, not from biClrUsed: (bfOffBits − 14 −
// info size) / 4 entries, or (bfOffBits − 38) / 3 for OS/2 headers, in C's
// int arithmetic. It keeps the palette in an uninitialised 256-entry stack
// array and reads an index past the count from there, so a 4-colour file
// with a pixel of index 200 would decode to whatever the stack held, a
// different picture on every call; a negative count (an OS/2 file whose
// pixels start under 12 bytes after its headers) reads only such entries.
void check_bmp_palette(const BmpLayout& layout,
                       std::span<const std::uint8_t> bytes,
                       const std::string& name) {
  const std::uint32_t bits = layout.bits_per_pixel;
  if (bits > 8 || layout.width == 0 || layout.height == 0) return;
  const auto offset = static_cast<std::int64_t>(layout.pixel_offset);
  const std::int64_t colours =
      layout.info_size == 12
          ? (offset - 38) / 3
          : (offset - kBmpFileHeaderBytes - layout.info_size) / 4;
  const std::string depth = std::to_string(bits) + "-bit BMP";
  if (colours <= 0) {
    fail(name, "corrupt BMP: a " + depth +
                   " needs a colour palette, but its pixel data starts at "
                   "byte " +
                   std::to_string(layout.pixel_offset) +
                   ", leaving no room for one after its headers");
  }
  if (colours > 256) return;  // stb_image refuses it ("Corrupt BMP")
  if (colours >= (std::int64_t{1} << bits)) return;  // every index is valid
  const std::uint64_t row_bytes = (layout.width * bits + 31) / 32 * 4;
  const std::uint32_t mask = (1u << bits) - 1;
  for (std::uint64_t row = 0; row < layout.height; ++row) {
    const std::uint8_t* stored =
        bytes.data() + layout.pixel_offset + row * row_bytes;
    for (std::uint64_t x = 0; x < layout.width; ++x) {
      const std::uint64_t bit = x * bits;
      const std::uint32_t index =
          (stored[bit / 8] >> (8 - bits - bit % 8)) & mask;
      if (index >= static_cast<std::uint64_t>(colours)) {
        fail(name, "corrupt BMP: pixel " + std::to_string(x) +
                       " of stored row " + std::to_string(row) +
                       " uses colour " + std::to_string(index) + ", but its " +
                       depth + " palette has " + std::to_string(colours) +
                       (colours == 1 ? " colour" : " colours"));
      }
    }
  }
}

// Walks a GIF's blocks (GIF89a specification: header and logical screen
// descriptor, optional global colour table, then extensions 0x21 and images
// 0x2C made of data sub-blocks, until the trailer 0x3B) and refuses a file
// that ends before the trailer: stb_image reads past the end as zeros, so a
// truncated GIF would decode as if complete.
void check_gif_complete(std::span<const std::uint8_t> bytes,
                        const std::string& name) {
  constexpr std::uint8_t kExtension = 0x21;
  constexpr std::uint8_t kImage = 0x2C;
  constexpr std::uint8_t kTrailer = 0x3B;
  constexpr std::uint8_t kHasColourTable = 0x80;
  // Signature, width, height, flags, background colour, aspect ratio.
  constexpr std::size_t kScreenDescriptorEnd = 13;
  constexpr std::size_t kScreenFlagsAt = 10;
  constexpr std::size_t kImageDescriptorBytes = 9;  // its flags come last
  const auto colour_table_bytes = [](std::uint8_t flags) -> std::size_t {
    return flags & kHasColourTable ? 3 * (std::size_t{2} << (flags & 7)) : 0;
  };
  std::size_t at = 0;
  // Moves past `count` bytes of `what`, or fails if the file ends first.
  const auto skip = [&](std::size_t count, const char* what) {
    if (bytes.size() - at < count) {
      fail(name, "truncated GIF: the file ends (at byte " +
                     std::to_string(bytes.size()) + ") inside " + what +
                     ", before the trailer byte 0x3B");
    }
    at += count;
  };
  const auto skip_sub_blocks = [&](const char* what) {
    for (;;) {
      skip(1, what);
      const std::uint8_t length = bytes[at - 1];
      if (length == 0) return;
      skip(length, what);
    }
  };
  skip(kScreenDescriptorEnd, "the logical screen descriptor");
  skip(colour_table_bytes(bytes[kScreenFlagsAt]), "the global colour table");
  for (bool trailer = false; !trailer;) {
    skip(1, "the list of blocks");
    const std::uint8_t introducer = bytes[at - 1];
    if (introducer == kTrailer) {
      trailer = true;
    } else if (introducer == kExtension) {
      skip(1, "an extension block");  // its label
      skip_sub_blocks("an extension block");
    } else if (introducer == kImage) {
      skip(kImageDescriptorBytes, "an image descriptor");
      skip(colour_table_bytes(bytes[at - 1]), "a local colour table");
      skip(1, "image data");  // LZW minimum code size
      skip_sub_blocks("image data");
    } else {
      fail(name, "corrupt GIF: byte " + std::to_string(at - 1) + " is " +
                     hex_byte(introducer) +
                     ", which starts no GIF block (0x21 extension, 0x2C "
                     "image or 0x3B trailer)");
    }
  }
}

// Refuses a canvas the file is far too small to encode, before stb_image
// allocates it.
void check_gif_canvas(std::uint64_t width, std::uint64_t height,
                      std::size_t file_bytes, const std::string& name) {
  const std::uint64_t canvas = width * height;
  if (canvas > kMaxGifPixelsPerByte * file_bytes) {
    fail(name, "the GIF declares a canvas of " +
                   pixel_size(static_cast<std::int64_t>(width),
                              static_cast<std::int64_t>(height)) +
                   " = " + std::to_string(canvas) + " pixels, more than its " +
                   std::to_string(file_bytes) +
                   " bytes could encode (LZW stores at most " +
                   std::to_string(kMaxGifPixelsPerByte) +
                   " pixels per byte); refused before decoding");
  }
}

}  // namespace sequent::data::image_detail
