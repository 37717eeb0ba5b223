// Checks of the BMP and GIF containers before stb_image decodes them (see
// image_containers.cc); internal to the image reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace sequent::data::image_detail {

// What a BMP header declares about where its pixels are and how many bytes
// they take: the BITMAPFILEHEADER (14 bytes: "BM", file size, reserved,
// bfOffBits) and the info header after it, either the OS/2 BITMAPCOREHEADER
// (12 bytes, 16-bit sides) or BITMAPINFOHEADER (40 bytes) and its longer
// versions (56, 108, 124), with 32-bit signed sides, negative height
// meaning rows stored top-down.
struct BmpLayout {
  std::uint64_t width = 0;
  std::uint64_t height = 0;  // magnitude
  std::uint32_t bits_per_pixel = 0;
  std::uint32_t compression = 0;
  std::uint64_t pixel_offset = 0;  // bfOffBits
  std::uint32_t info_size = 0;     // 12 (OS/2), 40, 56, 108 or 124
};

// The layout of a BMP, for bytes starting with "BM". Refuses (throwing
// std::runtime_error naming `name`) a file that ends inside its headers,
// pixel data that would start inside them, compression stb_image cannot
// decode and bit depths it does not read; nullopt for an info header size
// stb_image does not know (its own message then says so).
std::optional<BmpLayout> read_bmp_layout(std::span<const std::uint8_t> bytes,
                                         const std::string& name);

// Refuses a BMP shorter than the pixels its header declares.
void check_bmp_data_size(const BmpLayout& layout, std::size_t file_bytes,
                         const std::string& name);

// Refuses a paletted BMP (1, 4 or 8 bits per pixel) without a palette or
// with a pixel whose colour index is past the palette's end. Call after
// check_bmp_data_size: it reads the pixel data.
void check_bmp_palette(const BmpLayout& layout,
                       std::span<const std::uint8_t> bytes,
                       const std::string& name);

// Refuses a GIF that ends before its trailer byte, or holds a byte that
// starts no block where a block must start.
void check_gif_complete(std::span<const std::uint8_t> bytes,
                        const std::string& name);

// Refuses a GIF canvas of more pixels than its file could encode.
void check_gif_canvas(std::uint64_t width, std::uint64_t height,
                      std::size_t file_bytes, const std::string& name);

}  // namespace sequent::data::image_detail
