// Binary PGM ("P5", grey) and PPM ("P6", RGB) from the Netpbm family, read
// here rather than by stb_image: its v2.27 reader takes 16-bit samples in
// the wrong byte order, ignores the maximum value, overflows an int on long
// header numbers, and returns uninitialised memory for truncated data.
//
// Format (netpbm.sourceforge.net/doc/pgm.html): the magic "P5" or "P6";
// width, height and maximum value (1‥65535) as ASCII decimals separated by
// whitespace, with '#' comments running to the end of a line; exactly one
// whitespace character; then height × width × channels samples, one byte
// each when the maximum value is below 256, else two bytes, most
// significant first. Further images after the first are ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace sequent::data::pnm {

// True when bytes start with "P5" or "P6".
bool is_pnm(std::span<const std::uint8_t> bytes);

struct Header {
  int width = 0;
  int height = 0;
  int channels = 0;  // 1 (P5) or 3 (P6)
  int max_value = 0;
  std::size_t data_offset = 0;  // where the samples start
};

// Parses the header of bytes for which is_pnm() holds. Throws
// std::runtime_error naming `name` for a malformed header, a width or
// height of 0 or beyond INT_MAX, or a maximum value outside 1‥65535.
Header read_header(std::span<const std::uint8_t> bytes,
                   const std::string& name);

// The samples scaled to 0‥255 (v · 255 / max_value, rounded), row-major
// height × width × channels. Throws std::runtime_error naming `name` when
// the data is shorter than the header promises or a sample exceeds the
// maximum value.
std::vector<std::uint8_t> decode(std::span<const std::uint8_t> bytes,
                                 const Header& header, const std::string& name);

}  // namespace sequent::data::pnm
