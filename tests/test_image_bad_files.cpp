// Tests of image files that are wrong: missing, empty, not an image,
// truncated at every length (BMP, GIF, PNG, JPEG, PGM/PPM), corrupt or
// malformed headers, headers declaring huge images, deflate bombs, JPEG
// Huffman tables stb_image would overrun, randomly damaged files; and the
// messages: the format named, stb_image's reason only when it is one.
// Good files and conversions: test_image.cpp.
#define BOOST_TEST_MODULE image_bad_files
#include <zlib.h>

#include <boost/test/unit_test.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "image_bytes.hpp"
#include "sequent/data/image.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using sequent::data::decode_image;
using sequent::data::Image;
using sequent::data::ImageOptions;
using sequent::data::load_image;

namespace {

using sequent::test::bmp_test_image;
using sequent::test::Bytes;
using sequent::test::check_throws;
using sequent::test::gif_bytes;
using sequent::test::gradient;
using sequent::test::options;
using sequent::test::Picture;
using sequent::test::pnm_bytes;
using sequent::test::read_bytes;
using sequent::test::save_bmp;
using sequent::test::save_jpeg;
using sequent::test::save_png;
using sequent::test::TempDir;
using sequent::test::uniform;
using sequent::test::write_bytes;

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

}  // namespace

BOOST_AUTO_TEST_SUITE(decoding)

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

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(errors)

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

BOOST_AUTO_TEST_CASE(bmp_colours_past_the_palette_are_refused) {
  // stb_image would read such a colour from an uninitialised stack array:
  // a different picture on every decode.
  Bytes eight = bmp_test_image(8, /*top_down=*/false);  // 4 colours, 5×3
  BOOST_CHECK_NO_THROW(decode_image(eight, options(3, 5, 3), "ok.bmp"));
  eight[54 + 16 + 8 + 2] = 200;  // stored row 1 (rows of 8 bytes), pixel 2
  check_throws<std::runtime_error>(
      [&] { decode_image(eight, options(3, 5, 3), "index.bmp"); },
      {"index.bmp", "corrupt BMP", "pixel 2 of stored row 1", "colour 200",
       "8-bit BMP palette has 4 colours"});

  Bytes four = bmp_test_image(4, /*top_down=*/true);
  four[54 + 16 + 4 * 2 + 1] = 0x09;  // stored row 2, pixels 2 and 3
  check_throws<std::runtime_error>(
      [&] { decode_image(four, options(3, 5, 3), "nibble.bmp"); },
      {"nibble.bmp", "pixel 3 of stored row 2", "colour 9",
       "4-bit BMP palette has 4 colours"});

  // A one-colour palette for a 1-bit image: only index 0 exists.
  const Bytes white = {255, 255, 255, 0};
  const Bytes ones = sequent::test::bmp_row({0, 0, 0, 0, 0, 0, 0, 0, 0}, 1);
  BOOST_CHECK_NO_THROW(
      decode_image(sequent::test::bmp_file(9, 1, 1, white, {ones}),
                   options(1, 9, 1), "one.bmp"));
  const Bytes set = sequent::test::bmp_row({0, 0, 0, 0, 0, 0, 0, 0, 1}, 1);
  check_throws<std::runtime_error>(
      [&] {
        decode_image(sequent::test::bmp_file(9, 1, 1, white, {set}),
                     options(1, 9, 1), "bit.bmp");
      },
      {"bit.bmp", "pixel 8 of stored row 0", "colour 1",
       "1-bit BMP palette has 1 colour"});

  // No palette at all: the pixels start right after the headers.
  check_throws<std::runtime_error>(
      [&] {
        decode_image(sequent::test::bmp_file(9, 1, 8, {}, {Bytes(9, 0)}),
                     options(1, 9, 1), "bare.bmp");
      },
      {"bare.bmp", "8-bit BMP needs a colour palette", "starts at byte 54"});
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
