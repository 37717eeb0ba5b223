// Helpers shared by test_image.cpp and test_image_bad_files.cpp: files
// read and written whole, pictures written with stb_image_write, and byte
// builders for PGM/PPM, GIF and BMP written by hand; option shorthand and
// an exception checker.
//
// It holds the test's own (static) copy of stb_image_write's
// implementation: include it from one source file per test executable.
#pragma once

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>
#include <vector>

#include "sequent/data/image.hpp"

// The test's own private copy of the encoder, to make files to decode (the
// library keeps its copy private, too).
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

namespace sequent::test {

using Bytes = std::vector<std::uint8_t>;

inline void write_bytes(const std::filesystem::path& path, const Bytes& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  BOOST_REQUIRE(out.good());
}

inline Bytes read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

// H×W×C pixels for stb_image_write (which takes width, height, channels).
struct Picture {
  int height = 0;
  int width = 0;
  int channels = 0;
  Bytes pixels;
};

inline Picture uniform(int height, int width, int channels,
                       std::uint8_t value) {
  return {height, width, channels,
          Bytes(std::size_t(height) * width * channels, value)};
}

// Every pixel different, in every channel.
inline Picture gradient(int height, int width, int channels) {
  Picture picture = uniform(height, width, channels, 0);
  for (std::size_t i = 0; i < picture.pixels.size(); ++i) {
    picture.pixels[i] = static_cast<std::uint8_t>((i * 37 + i / 7) % 256);
  }
  return picture;
}

inline std::filesystem::path save_png(const std::filesystem::path& path,
                                      const Picture& p) {
  std::filesystem::create_directories(path.parent_path());
  BOOST_REQUIRE(stbi_write_png(path.c_str(), p.width, p.height, p.channels,
                               p.pixels.data(), p.width * p.channels));
  return path;
}

inline std::filesystem::path save_bmp(const std::filesystem::path& path,
                                      const Picture& p) {
  std::filesystem::create_directories(path.parent_path());
  BOOST_REQUIRE(stbi_write_bmp(path.c_str(), p.width, p.height, p.channels,
                               p.pixels.data()));
  return path;
}

inline std::filesystem::path save_jpeg(const std::filesystem::path& path,
                                       const Picture& p) {
  std::filesystem::create_directories(path.parent_path());
  // Quality above 90: stb_image_write then keeps full-resolution chroma.
  BOOST_REQUIRE(stbi_write_jpg(path.c_str(), p.width, p.height, p.channels,
                               p.pixels.data(), 95));
  return path;
}

// A binary PGM (channels 1, "P5") or PPM (3, "P6") with a comment line.
inline Bytes pnm_bytes(const Picture& p) {
  const std::string header = std::string(p.channels == 1 ? "P5" : "P6") +
                             "\n# written by test_image\n" +
                             std::to_string(p.width) + " " +
                             std::to_string(p.height) + "\n255\n";
  Bytes bytes(header.begin(), header.end());
  bytes.insert(bytes.end(), p.pixels.begin(), p.pixels.end());
  return bytes;
}

// A GIF89a of `indices` (height × width palette indices < palette.size()/3,
// at most 250 pixels) with a global colour table of 4 entries. The LZW
// stream is a clear code, one 9-bit literal code per pixel and the end
// code: with 8-bit codes a decoder first widens its codes after 254 new
// dictionary entries, so with fewer pixels every code stays 9 bits wide.
inline Bytes gif_bytes(int height, int width, const Bytes& indices,
                       const Bytes& palette) {
  BOOST_REQUIRE(indices.size() == std::size_t(height) * width);
  BOOST_REQUIRE(indices.size() <= 250 && palette.size() == 12);
  const auto u16 = [](Bytes& out, int value) {
    out.push_back(value & 0xFF);
    out.push_back((value >> 8) & 0xFF);
  };
  Bytes gif = {'G', 'I', 'F', '8', '9', 'a'};
  u16(gif, width);
  u16(gif, height);
  gif.insert(gif.end(), {0x81, 0, 0});  // global table of 2^(1+1) colours
  gif.insert(gif.end(), palette.begin(), palette.end());
  gif.push_back(0x2C);  // image descriptor at (0, 0), no local table
  u16(gif, 0);
  u16(gif, 0);
  u16(gif, width);
  u16(gif, height);
  gif.push_back(0);
  constexpr int kMinCodeSize = 8, kClear = 256, kEnd = 257, kCodeBits = 9;
  gif.push_back(kMinCodeSize);
  std::vector<int> codes = {kClear};
  codes.insert(codes.end(), indices.begin(), indices.end());
  codes.push_back(kEnd);
  Bytes packed;  // least significant bit first
  std::uint32_t bits = 0;
  int bit_count = 0;
  for (const int code : codes) {
    bits |= std::uint32_t(code) << bit_count;
    bit_count += kCodeBits;
    while (bit_count >= 8) {
      packed.push_back(bits & 0xFF);
      bits >>= 8;
      bit_count -= 8;
    }
  }
  if (bit_count > 0) packed.push_back(bits & 0xFF);
  for (std::size_t at = 0; at < packed.size(); at += 255) {
    const std::size_t length = std::min<std::size_t>(255, packed.size() - at);
    gif.push_back(static_cast<std::uint8_t>(length));
    gif.insert(gif.end(), packed.begin() + at, packed.begin() + at + length);
  }
  gif.push_back(0);     // end of the image data
  gif.push_back(0x3B);  // trailer
  return gif;
}

// One row of pixel values packed as a BMP stores them at bits_per_pixel:
// palette indices most significant bits first (1, 4, 8 bits), 16-bit
// values little-endian, 24-bit values 0xRRGGBB as blue, green, red.
inline Bytes bmp_row(const std::vector<std::uint32_t>& values,
                     int bits_per_pixel) {
  Bytes row;
  if (bits_per_pixel < 8) {
    const int per_byte = 8 / bits_per_pixel;
    row.resize((values.size() + per_byte - 1) / per_byte);
    for (std::size_t i = 0; i < values.size(); ++i) {
      const int shift = 8 - bits_per_pixel * (1 + int(i % per_byte));
      row[i / per_byte] |= static_cast<std::uint8_t>(values[i] << shift);
    }
    return row;
  }
  for (const std::uint32_t value : values) {
    for (int byte = 0; byte < bits_per_pixel / 8; ++byte) {
      row.push_back(static_cast<std::uint8_t>(value >> (8 * byte)));
    }
  }
  return row;
}

// A BMP with a BITMAPINFOHEADER, uncompressed: `stored_rows` in file order
// (bottom row first when height > 0, top row first when it is negative),
// each padded here to a multiple of 4 bytes; `palette` holds blue, green,
// red, 0 per entry.
inline Bytes bmp_file(std::int32_t width, std::int32_t height,
                      int bits_per_pixel, const Bytes& palette,
                      const std::vector<Bytes>& stored_rows) {
  Bytes pixels;
  for (const Bytes& row : stored_rows) {
    pixels.insert(pixels.end(), row.begin(), row.end());
    pixels.resize((pixels.size() + 3) / 4 * 4);
  }
  const std::uint32_t pixel_offset = 54 + palette.size();
  Bytes bmp = {'B', 'M'};
  const auto u32 = [&bmp](std::uint32_t value) {
    for (int shift = 0; shift < 32; shift += 8) bmp.push_back(value >> shift);
  };
  u32(pixel_offset + pixels.size());
  u32(0);
  u32(pixel_offset);
  u32(40);
  u32(static_cast<std::uint32_t>(width));
  u32(static_cast<std::uint32_t>(height));
  bmp.insert(bmp.end(), {1, 0, static_cast<std::uint8_t>(bits_per_pixel), 0});
  u32(0);  // BI_RGB
  u32(pixels.size());
  u32(2835);  // 72 dpi
  u32(2835);
  u32(palette.size() / 4);
  u32(0);
  bmp.insert(bmp.end(), palette.begin(), palette.end());
  bmp.insert(bmp.end(), pixels.begin(), pixels.end());
  return bmp;
}

// Colours of a 3×5 test image by palette index, exact at every BMP depth
// (16-bit BMPs store 5 bits per channel: 0 and 31 are 0 and 255).
inline constexpr std::uint32_t kBmpColours[4] = {0x000000, 0xFFFFFF, 0xFF0000,
                                                 0x0000FF};
inline std::uint32_t bmp_index(int y, int x, int bits_per_pixel) {
  return (x + 2 * y) % (bits_per_pixel == 1 ? 2 : 4);
}

// The 3×5 test image as a BMP at bits_per_pixel, rows stored bottom-up or
// top-down (negative height).
inline Bytes bmp_test_image(int bits_per_pixel, bool top_down) {
  constexpr int kHeight = 3, kWidth = 5;
  Bytes palette;
  if (bits_per_pixel <= 8) {
    for (const std::uint32_t colour : kBmpColours) {
      palette.insert(palette.end(),
                     {std::uint8_t(colour), std::uint8_t(colour >> 8),
                      std::uint8_t(colour >> 16), 0});
    }
  }
  std::vector<Bytes> rows;
  for (int stored = 0; stored < kHeight; ++stored) {
    const int y = top_down ? stored : kHeight - 1 - stored;
    std::vector<std::uint32_t> values;
    for (int x = 0; x < kWidth; ++x) {
      const std::uint32_t index = bmp_index(y, x, bits_per_pixel);
      const std::uint32_t colour = kBmpColours[index];
      if (bits_per_pixel <= 8) {
        values.push_back(index);
      } else if (bits_per_pixel == 16) {  // x RRRRR GGGGG BBBBB
        values.push_back((colour >> 16 & 0xFF ? 0x7C00 : 0) |
                         (colour >> 8 & 0xFF ? 0x03E0 : 0) |
                         (colour & 0xFF ? 0x001F : 0));
      } else {
        values.push_back(colour);
      }
    }
    rows.push_back(bmp_row(values, bits_per_pixel));
  }
  return bmp_file(kWidth, top_down ? -kHeight : kHeight, bits_per_pixel,
                  palette, rows);
}

inline data::ImageOptions options(int height, int width, int channels,
                                  bool invert = false) {
  return {.shape = {height, width, channels}, .invert = invert};
}

// The test passes when `call` throws E whose message holds every fragment.
template <class E, class Call>
void check_throws(Call call, std::initializer_list<std::string> fragments) {
  try {
    call();
  } catch (const E& error) {
    const std::string message = error.what();
    BOOST_TEST_MESSAGE("thrown as expected: " << message);
    for (const std::string& fragment : fragments) {
      BOOST_TEST(message.find(fragment) != std::string::npos,
                 "\"" << message << "\" should contain \"" << fragment << "\"");
    }
    return;
  } catch (const std::exception& error) {
    BOOST_ERROR("wrong exception type: " << error.what());
    return;
  }
  BOOST_ERROR("no exception thrown");
}

}  // namespace sequent::test
