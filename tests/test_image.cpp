// Tests of good image files in and out: decoding every supported format
// (files written here with stb_image_write, or by hand for GIF, PGM/PPM
// and BMP of every depth), the conversions (grey ↔ RGB, alpha, resizing,
// inversion), invalid options, class-per-folder datasets and PNG writing.
// Bad, truncated, corrupt and huge files: test_image_bad_files.cpp.
#define BOOST_TEST_MODULE image
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "image_bytes.hpp"
#include "sequent/data/image.hpp"
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

using sequent::test::bmp_index;
using sequent::test::bmp_test_image;
using sequent::test::Bytes;
using sequent::test::check_throws;
using sequent::test::gif_bytes;
using sequent::test::gradient;
using sequent::test::kBmpColours;
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

// invert_light_background inverts a photo of a dark object on white (its
// border is light) and leaves a dataset-like light-on-black image alone.
BOOST_AUTO_TEST_CASE(light_backgrounds_are_inverted_on_request) {
  TempDir dir;
  Picture photo = {4, 4, 1, Bytes(16, 230)};  // white, a dark middle
  photo.pixels[5] = photo.pixels[6] = photo.pixels[9] = photo.pixels[10] = 20;
  Picture dataset_like = photo;
  for (auto& v : dataset_like.pixels) v = 255 - v;
  auto o = options(4, 4, 1);
  o.invert_light_background = true;
  const Image a = load_image(save_png(dir / "photo.png", photo), o);
  const Image b = load_image(save_png(dir / "dataset.png", dataset_like), o);
  BOOST_TEST(a.pixels == dataset_like.pixels);
  BOOST_TEST(b.pixels == dataset_like.pixels);
  // invert wins: both inverted.
  o.invert = true;
  BOOST_TEST(load_image(dir / "dataset.png", o).pixels == photo.pixels);
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

BOOST_AUTO_TEST_SUITE(options_and_bmp_layouts)

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
