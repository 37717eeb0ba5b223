// Tests of image files in and out: decoding every supported format (files
// written here with stb_image_write, or by hand for GIF and PGM/PPM), the
// conversions (grey ↔ RGB, alpha, resizing, inversion), class-per-folder
// datasets, PNG writing, and every way a file can be wrong.
#define BOOST_TEST_MODULE image
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "sequent/data/image.hpp"

// The test's own private copy of the encoder, to make files to decode (the
// library keeps its copy private, too).
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include "temp_dir.hpp"

namespace fs = std::filesystem;
using sequent::data::Dataset;
using sequent::data::decode_image;
using sequent::data::Image;
using sequent::data::image_folder;
using sequent::data::ImageOptions;
using sequent::data::ImageShape;
using sequent::data::load_image;
using sequent::data::write_png;

namespace {

using Bytes = std::vector<std::uint8_t>;

using sequent::test::TempDir;

void write_bytes(const fs::path& path, const Bytes& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  BOOST_REQUIRE(out.good());
}

Bytes read_bytes(const fs::path& path) {
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

Picture uniform(int height, int width, int channels, std::uint8_t value) {
  return {height, width, channels,
          Bytes(std::size_t(height) * width * channels, value)};
}

// Four quadrants of values top-left, top-right, bottom-left, bottom-right
// (the same in every channel).
Picture quadrants(int size, int channels, std::uint8_t top_left,
                  std::uint8_t top_right, std::uint8_t bottom_left,
                  std::uint8_t bottom_right) {
  Picture picture = uniform(size, size, channels, 0);
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      const bool top = y < size / 2;
      const bool left = x < size / 2;
      const std::uint8_t value = top ? (left ? top_left : top_right)
                                     : (left ? bottom_left : bottom_right);
      for (int c = 0; c < channels; ++c) {
        picture.pixels[(std::size_t(y) * size + x) * channels + c] = value;
      }
    }
  }
  return picture;
}

// Every pixel different, in every channel.
Picture gradient(int height, int width, int channels) {
  Picture picture = uniform(height, width, channels, 0);
  for (std::size_t i = 0; i < picture.pixels.size(); ++i) {
    picture.pixels[i] = static_cast<std::uint8_t>((i * 37 + i / 7) % 256);
  }
  return picture;
}

fs::path save_png(const fs::path& path, const Picture& p) {
  fs::create_directories(path.parent_path());
  BOOST_REQUIRE(stbi_write_png(path.c_str(), p.width, p.height, p.channels,
                               p.pixels.data(), p.width * p.channels));
  return path;
}

fs::path save_bmp(const fs::path& path, const Picture& p) {
  fs::create_directories(path.parent_path());
  BOOST_REQUIRE(stbi_write_bmp(path.c_str(), p.width, p.height, p.channels,
                               p.pixels.data()));
  return path;
}

fs::path save_jpeg(const fs::path& path, const Picture& p) {
  fs::create_directories(path.parent_path());
  // Quality above 90: stb_image_write then keeps full-resolution chroma.
  BOOST_REQUIRE(stbi_write_jpg(path.c_str(), p.width, p.height, p.channels,
                               p.pixels.data(), 95));
  return path;
}

// A binary PGM (channels 1, "P5") or PPM (3, "P6") with a comment line.
Bytes pnm_bytes(const Picture& p) {
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
Bytes gif_bytes(int height, int width, const Bytes& indices,
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

// One PNG chunk: length, type, data, CRC-32 of type and data.
void append_png_chunk(Bytes& png, const char type[4], const Bytes& data) {
  const auto u32 = [&png](std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) png.push_back(value >> shift);
  };
  u32(static_cast<std::uint32_t>(data.size()));
  const std::size_t type_at = png.size();
  png.insert(png.end(), type, type + 4);
  png.insert(png.end(), data.begin(), data.end());
  u32(static_cast<std::uint32_t>(
      crc32(0, png.data() + type_at, static_cast<uInt>(4 + data.size()))));
}

// A grey 8-bit PNG whose header says width × height and whose IDAT holds
// `raw` (filter bytes and pixels) deflated; no IDAT when raw is empty.
Bytes png_bytes(std::uint32_t width, std::uint32_t height, const Bytes& raw) {
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  Bytes header;
  for (const std::uint32_t value : {width, height}) {
    for (int shift = 24; shift >= 0; shift -= 8)
      header.push_back(value >> shift);
  }
  header.insert(header.end(), {8, 0, 0, 0, 0});  // 8-bit grey, no interlace
  append_png_chunk(png, "IHDR", header);
  if (!raw.empty()) {
    uLongf size = compressBound(static_cast<uLong>(raw.size()));
    Bytes deflated(size);
    BOOST_REQUIRE(compress2(deflated.data(), &size, raw.data(),
                            static_cast<uLong>(raw.size()), 9) == Z_OK);
    deflated.resize(size);
    append_png_chunk(png, "IDAT", deflated);
  }
  append_png_chunk(png, "IEND", {});
  return png;
}

// A 24-bit BMP header (BITMAPFILEHEADER + BITMAPINFOHEADER) declaring
// width × height, without pixels.
Bytes bmp_header(std::uint32_t width, std::uint32_t height) {
  Bytes bmp = {'B', 'M'};
  const auto u32 = [&bmp](std::uint32_t value) {
    for (int shift = 0; shift < 32; shift += 8) bmp.push_back(value >> shift);
  };
  u32(54);  // file size
  u32(0);   // reserved
  u32(54);  // offset of the pixels
  u32(40);  // BITMAPINFOHEADER size
  u32(width);
  u32(height);
  bmp.insert(bmp.end(), {1, 0, 24, 0});            // 1 plane, 24 bits per pixel
  for (int field = 0; field < 6; ++field) u32(0);  // uncompressed, defaults
  return bmp;
}

// One row of pixel values packed as a BMP stores them at bits_per_pixel:
// palette indices most significant bits first (1, 4, 8 bits), 16-bit
// values little-endian, 24-bit values 0xRRGGBB as blue, green, red.
Bytes bmp_row(const std::vector<std::uint32_t>& values, int bits_per_pixel) {
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
Bytes bmp_file(std::int32_t width, std::int32_t height, int bits_per_pixel,
               const Bytes& palette, const std::vector<Bytes>& stored_rows) {
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

// gif_bytes with a graphic control extension and a comment extension
// before the image, as most encoders write them.
Bytes gif_with_extensions(int height, int width, const Bytes& indices,
                          const Bytes& palette) {
  Bytes gif = gif_bytes(height, width, indices, palette);
  const Bytes extensions = {0x21, 0xF9, 4, 0,   0,   0,   0,
                            0,  // no transparency
                            0x21, 0xFE, 3, 'h', 'i', '!', 0};
  const std::size_t after_palette = 13 + palette.size();
  gif.insert(gif.begin() + after_palette, extensions.begin(), extensions.end());
  return gif;
}

// A message's "(stb_image: …)" part, if any, gives a reason, not a fragment
// of one: stb_image's PNG reader leaves "", "I", "IE" for truncated files.
void check_stb_reason_is_meaningful(const std::string& message) {
  const std::string opening = "(stb_image: ";
  const std::size_t at = message.find(opening);
  if (at == std::string::npos) return;
  const std::size_t end = message.find(')', at);
  BOOST_TEST(end - at - opening.size() >= 4u,
             "\"" << message << "\" has a fragment for stb_image's reason");
}

ImageOptions options(int height, int width, int channels, bool invert = false) {
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

double mean(const Bytes& values) {
  return std::accumulate(values.begin(), values.end(), 0.0) / values.size();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(decoding)

BOOST_AUTO_TEST_CASE(png_grey_and_rgb_are_exact_at_their_own_shape) {
  TempDir dir;
  for (const int channels : {1, 3}) {
    const Picture picture = gradient(5, 7, channels);
    const fs::path path = save_png(dir / "g.png", picture);
    const Image image = load_image(path, options(5, 7, channels));
    BOOST_TEST((image.shape == ImageShape{5, 7, channels}));
    BOOST_TEST(image.pixels == picture.pixels);
  }
}

BOOST_AUTO_TEST_CASE(bmp_is_exact) {
  TempDir dir;
  const Picture picture = gradient(6, 9, 3);
  const Image image =
      load_image(save_bmp(dir / "b.bmp", picture), options(6, 9, 3));
  BOOST_TEST(image.pixels == picture.pixels);
}

BOOST_AUTO_TEST_CASE(jpeg_at_quality_95_is_close) {
  // Flat 8×8 blocks survive JPEG's DCT almost untouched.
  TempDir dir;
  for (const int channels : {1, 3}) {
    const Picture picture = quadrants(16, channels, 20, 200, 90, 150);
    const Image image = load_image(save_jpeg(dir / "j.jpg", picture),
                                   options(16, 16, channels));
    BOOST_REQUIRE(image.pixels.size() == picture.pixels.size());
    for (std::size_t i = 0; i < picture.pixels.size(); ++i) {
      BOOST_TEST(std::abs(image.pixels[i] - picture.pixels[i]) <= 3,
                 "pixel " << i << ": " << int(image.pixels[i]) << " vs "
                          << int(picture.pixels[i]));
    }
  }
}

BOOST_AUTO_TEST_CASE(pgm_and_ppm_with_comments_are_exact) {
  TempDir dir;
  const Picture grey = gradient(3, 4, 1);
  write_bytes(dir / "a.pgm", pnm_bytes(grey));
  BOOST_TEST(load_image(dir / "a.pgm", options(3, 4, 1)).pixels == grey.pixels);
  const Picture colour = gradient(4, 3, 3);
  write_bytes(dir / "a.ppm", pnm_bytes(colour));
  BOOST_TEST(load_image(dir / "a.ppm", options(4, 3, 3)).pixels ==
             colour.pixels);
}

BOOST_AUTO_TEST_CASE(pnm_samples_are_scaled_by_the_maximum_value) {
  const auto pgm = [](const std::string& header, const Bytes& samples) {
    Bytes bytes(header.begin(), header.end());
    bytes.insert(bytes.end(), samples.begin(), samples.end());
    return bytes;
  };
  // 16 bits, most significant byte first: 0x1234 · 255 / 65535 = 18.1.
  BOOST_TEST(
      decode_image(pgm("P5 3 1 65535\n", {0x12, 0x34, 0xFE, 0xDC, 0xFF, 0xFF}),
                   options(1, 3, 1), "16-bit")
          .pixels == (Bytes{18, 254, 255}));
  // 4 bits: 15 is white, 7 is 7 · 17 = 119.
  BOOST_TEST(
      decode_image(pgm("P5 3 1 15\n", {0, 7, 15}), options(1, 3, 1), "4-bit")
          .pixels == (Bytes{0, 119, 255}));
  // The raster may start with a byte that looks like whitespace.
  BOOST_TEST(
      decode_image(pgm("P5 2 1 255\n", {' ', '\n'}), options(1, 2, 1), "ws")
          .pixels == (Bytes{' ', '\n'}));
}

BOOST_AUTO_TEST_CASE(pnm_errors) {
  const auto pgm = [](const std::string& text) {
    return Bytes(text.begin(), text.end());
  };
  const ImageOptions grey = options(2, 2, 1);
  check_throws<std::runtime_error>(
      [&] { decode_image(pgm("P5 2 2 255\n\1\2\3"), grey, "short.pgm"); },
      {"short.pgm", "truncated", "needs 4 bytes", "found 3"});
  check_throws<std::runtime_error>(
      [&] { decode_image(pgm("P6 1 1 65535\n\1\2\3\4\5"), grey, "s16.ppm"); },
      {"s16.ppm", "truncated", "needs 6 bytes", "found 5"});
  check_throws<std::runtime_error>(
      [&] { decode_image(pgm("P5 2 2 9\n\1\2\12\3"), grey, "over.pgm"); },
      {"over.pgm", "sample 2 is 10, above the maximum value 9"});
  check_throws<std::runtime_error>(
      [&] { decode_image(pgm("P5 2 2 0\n\0\0\0\0"), grey, "max0.pgm"); },
      {"max0.pgm", "maximum value of 0"});
  check_throws<std::runtime_error>(
      [&] { decode_image(pgm("P5 2 2 70000\n"), grey, "max.pgm"); },
      {"max.pgm", "maximum value of 70000"});
  check_throws<std::runtime_error>(
      [&] { decode_image(pgm("P5 2 2 255"), grey, "end.pgm"); },
      {"end.pgm", "one whitespace character"});
  check_throws<std::runtime_error>(
      [&] { decode_image(pgm("P5 2 x 255\n"), grey, "x.pgm"); },
      {"x.pgm", "where the height should be"});
  check_throws<std::runtime_error>([&] { decode_image(pgm("P6"), grey, "p6"); },
                                   {"p6", "where the width should be"});
}

BOOST_AUTO_TEST_CASE(gif_first_frame_through_its_palette) {
  const Bytes palette = {0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255};
  const Bytes indices = {0, 1, 2, 3, 3, 2, 1, 0};  // 2 rows of 4
  TempDir dir;
  write_bytes(dir / "p.gif", gif_bytes(2, 4, indices, palette));
  const Image image = load_image(dir / "p.gif", options(2, 4, 3));
  Bytes expected;
  for (const std::uint8_t index : indices) {
    expected.insert(expected.end(), palette.begin() + 3 * index,
                    palette.begin() + 3 * index + 3);
  }
  BOOST_TEST(image.pixels == expected);
}

BOOST_AUTO_TEST_CASE(decode_image_from_memory_matches_load_image) {
  TempDir dir;
  const fs::path path = save_png(dir / "m.png", gradient(8, 8, 3));
  const Bytes bytes = read_bytes(path);
  for (const int channels : {1, 3}) {
    BOOST_TEST(decode_image(bytes, options(5, 6, channels), "memory").pixels ==
               load_image(path, options(5, 6, channels)).pixels);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(conversion)

BOOST_AUTO_TEST_CASE(rgb_to_grey_is_bt601_luma) {
  // 0.299 R + 0.587 G + 0.114 B, rounded.
  const Picture colours = {
      1,
      6,
      3,
      {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 10, 20, 30}};
  TempDir dir;
  const Image image =
      load_image(save_png(dir / "c.png", colours), options(1, 6, 1));
  BOOST_TEST(image.pixels == (Bytes{76, 150, 29, 255, 0, 18}));
}

BOOST_AUTO_TEST_CASE(grey_to_rgb_replicates) {
  TempDir dir;
  const Picture grey = gradient(3, 5, 1);
  const Image image =
      load_image(save_png(dir / "g.png", grey), options(3, 5, 3));
  for (std::size_t i = 0; i < grey.pixels.size(); ++i) {
    for (int c = 0; c < 3; ++c) {
      BOOST_TEST(image.pixels[3 * i + c] == grey.pixels[i]);
    }
  }
}

BOOST_AUTO_TEST_CASE(alpha_is_composited_over_white) {
  TempDir dir;
  // RGBA: opaque red, transparent black, half-transparent black, opaque blue.
  const Picture rgba = {1,
                        4,
                        4,
                        {255, 0, 0, 255, 0, 0, 0, 0,  //
                         0, 0, 0, 128, 0, 0, 255, 255}};
  const fs::path rgba_path = save_png(dir / "rgba.png", rgba);
  BOOST_TEST(load_image(rgba_path, options(1, 4, 3)).pixels ==
             (Bytes{255, 0, 0, 255, 255, 255, 127, 127, 127, 0, 0, 255}));
  BOOST_TEST(load_image(rgba_path, options(1, 4, 1)).pixels ==
             (Bytes{76, 255, 127, 29}));
  // Grey + alpha: 0 opaque, 0 transparent, 200 at a quarter opacity.
  const Picture grey_alpha = {1, 3, 2, {0, 255, 0, 0, 200, 64}};
  BOOST_TEST(load_image(save_png(dir / "ga.png", grey_alpha), options(1, 3, 1))
                 .pixels == (Bytes{0, 255, 241}));
}

BOOST_AUTO_TEST_CASE(shrinking_keeps_brightness_and_layout) {
  TempDir dir;
  for (const int channels : {1, 3}) {
    const Picture big = quadrants(56, channels, 0, 255, 100, 200);
    const Image small =
        load_image(save_png(dir / "q.png", big), options(28, 28, channels));
    BOOST_TEST((small.shape == ImageShape{28, 28, channels}));
    BOOST_TEST(std::abs(mean(small.pixels) - mean(big.pixels)) < 1.0);
    // Away from the quadrant borders (the filter reaches 2 source pixels,
    // i.e. 1 target pixel) every pixel keeps its quadrant's value.
    for (int y = 0; y < 28; ++y) {
      for (int x = 0; x < 28; ++x) {
        if (std::abs(2 * y + 1 - 28) < 4 || std::abs(2 * x + 1 - 28) < 4) {
          continue;
        }
        const int expected = y < 14 ? (x < 14 ? 0 : 255) : (x < 14 ? 100 : 200);
        for (int c = 0; c < channels; ++c) {
          const int value = small.pixels[(y * 28 + x) * channels + c];
          BOOST_TEST(
              std::abs(value - expected) <= 1,
              "(" << y << ", " << x << "): " << value << " vs " << expected);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(enlarging_and_changing_the_aspect_ratio) {
  TempDir dir;
  const Picture flat = uniform(7, 5, 1, 93);
  const Image image =
      load_image(save_png(dir / "f.png", flat), options(28, 14, 3));
  BOOST_TEST((image.shape == ImageShape{28, 14, 3}));
  BOOST_TEST(std::all_of(image.pixels.begin(), image.pixels.end(),
                         [](std::uint8_t v) { return v == 93; }));
  const Picture small = quadrants(8, 1, 10, 60, 110, 160);
  const Image large =
      load_image(save_png(dir / "s.png", small), options(32, 32, 1));
  BOOST_TEST(std::abs(mean(large.pixels) - mean(small.pixels)) < 1.0);
  BOOST_TEST(large.pixels[0] == 10);             // top-left corner
  BOOST_TEST(large.pixels[32 * 32 - 1] == 160);  // bottom-right corner
}

BOOST_AUTO_TEST_CASE(inversion_is_applied_last) {
  TempDir dir;
  const Picture grey = gradient(4, 4, 1);
  const fs::path path = save_png(dir / "i.png", grey);
  const Image inverted = load_image(path, options(4, 4, 3, /*invert=*/true));
  for (std::size_t i = 0; i < grey.pixels.size(); ++i) {
    BOOST_TEST(inverted.pixels[3 * i] == 255 - grey.pixels[i]);
  }
  // A transparent pixel is white, so inverted it is black.
  const Picture clear = {1, 1, 4, {10, 20, 30, 0}};
  BOOST_TEST(load_image(save_png(dir / "t.png", clear), options(1, 1, 1, true))
                 .pixels == Bytes{0});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(folders)

BOOST_AUTO_TEST_CASE(one_class_per_sorted_sub_directory) {
  TempDir dir;
  const fs::path root = dir / "flowers";
  // Each image is uniform, its value naming it; created out of order and in
  // several formats and sizes.
  save_png(root / "tulip" / "b.png", uniform(10, 12, 3, 31));
  save_png(root / "tulip" / "a.png", uniform(28, 28, 1, 30));
  save_bmp(root / "daisy" / "x.BMP", uniform(5, 5, 3, 10));
  write_bytes(root / "daisy" / "more" / "y.pgm",
              pnm_bytes(uniform(3, 3, 1, 11)));
  save_png(root / "rose" / "only.png", uniform(40, 30, 3, 20));
  // Not images, or hidden: skipped.
  write_bytes(root / "README.txt", {'h', 'i'});
  write_bytes(root / "daisy" / "notes.txt", {'n', 'o'});
  write_bytes(root / "daisy" / ".DS_Store", {1, 2, 3});
  save_png(root / "daisy" / ".hidden" / "z.png", uniform(4, 4, 1, 99));
  save_png(root / ".ipynb_checkpoints" / "c.png", uniform(4, 4, 1, 99));

  const Dataset data = image_folder(root, options(8, 8, 1));
  BOOST_TEST(data.class_names() ==
                 (std::vector<std::string>{"daisy", "rose", "tulip"}),
             boost::test_tools::per_element());
  BOOST_TEST((data.shape() == ImageShape{8, 8, 1}));
  BOOST_TEST(data.source() == root.string());
  BOOST_REQUIRE(data.size() == 5u);
  const std::vector<std::int32_t> labels = {0, 0, 1, 2, 2};
  BOOST_TEST(std::vector<std::int32_t>(data.labels().begin(),
                                       data.labels().end()) == labels,
             boost::test_tools::per_element());
  // daisy/more/y.pgm sorts before daisy/x.BMP: paths compare by element.
  const std::vector<int> values = {11, 10, 20, 30, 31};
  for (std::size_t i = 0; i < data.size(); ++i) {
    const auto image = data.image(i);
    BOOST_TEST(std::all_of(image.begin(), image.end(),
                           [&](std::uint8_t v) {
                             return std::abs(v - values[i]) <= 1;
                           }),
               "image " << i << " should be about " << values[i]);
  }
}

BOOST_AUTO_TEST_CASE(folder_errors_name_what_is_wrong) {
  TempDir dir;
  const ImageOptions grey = options(4, 4, 1);
  check_throws<std::runtime_error>([&] { image_folder(dir / "absent", grey); },
                                   {"absent", "not found"});
  write_bytes(dir / "file.png", {1});
  check_throws<std::runtime_error>(
      [&] { image_folder(dir / "file.png", grey); },
      {"file.png", "not a directory"});

  const fs::path flat = dir / "flat";
  save_png(flat / "a.png", uniform(2, 2, 1, 0));
  save_png(flat / "b.png", uniform(2, 2, 1, 0));
  check_throws<std::runtime_error>(
      [&] { image_folder(flat, grey); },
      {"flat", "no class sub-directory", "found 2 image files directly"});

  const fs::path empty_class = dir / "empty_class";
  save_png(empty_class / "cat" / "a.png", uniform(2, 2, 1, 0));
  write_bytes(empty_class / "dog" / "README.txt", {'x'});
  check_throws<std::runtime_error>([&] { image_folder(empty_class, grey); },
                                   {"class folder dog", "no image file"});

  check_throws<std::invalid_argument>(
      [&] { image_folder(empty_class, options(4, 4, 2)); }, {"channel"});
}

BOOST_AUTO_TEST_CASE(the_first_bad_file_in_order_is_reported) {
  // Loading is parallel; the error must not depend on which thread failed
  // first. File 15 ends the first thread's first share of the work and
  // file 16 starts the next thread's, so with two threads 16 usually fails
  // first in time; 15 must still be the one reported.
  TempDir dir;
  const fs::path root = dir / "many";
  for (int i = 0; i < 120; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "%03d.png", i);
    if (i == 15 || i == 16 || i == 97) {
      write_bytes(root / "only" / name, {'n', 'o', 'p', 'e'});
    } else {
      save_png(root / "only" / name, uniform(64, 64, 3, i));
    }
  }
  for (int attempt = 0; attempt < 5; ++attempt) {
    check_throws<std::runtime_error>(
        [&] { image_folder(root, options(3, 3, 1)); },
        {"015.png", "not a PNG"});
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(invalid_options_are_invalid_arguments) {
  const Bytes any = {1, 2, 3};
  for (const ImageShape shape :
       {ImageShape{0, 28, 1}, ImageShape{28, 0, 1}, ImageShape{28, 28, 0},
        ImageShape{28, 28, 2}, ImageShape{28, 28, 4}, ImageShape{-1, 28, 1}}) {
    check_throws<std::invalid_argument>(
        [&] { decode_image(any, {.shape = shape}, "x"); }, {"target shape"});
    check_throws<std::invalid_argument>(
        [&] { load_image("/nonexistent.png", {.shape = shape}); },
        {"target shape"});
  }
  check_throws<std::invalid_argument>(
      [&] {
        decode_image(any, {.shape = {2, 2, 1}, .max_pixels = 0}, "x");
      },
      {"max_pixels"});
  check_throws<std::invalid_argument>(
      [&] {
        decode_image(any, {.shape = {100, 100, 1}, .max_pixels = 9999}, "x");
      },
      {"100x100x1", "max_pixels"});
}

BOOST_AUTO_TEST_CASE(missing_empty_and_directory) {
  TempDir dir;
  const ImageOptions grey = options(4, 4, 1);
  check_throws<std::runtime_error>(
      [&] { load_image(dir / "missing.png", grey); },
      {"missing.png", "not found"});
  write_bytes(dir / "empty.png", {});
  check_throws<std::runtime_error>([&] { load_image(dir / "empty.png", grey); },
                                   {"empty.png", "empty"});
  check_throws<std::runtime_error>([&] { load_image(dir.path(), grey); },
                                   {"is a directory"});
  check_throws<std::runtime_error>([&] { decode_image({}, grey, "nothing"); },
                                   {"nothing", "no data"});
}

BOOST_AUTO_TEST_CASE(not_an_image) {
  TempDir dir;
  std::mt19937 random(5);
  Bytes noise(1000);
  for (std::uint8_t& byte : noise) byte = random() & 0xFF;
  write_bytes(dir / "noise.png", noise);
  check_throws<std::runtime_error>(
      [&] { load_image(dir / "noise.png", options(4, 4, 1)); },
      {"noise.png", "not a PNG, JPEG, BMP, GIF or binary PGM/PPM",
       "none of their signatures"});
  const std::string text = "P2 2 2 255\n1 2 3 4\n";  // ASCII PGM: unsupported
  check_throws<std::runtime_error>(
      [&] {
        decode_image(Bytes(text.begin(), text.end()), options(2, 2, 1),
                     "ascii.pgm");
      },
      {"ascii.pgm", "not a PNG"});
}

BOOST_AUTO_TEST_CASE(truncated_and_corrupt_data) {
  TempDir dir;
  const fs::path path = save_png(dir / "whole.png", gradient(32, 32, 3));
  Bytes bytes = read_bytes(path);
  bytes.resize(bytes.size() / 2);
  write_bytes(dir / "half.png", bytes);
  check_throws<std::runtime_error>(
      [&] { load_image(dir / "half.png", options(32, 32, 3)); },
      {"half.png", "truncated PNG data", "before its IEND chunk"});

  const fs::path jpeg = save_jpeg(dir / "whole.jpg", gradient(32, 32, 3));
  bytes = read_bytes(jpeg);
  bytes.resize(bytes.size() - 40);  // the tail of the scan and the EOI
  // stb_image pads a truncated JPEG scan with zeros; either outcome is fine
  // as long as it is not a crash.
  try {
    decode_image(bytes, options(32, 32, 3), "cut.jpg");
  } catch (const std::runtime_error& error) {
    BOOST_TEST_MESSAGE("truncated JPEG: " << error.what());
  }
}

BOOST_AUTO_TEST_CASE(huge_header_is_refused_before_decoding) {
  // Only the header: decoding would fail for lack of pixel data, so the
  // message shows the size check came first.
  const Bytes png = png_bytes(100000, 100000, {});
  TempDir dir;
  write_bytes(dir / "huge.png", png);
  check_throws<std::runtime_error>(
      [&] { load_image(dir / "huge.png", options(28, 28, 1)); },
      {"huge.png", "100000x100000", "10000000000 pixels", "max_pixels",
       "refused before decoding"});
  // The same through stbi_info, for a BMP header.
  check_throws<std::runtime_error>(
      [&] {
        decode_image(bmp_header(100000, 100000), options(28, 28, 1),
                     "huge.bmp");
      },
      {"huge.bmp", "100000x100000", "refused before decoding"});
  // A side beyond stb_image's own bound (2^20) when max_pixels allows it.
  check_throws<std::runtime_error>(
      [&] {
        decode_image(png_bytes(3000000, 1, {}),
                     {.shape = {1, 1, 1}, .max_pixels = 1 << 30}, "wide");
      },
      {"wide", "corrupt or truncated PNG header (stb_image: too large)"});
  // A normal image above a small max_pixels.
  const fs::path normal = save_png(dir / "normal.png", uniform(56, 56, 1, 0));
  check_throws<std::runtime_error>(
      [&] {
        load_image(normal, {.shape = {28, 28, 1}, .max_pixels = 3000});
      },
      {"normal.png", "56x56", "3136 pixels"});
}

BOOST_AUTO_TEST_CASE(file_larger_than_any_allowed_image) {
  // A sparse file: large, yet it takes no disk space.
  TempDir dir;
  write_bytes(dir / "vast.png", {0x89, 'P', 'N', 'G'});
  fs::resize_file(dir / "vast.png", std::uintmax_t{100} << 20);
  check_throws<std::runtime_error>(
      [&] {
        load_image(dir / "vast.png", {.shape = {1, 1, 1}, .max_pixels = 1});
      },
      {"vast.png", "104857600 bytes", "max_pixels"});
}

BOOST_AUTO_TEST_CASE(zero_sized_header) {
  const std::string header = "P5 0 5 255\n";
  check_throws<std::runtime_error>(
      [&] {
        decode_image(Bytes(header.begin(), header.end()), options(1, 1, 1),
                     "zero.pgm");
      },
      {"zero.pgm"});
}

BOOST_AUTO_TEST_CASE(pgm_header_numbers_that_overflow_an_int) {
  for (const std::string header :
       {"P5 99999999999 1 255\n", "P6\n# c\n1 2147483648 255\n",
        "P5 1 1 #x\n 123456789012345678901234567890\n"}) {
    check_throws<std::runtime_error>(
        [&] {
          decode_image(Bytes(header.begin(), header.end()), options(1, 1, 1),
                       "big.pgm");
        },
        {"big.pgm", "PGM/PPM header", "larger than 2147483647"});
  }
}

BOOST_AUTO_TEST_CASE(deflate_bomb_is_refused) {
  // A 1×1 PNG whose IDAT inflates to 16 MiB (16 KiB of file): stb_image
  // would grow its buffer to hold it all; the allocation limit stops it.
  const Bytes png = png_bytes(1, 1, Bytes(std::size_t{16} << 20, 0));
  BOOST_TEST_MESSAGE("bomb of " << png.size() << " bytes");
  check_throws<std::runtime_error>(
      [&] { decode_image(png, options(1, 1, 1), "bomb.png"); },
      {"bomb.png", "corrupt or truncated", "outofmem"});
  // The same construction with the right amount of data decodes.
  BOOST_TEST(
      decode_image(png_bytes(2, 1, {0, 7, 9}), options(1, 2, 1), "ok").pixels ==
      (Bytes{7, 9}));
}

// A progressive grey 8×8 JPEG with only a first DC scan (difference 0, so
// every pixel is 128), written by hand: SOI, DQT of ones, SOF2, a DHT with
// one code ("0") for DC symbol 0, SOS, one byte of data, EOI.
// `scan_tables` is the SOS table selector byte (DC << 4 | AC), `spectral`
// the SOS spectral start and end, `approximation` the Ah/Al byte.
Bytes progressive_jpeg(std::uint8_t scan_tables, std::uint8_t spectral_start,
                       std::uint8_t spectral_end, std::uint8_t approximation) {
  Bytes jpeg = {0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x00};
  jpeg.insert(jpeg.end(), 64, 1);
  jpeg.insert(jpeg.end(), {0xFF, 0xC2, 0x00, 0x0B, 8, 0, 8, 0, 8, 1, 1, 0x11,
                           0,  //
                           0xFF, 0xC4, 0x00, 0x14, 0x00, 1});
  jpeg.insert(jpeg.end(), 15, 0);
  jpeg.insert(jpeg.end(), {0x00,  //
                           0xFF, 0xDA, 0x00, 0x08, 1, 1, scan_tables,
                           spectral_start, spectral_end, approximation,  //
                           0x7F, 0xFF, 0xD9});
  return jpeg;
}

std::size_t find_marker(const Bytes& bytes, std::uint8_t code) {
  for (std::size_t i = 0; i + 1 < bytes.size(); ++i) {
    if (bytes[i] == 0xFF && bytes[i + 1] == code) return i;
  }
  BOOST_FAIL("marker not found");
  return 0;
}

BOOST_AUTO_TEST_CASE(jpeg_huffman_tables_that_stb_would_overrun) {
  // stb_image 2.27 writes past a Huffman table holding more than 256 codes
  // and reads past one never defined; both are refused before it runs.
  TempDir dir;
  const Bytes good = read_bytes(save_jpeg(dir / "a.jpg", gradient(16, 16, 3)));
  BOOST_TEST(decode_image(good, options(16, 16, 3), "good").pixels.size() ==
             768u);

  Bytes too_many = good;
  const std::size_t dht = find_marker(too_many, 0xC4);
  too_many[dht + 5 + 15] = 255;  // the first table's count of 16-bit codes
  check_throws<std::runtime_error>(
      [&] { decode_image(too_many, options(16, 16, 3), "dht.jpg"); },
      {"dht.jpg", "more than 256 Huffman codes"});

  Bytes undefined = good;
  const std::size_t sos = find_marker(undefined, 0xDA);
  undefined[sos + 6] = 0x22;  // first component: DC and AC table 2
  check_throws<std::runtime_error>(
      [&] { decode_image(undefined, options(16, 16, 3), "sos.jpg"); },
      {"sos.jpg", "Huffman table not defined"});

  // Progressive: a first DC scan needs its DC table only.
  const Image flat =
      decode_image(progressive_jpeg(0x00, 0, 0, 0x00), options(8, 8, 1), "p");
  BOOST_TEST(std::all_of(flat.pixels.begin(), flat.pixels.end(),
                         [](std::uint8_t v) { return v == 128; }));
  BOOST_TEST(decode_image(progressive_jpeg(0x03, 0, 0, 0x00), options(8, 8, 1),
                          "unused AC slot")
                 .pixels == flat.pixels);
  check_throws<std::runtime_error>(
      [&] {
        decode_image(progressive_jpeg(0x10, 0, 0, 0x00), options(8, 8, 1),
                     "dc1.jpg");
      },
      {"dc1.jpg", "Huffman table not defined"});
  // An AC scan uses its AC table, and none is defined here.
  check_throws<std::runtime_error>(
      [&] {
        decode_image(progressive_jpeg(0x00, 1, 63, 0x00), options(8, 8, 1),
                     "ac.jpg");
      },
      {"ac.jpg", "Huffman table not defined"});
}

// Colours of a 3×5 test image by palette index, exact at every BMP depth
// (16-bit BMPs store 5 bits per channel: 0 and 31 are 0 and 255).
constexpr std::uint32_t kBmpColours[4] = {0x000000, 0xFFFFFF, 0xFF0000,
                                          0x0000FF};
std::uint32_t bmp_index(int y, int x, int bits_per_pixel) {
  return (x + 2 * y) % (bits_per_pixel == 1 ? 2 : 4);
}

// The 3×5 test image as a BMP at bits_per_pixel, rows stored bottom-up or
// top-down (negative height).
Bytes bmp_test_image(int bits_per_pixel, bool top_down) {
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

BOOST_AUTO_TEST_CASE(bmp_of_every_depth_bottom_up_and_top_down) {
  // Top-down BMPs (negative height) are standard; they were refused as a
  // height of 2^64 − 3.
  Bytes expected;
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 5; ++x) {
      for (const int shift : {16, 8, 0}) {
        expected.push_back(kBmpColours[bmp_index(y, x, 4)] >> shift & 0xFF);
      }
    }
  }
  TempDir dir;
  for (const int bits : {1, 4, 8, 16, 24}) {
    Bytes want = expected;
    if (bits == 1) {  // two colours only
      for (int y = 0; y < 3; ++y) {
        for (int x = 0; x < 5; ++x) {
          const std::uint32_t colour = kBmpColours[bmp_index(y, x, 1)];
          for (int c = 0; c < 3; ++c) {
            want[(y * 5 + x) * 3 + c] = colour >> (16 - 8 * c) & 0xFF;
          }
        }
      }
    }
    for (const bool top_down : {false, true}) {
      const fs::path path = dir / ("d" + std::to_string(bits) +
                                   (top_down ? "down" : "up") + ".bmp");
      write_bytes(path, bmp_test_image(bits, top_down));
      BOOST_TEST_CONTEXT(path.filename()) {
        const Image image = load_image(path, options(3, 5, 3));
        BOOST_TEST(image.pixels == want, boost::test_tools::per_element());
      }
    }
  }
  // 32-bit with alpha (a BITMAPV4HEADER with bit fields, as stb writes it).
  Picture rgba = gradient(5, 6, 4);
  for (std::size_t i = 3; i < rgba.pixels.size(); i += 4) rgba.pixels[i] = 255;
  const Image image =
      load_image(save_bmp(dir / "rgba.bmp", rgba), options(5, 6, 3));
  for (std::size_t i = 0; i < 30; ++i) {
    for (int c = 0; c < 3; ++c) {
      BOOST_TEST(image.pixels[3 * i + c] == rgba.pixels[4 * i + c]);
    }
  }
}

BOOST_AUTO_TEST_CASE(truncated_bmp_is_refused_at_every_length) {
  // stb_image reads past the end of a BMP as zeros and reports success.
  TempDir dir;
  for (const Bytes& whole :
       {read_bytes(save_bmp(dir / "rgb.bmp", gradient(6, 9, 3))),
        read_bytes(save_bmp(dir / "rgba.bmp", gradient(6, 9, 4))),
        bmp_test_image(4, /*top_down=*/true),
        bmp_test_image(1, /*top_down=*/false)}) {
    // Every pixel byte is needed; only the last row's padding is not.
    const std::size_t row_bits = std::size_t{whole[18]} * whole[28];
    const std::size_t last_row_padding =
        (row_bits + 31) / 32 * 4 - (row_bits + 7) / 8;
    for (std::size_t length = 2; length < whole.size() - last_row_padding;
         ++length) {
      check_throws<std::runtime_error>(
          [&] {
            decode_image(Bytes(whole.begin(), whole.begin() + length),
                         options(4, 4, 3), "cut.bmp");
          },
          {"cut.bmp", "truncated BMP",
           "the file has " + std::to_string(length)});
    }
  }
  // A complete header declaring 8192x8192 and 100 bytes of pixels: stb_image
  // filled a 200 MB buffer with zeros and returned it.
  Bytes huge = bmp_header(8192, 8192);
  huge.resize(154);
  write_bytes(dir / "huge.bmp", huge);
  check_throws<std::runtime_error>(
      [&] { load_image(dir / "huge.bmp", options(28, 28, 1)); },
      {"huge.bmp", "truncated BMP", "8192x8192", "24 bits per pixel",
       ", need a file of 201326646 bytes", "the file has 154"});
  write_bytes(dir / "headers.bmp", Bytes(huge.begin(), huge.begin() + 40));
  check_throws<std::runtime_error>(
      [&] { load_image(dir / "headers.bmp", options(28, 28, 1)); },
      {"headers.bmp", "truncated BMP", "headers need 54 bytes",
       "the file has 40"});
}

BOOST_AUTO_TEST_CASE(bmp_headers_stb_would_misread) {
  const Bytes good = bmp_test_image(8, /*top_down=*/false);
  // Pixel data said to start inside the headers: stb_image then reads a
  // palette it never filled.
  Bytes inside = good;
  inside[10] = 40;
  check_throws<std::runtime_error>(
      [&] { decode_image(inside, options(3, 5, 3), "offset.bmp"); },
      {"offset.bmp", "corrupt BMP", "start at byte 40",
       "headers, which end at byte 54"});
  // RLE: stb_image has no decoder for it.
  Bytes rle = good;
  rle[30] = 1;  // BI_RLE8
  check_throws<std::runtime_error>(
      [&] { decode_image(rle, options(3, 5, 3), "rle.bmp"); },
      {"rle.bmp", "RLE-compressed BMP (BI_RLE8)", "not supported"});
  Bytes two_bits = good;
  two_bits[28] = 2;
  check_throws<std::runtime_error>(
      [&] { decode_image(two_bits, options(3, 5, 3), "2bit.bmp"); },
      {"2bit.bmp", "2 bits per pixel"});
}

BOOST_AUTO_TEST_CASE(truncated_gif_is_refused_at_every_length) {
  // stb_image reads past the end of a GIF as zeros and reports success.
  const Bytes palette = {0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255};
  Bytes indices(15 * 16);
  for (std::size_t i = 0; i < indices.size(); ++i) indices[i] = (i * 7) % 4;
  const Bytes whole = gif_with_extensions(15, 16, indices, palette);
  TempDir dir;
  write_bytes(dir / "whole.gif", whole);
  const Image image = load_image(dir / "whole.gif", options(15, 16, 3));
  for (std::size_t i = 0; i < indices.size(); ++i) {
    BOOST_TEST(image.pixels[3 * i] == palette[3 * indices[i]]);
  }
  for (std::size_t length = 6; length < whole.size(); ++length) {
    check_throws<std::runtime_error>(
        [&] {
          decode_image(Bytes(whole.begin(), whole.begin() + length),
                       options(4, 4, 3), "cut.gif");
        },
        {"cut.gif", "truncated GIF",
         "ends (at byte " + std::to_string(length) + ")",
         "before the trailer byte 0x3B"});
  }
  write_bytes(dir / "no_trailer.gif", Bytes(whole.begin(), whole.end() - 1));
  check_throws<std::runtime_error>(
      [&] { load_image(dir / "no_trailer.gif", options(4, 4, 3)); },
      {"no_trailer.gif", "truncated GIF", "inside the list of blocks"});
  Bytes stray = whole;
  stray.back() = 0x00;
  check_throws<std::runtime_error>(
      [&] { decode_image(stray, options(4, 4, 3), "stray.gif"); },
      {"stray.gif", "corrupt GIF", "is 0x00", "starts no GIF block"});
}

BOOST_AUTO_TEST_CASE(gif_canvas_beyond_what_the_file_can_encode) {
  // 35 bytes declaring an 8192x8192 canvas with a 1x1 image: stb_image
  // allocated 9 bytes per canvas pixel (574 MB) and returned a blank image.
  Bytes tiny = {'G',  'I',  'F',  '8',  '9', 'a', 0x00,
                0x20, 0x00, 0x20, 0x80, 0,   0};
  tiny.insert(tiny.end(), 6, 0);  // a global table of 2 colours
  tiny.insert(tiny.end(), {0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0,  // 1x1 image
                           2, 2, 0x4C, 0x01, 0, 0x3B});
  BOOST_REQUIRE(tiny.size() == 35u);
  TempDir dir;
  write_bytes(dir / "canvas.gif", tiny);
  check_throws<std::runtime_error>(
      [&] { load_image(dir / "canvas.gif", options(28, 28, 1)); },
      {"canvas.gif", "8192x8192", "67108864 pixels", "its 35 bytes",
       "refused before decoding"});
  // The same image on a canvas the file could encode decodes.
  tiny[6] = tiny[8] = 100;
  tiny[7] = tiny[9] = 0;
  BOOST_TEST(
      decode_image(tiny, options(100, 100, 1), "100x100").pixels.size() ==
      10000u);
  // The header alone, truncated.
  write_bytes(dir / "header.gif", Bytes(tiny.begin(), tiny.begin() + 13));
  check_throws<std::runtime_error>(
      [&] { load_image(dir / "header.gif", options(28, 28, 1)); },
      {"header.gif", "truncated GIF", "inside the global colour table"});
}

BOOST_AUTO_TEST_CASE(decoder_errors_name_the_format) {
  // stb_image's reason was a fragment of a PNG chunk type read past the end
  // ("", "I", "IE"), or for a JPEG the "bad png sig" its PNG reader left.
  TempDir dir;
  const Bytes png = read_bytes(save_png(dir / "a.png", gradient(16, 16, 3)));
  write_bytes(dir / "no_iend.png", Bytes(png.begin(), png.end() - 12));
  check_throws<std::runtime_error>(
      [&] { load_image(dir / "no_iend.png", options(16, 16, 3)); },
      {"no_iend.png", "truncated PNG data", "before its IEND chunk"});
  const Bytes jpeg = read_bytes(save_jpeg(dir / "a.jpg", gradient(32, 32, 3)));
  write_bytes(dir / "half.jpg",
              Bytes(jpeg.begin(), jpeg.begin() + jpeg.size() / 2));
  check_throws<std::runtime_error>(
      [&] { load_image(dir / "half.jpg", options(32, 32, 3)); },
      {"half.jpg", "truncated JPEG data", "before its end-of-image marker"});
  // Every truncation: the message names the format, and never shows an
  // empty or fragmentary reason or another format's.
  for (const auto& [whole, format] : {std::pair{png, std::string("PNG")},
                                      std::pair{jpeg, std::string("JPEG")}}) {
    const std::size_t first_after_signature = format == "PNG" ? 8 : 2;
    for (std::size_t length = first_after_signature; length < whole.size();
         ++length) {
      try {
        decode_image(Bytes(whole.begin(), whole.begin() + length),
                     options(4, 4, 3), "cut");
      } catch (const std::runtime_error& error) {
        const std::string message = error.what();
        BOOST_TEST_CONTEXT(format << " cut to " << length
                                  << " bytes: " << message) {
          BOOST_TEST(message.find(format) != std::string::npos);
          BOOST_TEST(message.find("stb_image: )") == std::string::npos);
          BOOST_TEST(message.find("unknown reason") == std::string::npos);
          if (format == "JPEG") {
            BOOST_TEST(message.find("png") == std::string::npos);
          }
          check_stb_reason_is_meaningful(message);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(damaged_files_never_crash) {
  // Every prefix and many random corruptions of one file of each format:
  // each either decodes or throws std::runtime_error.
  TempDir dir;
  std::vector<Bytes> files = {
      read_bytes(save_png(dir / "a.png", gradient(9, 7, 4))),
      read_bytes(save_jpeg(dir / "a.jpg", gradient(9, 7, 3))),
      read_bytes(save_bmp(dir / "a.bmp", gradient(9, 7, 3))),
      pnm_bytes(gradient(9, 7, 3)),
      gif_bytes(3, 3, {0, 1, 2, 3, 0, 1, 2, 3, 0},
                {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})};
  std::mt19937 random(11);
  std::size_t decoded = 0, refused = 0;
  const auto attempt = [&](const Bytes& bytes) {
    try {
      const Image image = decode_image(bytes, options(5, 5, 3), "damaged");
      BOOST_REQUIRE(image.pixels.size() == 75u);
      ++decoded;
    } catch (const std::runtime_error&) {
      ++refused;
    }
  };
  for (const Bytes& file : files) {
    for (std::size_t length = 1; length < file.size(); ++length) {
      attempt(Bytes(file.begin(), file.begin() + length));
    }
    for (int trial = 0; trial < 300; ++trial) {
      Bytes damaged = file;
      const int flips = 1 + random() % 8;
      for (int f = 0; f < flips; ++f) {
        damaged[random() % damaged.size()] = random() & 0xFF;
      }
      attempt(damaged);
    }
  }
  BOOST_TEST_MESSAGE(decoded << " damaged inputs decoded, " << refused
                             << " refused");
  BOOST_TEST(refused > 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(writing)

BOOST_AUTO_TEST_CASE(write_png_round_trips) {
  TempDir dir;
  for (const int channels : {1, 3}) {
    const Picture picture = gradient(11, 13, channels);
    const ImageShape shape{11, 13, channels};
    const fs::path path = dir / ("out" + std::to_string(channels) + ".png");
    write_png(path, shape, picture.pixels);
    BOOST_TEST(load_image(path, {.shape = shape}).pixels == picture.pixels);
  }
  // Replacing a file; no temporary file is left behind.
  write_png(dir / "out1.png", {1, 2, 1}, Bytes{5, 6});
  BOOST_TEST(load_image(dir / "out1.png", options(1, 2, 1)).pixels ==
             (Bytes{5, 6}));
  std::size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    BOOST_TEST(entry.path().filename().string().front() != '.');
    ++entries;
  }
  BOOST_TEST(entries == 2u);
}

BOOST_AUTO_TEST_CASE(write_png_errors) {
  TempDir dir;
  check_throws<std::invalid_argument>(
      [&] {
        write_png(dir / "a.png", {2, 2, 1}, Bytes(3));
      },
      {"a.png", "expected 4", "found 3"});
  check_throws<std::invalid_argument>(
      [&] {
        write_png(dir / "a.png", {2, 2, 2}, Bytes(8));
      },
      {"2x2x2"});
  check_throws<std::invalid_argument>(
      [&] {
        write_png(dir / "a.png", {0, 2, 1}, Bytes{});
      },
      {"0x2x1"});
  check_throws<std::runtime_error>(
      [&] {
        write_png(dir / "no" / "such" / "dir.png", {1, 1, 1}, Bytes{0});
      },
      {"dir.png", "cannot create"});
}

BOOST_AUTO_TEST_SUITE_END()
