// Tests of the CIFAR-10 loader — batch files written here in the binary
// format, good, truncated and malformed; the class-names file; finding the
// directory — and of batch augmentation: exact flips and shifts, seeding,
// flip and shift statistics, and every SIMD target against the reference.
#define BOOST_TEST_MODULE cifar10
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "error_message.hpp"
#include "hwy_targets.hpp"
#include "sequent/data/augment.hpp"
#include "sequent/data/cifar10.hpp"
#include "sequent/data/dataset.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using sequent::data::Augmentation;
using sequent::data::AugmentDraw;
using sequent::data::Dataset;
using sequent::data::ImageShape;

namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr int kSide = 32;
constexpr std::size_t kImageBytes = 3 * kSide * kSide;
constexpr std::size_t kRecordBytes = 1 + kImageBytes;

using sequent::test::TempDir;

void write_file(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  BOOST_REQUIRE(out.good());
}

void write_text(const fs::path& path, const std::string& text) {
  write_file(path, Bytes(text.begin(), text.end()));
}

using sequent::test::message_has;

// Channel c of pixel (y, x) of test image `image`. Rows, columns, channels
// and images all change the value differently, so reading the wrong plane,
// transposing, or mixing up records changes what the loader returns.
std::uint8_t test_pixel(int image, int y, int x, int c) {
  return static_cast<std::uint8_t>(7 * image + 11 * y + 3 * x + 85 * c);
}
std::uint8_t test_label(int image) {
  return static_cast<std::uint8_t>((3 * image + 1) % 10);
}

// Records for images first … first+count−1, in the file format: a label
// byte, then the red, green and blue planes, each 32×32 row-major.
Bytes batch_bytes(int first, int count) {
  Bytes bytes;
  for (int image = first; image < first + count; ++image) {
    bytes.push_back(test_label(image));
    for (int c = 0; c < 3; ++c) {
      for (int y = 0; y < kSide; ++y) {
        for (int x = 0; x < kSide; ++x) {
          bytes.push_back(test_pixel(image, y, x, c));
        }
      }
    }
  }
  return bytes;
}

// The six batch files of a tiny CIFAR-10 in `dir`: data_batch_1 … 5 hold
// 7 records each (images 0–34), test_batch 4 (images 100–103).
constexpr int kRecordsPerBatch = 7;
constexpr int kFirstTestImage = 100;
constexpr int kTestRecords = 4;
void write_tiny_cifar(const fs::path& dir) {
  fs::create_directories(dir);
  for (int b = 0; b < 5; ++b) {
    write_file(dir / ("data_batch_" + std::to_string(b + 1) + ".bin"),
               batch_bytes(b * kRecordsPerBatch, kRecordsPerBatch));
  }
  write_file(dir / "test_batch.bin",
             batch_bytes(kFirstTestImage, kTestRecords));
}

// Every pixel (HWC) and label of `data` is test image first + i's.
void check_images(const Dataset& data, int first) {
  BOOST_REQUIRE(data.shape() == (ImageShape{kSide, kSide, 3}));
  for (std::size_t i = 0; i < data.size(); ++i) {
    const int image = first + static_cast<int>(i);
    BOOST_REQUIRE_EQUAL(data.labels()[i], test_label(image));
    Bytes expected;
    for (int y = 0; y < kSide; ++y) {
      for (int x = 0; x < kSide; ++x) {
        for (int c = 0; c < 3; ++c) {
          expected.push_back(test_pixel(image, y, x, c));
        }
      }
    }
    const auto actual = data.image(i);
    const auto [got, want] =
        std::mismatch(actual.begin(), actual.end(), expected.begin());
    if (got != actual.end()) {
      BOOST_FAIL("image " << i << " differs at byte " << (got - actual.begin())
                          << ": " << int(*got) << " instead of " << int(*want));
    }
  }
}

std::vector<std::string> numbered_names(int count) {
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) names.push_back("kind " + std::to_string(i));
  return names;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cifar10_loader)

BOOST_AUTO_TEST_CASE(loads_every_batch_and_converts_planes_to_hwc) {
  TempDir dir;
  write_tiny_cifar(dir.path());
  const auto [train, test] = sequent::data::cifar10(dir.path());
  BOOST_TEST(train.size() == 5u * kRecordsPerBatch);
  BOOST_TEST(test.size() == std::size_t{kTestRecords});
  BOOST_TEST(sequent::data::to_string(train.shape()) == "32x32x3");
  check_images(train, 0);
  check_images(test, kFirstTestImage);
  // Written out once: image 0, pixel (y 1, x 2) is 11 + 6 = 17 in the red
  // plane, 17 + 85 in the green and 17 + 170 in the blue, side by side.
  const std::size_t pixel = (1 * kSide + 2) * 3;
  BOOST_TEST(train.image(0)[pixel] == 17);
  BOOST_TEST(train.image(0)[pixel + 1] == 102);
  BOOST_TEST(train.image(0)[pixel + 2] == 187);
  // Without batches.meta.txt the standard names are used.
  BOOST_TEST(train.class_names() == sequent::data::cifar10_classes());
  BOOST_TEST(test.class_names() == sequent::data::cifar10_classes());
  BOOST_TEST(train.source().find("data_batch_5.bin") != std::string::npos);
  BOOST_TEST(test.source() == (dir / "test_batch.bin").string());
}

BOOST_AUTO_TEST_CASE(standard_class_names_in_label_order) {
  const std::vector<std::string> expected = {
      "airplane", "automobile", "bird",  "cat",  "deer",
      "dog",      "frog",       "horse", "ship", "truck"};
  BOOST_TEST(sequent::data::cifar10_classes() == expected,
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(finds_the_unpacked_subdirectory) {
  TempDir dir;
  write_tiny_cifar(dir / "cifar-10-batches-bin");
  write_text(dir / "cifar-10-batches-bin" / "batches.meta.txt",
             "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n");
  const auto [train, test] = sequent::data::cifar10(dir.path());
  BOOST_TEST(train.size() == 35u);
  BOOST_TEST(test.size() == 4u);
  BOOST_TEST(train.class_names()[9] == "j");
}

BOOST_AUTO_TEST_CASE(reads_class_names_from_the_meta_file) {
  TempDir dir;
  write_tiny_cifar(dir.path());
  // CRLF line ends, padding and empty lines at the end, as an edited copy
  // might have.
  write_text(dir / "batches.meta.txt",
             "plane\r\ncar\r\n bird \r\ncat\r\ndeer\r\ndog\r\nfrog\r\nhorse\r\n"
             "ship\r\nlorry\r\n\r\n\n  \n");
  const auto [train, test] = sequent::data::cifar10(dir.path());
  const std::vector<std::string> expected = {"plane", "car",  "bird", "cat",
                                             "deer",  "dog",  "frog", "horse",
                                             "ship",  "lorry"};
  BOOST_TEST(train.class_names() == expected, boost::test_tools::per_element());
  BOOST_TEST(test.class_names() == expected, boost::test_tools::per_element());
  BOOST_TEST(sequent::data::read_cifar10_class_names(
                 dir / "batches.meta.txt") == expected,
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(rejects_a_malformed_meta_file) {
  TempDir dir;
  write_tiny_cifar(dir.path());
  const fs::path meta = dir / "batches.meta.txt";
  struct Case {
    std::string text;
    std::string complaint;
  };
  const std::vector<Case> cases = {
      {"a\nb\nc\nd\ne\nf\ng\nh\ni\n",
       "expected 10 class names, one per "
       "line, found 9"},
      {"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk", "found 11"},
      {"a\nb\nc\n\nd\ne\nf\ng\nh\ni\n", "line 4 is empty"},
      {"", "found 0"},
      {"a\nb\nc\nd\ne\nf\ng\nh\ni\nc\n",
       "lines 3 and 10 both name the class 'c'"},
      {std::string("a\nb\0b\nc\nd\ne\nf\ng\nh\ni\nj\n", 22),
       "line 2 holds a control character (byte 0)"},
  };
  for (const Case& test : cases) {
    BOOST_TEST_CONTEXT("meta file \"" << test.text << "\"") {
      write_text(meta, test.text);
      BOOST_CHECK_EXCEPTION(sequent::data::cifar10(dir.path()),
                            std::runtime_error,
                            message_has(meta.string(), test.complaint));
    }
  }
  fs::remove(meta);
  fs::create_directory(meta);
  BOOST_CHECK_EXCEPTION(sequent::data::cifar10(dir.path()), std::runtime_error,
                        message_has(meta.string(), "is a directory"));
  fs::remove(meta);
  write_file(meta, Bytes(100000, 'a'));
  BOOST_CHECK_EXCEPTION(sequent::data::cifar10(dir.path()), std::runtime_error,
                        message_has(meta.string(), "100000 bytes"));
}

BOOST_AUTO_TEST_CASE(names_the_missing_batches) {
  TempDir dir;
  const fs::path absent = dir / "absent";
  BOOST_CHECK_EXCEPTION(sequent::data::cifar10(absent), std::runtime_error,
                        message_has(absent.string(), "no such directory"));
  const fs::path file = dir / "data_batch_1.bin";
  write_file(file, Bytes(3073, 0));
  BOOST_CHECK_EXCEPTION(sequent::data::cifar10(file), std::runtime_error,
                        message_has(file.string(), "is a file"));
  fs::remove(file);

  write_tiny_cifar(dir.path());
  fs::remove(dir / "data_batch_3.bin");
  BOOST_CHECK_EXCEPTION(
      sequent::data::cifar10(dir.path()), std::runtime_error,
      message_has(dir.path().string(), "missing data_batch_3.bin (expected"));
  fs::remove(dir / "test_batch.bin");
  BOOST_CHECK_EXCEPTION(
      sequent::data::cifar10(dir.path()), std::runtime_error,
      message_has("missing data_batch_3.bin, test_batch.bin (expected"));

  // An empty directory: every file is named.
  TempDir empty;
  BOOST_CHECK_EXCEPTION(
      sequent::data::cifar10(empty.path()), std::runtime_error,
      message_has(empty.path().string(), "missing data_batch_1.bin, ",
                  "data_batch_5.bin, test_batch.bin", "cifar-10-batches-bin"));
}

BOOST_AUTO_TEST_CASE(rejects_truncated_and_empty_files) {
  TempDir dir;
  write_tiny_cifar(dir.path());
  const fs::path second = dir / "data_batch_2.bin";
  Bytes bytes = batch_bytes(7, 7);
  bytes.pop_back();
  write_file(second, bytes);
  BOOST_CHECK_EXCEPTION(
      sequent::data::cifar10(dir.path()), std::runtime_error,
      message_has(second.string(),
                  "truncated: 21510 bytes is not a whole number of 3073-byte "
                  "records (6 records and 3072 bytes over)"));
  // A record and a bit: too long is as wrong as too short.
  write_file(second, Bytes(kRecordBytes + 5, 0));
  BOOST_CHECK_EXCEPTION(sequent::data::cifar10(dir.path()), std::runtime_error,
                        message_has(second.string(), "truncated: 3078 bytes"));
  write_file(second, {});
  BOOST_CHECK_EXCEPTION(sequent::data::cifar10(dir.path()), std::runtime_error,
                        message_has(second.string(), "is empty"));
  // The full-size file minus one byte, as in a cut-off download: only its
  // size is read before the error.
  const fs::path full = dir / "full.bin";
  {
    std::ofstream out(full, std::ios::binary);
    BOOST_REQUIRE(out.good());
  }
  fs::resize_file(full, 30729999);
  BOOST_CHECK_EXCEPTION(
      sequent::data::load_cifar10_batches({full},
                                          sequent::data::cifar10_classes()),
      std::runtime_error,
      message_has(full.string(),
                  "truncated: 30729999 bytes is not a whole number of "
                  "3073-byte records"));
}

BOOST_AUTO_TEST_CASE(rejects_a_bad_label) {
  TempDir dir;
  write_tiny_cifar(dir.path());
  const fs::path fourth = dir / "data_batch_4.bin";
  for (const std::uint8_t label : {10, 255}) {
    BOOST_TEST_CONTEXT("label " << int(label)) {
      Bytes bytes = batch_bytes(21, 7);
      bytes[4 * kRecordBytes] = label;
      write_file(fourth, bytes);
      BOOST_CHECK_EXCEPTION(
          sequent::data::cifar10(dir.path()), std::runtime_error,
          message_has(fourth.string(),
                      "label " + std::to_string(label) + " at record 4",
                      "expected 0 to 9"));
    }
  }
}

BOOST_AUTO_TEST_CASE(load_batches_checks_its_arguments) {
  TempDir dir;
  write_tiny_cifar(dir.path());
  const fs::path first = dir / "data_batch_1.bin";
  const Dataset one =
      sequent::data::load_cifar10_batches({first}, numbered_names(10));
  BOOST_TEST(one.size() == 7u);
  BOOST_TEST(one.class_names()[3] == "kind 3");
  BOOST_TEST(one.source() == first.string());
  check_images(one, 0);

  BOOST_CHECK_EXCEPTION(
      sequent::data::load_cifar10_batches({}, numbered_names(10)),
      std::invalid_argument, message_has("no files"));
  BOOST_CHECK_EXCEPTION(
      sequent::data::load_cifar10_batches({first}, numbered_names(9)),
      std::invalid_argument, message_has("expected 10 class names, found 9"));
  BOOST_CHECK_EXCEPTION(sequent::data::load_cifar10_batches(
                            {first, dir / "nope.bin"}, numbered_names(10)),
                        std::runtime_error,
                        message_has("nope.bin", "file not found"));
  BOOST_CHECK_EXCEPTION(
      sequent::data::load_cifar10_batches({dir.path()}, numbered_names(10)),
      std::runtime_error, message_has(dir.path().string(), "is a directory"));
}

BOOST_AUTO_TEST_CASE(reads_files_longer_than_one_read) {
  // The loader reads 1024 records at a time; 1030 crosses that boundary.
  TempDir dir;
  const fs::path big = dir / "big.bin";
  write_file(big, batch_bytes(0, 1030));
  const Dataset data =
      sequent::data::load_cifar10_batches({big, big}, numbered_names(10));
  BOOST_TEST(data.size() == 2060u);
  check_images(data.slice(0, 1030), 0);
  check_images(data.slice(1030, 1030), 0);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Augmentation

namespace {

// `count` images of `shape` whose channel c at (y, x) is
// value(image, y, x, c); labels are image % 10.
Dataset make_images(
    ImageShape shape, int count,
    const std::function<std::uint8_t(int, int, int, int)>& value) {
  Bytes pixels;
  std::vector<std::int32_t> labels;
  for (int i = 0; i < count; ++i) {
    for (int y = 0; y < shape.height; ++y) {
      for (int x = 0; x < shape.width; ++x) {
        for (int c = 0; c < shape.channels; ++c) {
          pixels.push_back(value(i, y, x, c));
        }
      }
    }
    labels.push_back(i % 10);
  }
  return Dataset(std::move(pixels), shape, std::move(labels),
                 numbered_names(10), "test images " + to_string(shape));
}

// Arbitrary bytes, covering all 256 values.
Dataset random_images(ImageShape shape, int count, std::uint32_t seed) {
  std::mt19937 generator(seed);
  return make_images(shape, count, [&](int, int, int, int) {
    return static_cast<std::uint8_t>(generator() >> 24);
  });
}

std::vector<std::uint32_t> iota_indices(std::size_t count) {
  std::vector<std::uint32_t> indices(count);
  for (std::size_t i = 0; i < count; ++i) {
    indices[i] = static_cast<std::uint32_t>(i);
  }
  return indices;
}

struct Batch {
  std::vector<float> inputs;
  std::vector<std::int32_t> labels;
};
Batch augmented(const Dataset& data, const std::vector<std::uint32_t>& indices,
                const Augmentation& aug, std::uint64_t seed) {
  Batch batch{std::vector<float>(indices.size() * data.shape().size(), -1.0f),
              std::vector<std::int32_t>(indices.size(), -1)};
  sequent::data::gather_augmented(data, indices, aug, seed, batch.inputs.data(),
                                  batch.labels.data());
  return batch;
}

float scaled(std::uint8_t pixel) { return pixel * (1.0f / 255.0f); }

}  // namespace

BOOST_AUTO_TEST_SUITE(augmentation)

BOOST_DATA_TEST_CASE(off_equals_gather, sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  for (const ImageShape shape :
       {ImageShape{32, 32, 3}, ImageShape{28, 28, 1}, ImageShape{3, 5, 7}}) {
    BOOST_TEST_CONTEXT("shape " << to_string(shape)) {
      const Dataset data = random_images(shape, 9, 1);
      const std::vector<std::uint32_t> indices = {4, 0, 8, 4, 1};
      Batch expected{std::vector<float>(indices.size() * shape.size()),
                     std::vector<std::int32_t>(indices.size())};
      data.gather(indices, expected.inputs.data(), expected.labels.data());
      for (const std::uint64_t seed : {0ull, 12345ull}) {
        const Batch batch = augmented(data, indices, Augmentation{}, seed);
        BOOST_TEST(batch.inputs == expected.inputs);
        BOOST_TEST(batch.labels == expected.labels,
                   boost::test_tools::per_element());
      }
    }
  }
}

BOOST_DATA_TEST_CASE(flip_mirrors_exactly, sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  const Augmentation aug{.horizontal_flip = true};
  // Pixel widths 1 to 20 bytes: whole shuffles of 16, 5, 4 and 3 pixels,
  // one pixel per shuffle, and pixels wider than a shuffle.
  for (const ImageShape shape :
       {ImageShape{5, 7, 3}, ImageShape{32, 32, 3}, ImageShape{4, 33, 1},
        ImageShape{3, 6, 4}, ImageShape{2, 9, 5}, ImageShape{3, 4, 16},
        ImageShape{2, 5, 20}}) {
    BOOST_TEST_CONTEXT("shape " << to_string(shape)) {
      // Every image the same, asymmetric: value = f(y, x, c) only. Different
      // indices still get different draws.
      const Dataset data = make_images(shape, 40, [](int, int y, int x, int c) {
        return static_cast<std::uint8_t>(1 + 31 * y + 7 * x + 50 * c);
      });
      const auto indices = iota_indices(40);
      const Batch batch = augmented(data, indices, aug, 99);
      const std::span<const std::uint8_t> image = data.image(0);
      int flipped = 0;
      for (const std::uint32_t index : indices) {
        const AugmentDraw draw =
            sequent::data::draw_augmentation(aug, 99, index);
        BOOST_REQUIRE(draw.dx == 0 && draw.dy == 0);
        flipped += draw.flip;
        const float* out = batch.inputs.data() + index * shape.size();
        for (int y = 0; y < shape.height; ++y) {
          for (int x = 0; x < shape.width; ++x) {
            const int source_x = draw.flip ? shape.width - 1 - x : x;
            for (int c = 0; c < shape.channels; ++c) {
              const std::size_t at = (y * shape.width + x) * shape.channels + c;
              const std::size_t from =
                  (y * shape.width + source_x) * shape.channels + c;
              BOOST_REQUIRE_EQUAL(out[at], scaled(image[from]));
            }
          }
        }
      }
      BOOST_TEST(flipped > 5);
      BOOST_TEST(flipped < 35);
    }
  }
}

BOOST_DATA_TEST_CASE(shift_moves_a_pixel_and_fills_zeros,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  // A grey 8×9×3 image with one coloured marker pixel at (x 5, y 3).
  const ImageShape shape{8, 9, 3};
  constexpr int kMarkerX = 5;
  constexpr int kMarkerY = 3;
  constexpr std::array<std::uint8_t, 3> kMarker = {10, 20, 30};
  constexpr std::uint8_t kGrey = 200;
  const Dataset data = make_images(shape, 60, [&](int, int y, int x, int c) {
    return y == kMarkerY && x == kMarkerX ? kMarker[c] : kGrey;
  });
  const auto indices = iota_indices(60);
  for (const bool flip : {false, true}) {
    const Augmentation aug{.horizontal_flip = flip, .max_shift = 3};
    const Batch batch = augmented(data, indices, aug, 5);
    for (const std::uint32_t index : indices) {
      const AugmentDraw draw = sequent::data::draw_augmentation(aug, 5, index);
      BOOST_TEST_CONTEXT("flip " << draw.flip << ", dx " << draw.dx << ", dy "
                                 << draw.dy) {
        BOOST_REQUIRE(draw.dx >= -3 && draw.dx <= 3);
        BOOST_REQUIRE(draw.dy >= -3 && draw.dy <= 3);
        // The marker moves by (dx, dy), from its mirrored place if flipped.
        const int marker_x =
            (draw.flip ? shape.width - 1 - kMarkerX : kMarkerX) + draw.dx;
        const int marker_y = kMarkerY + draw.dy;
        const float* out = batch.inputs.data() + index * shape.size();
        int zeros = 0;
        for (int y = 0; y < shape.height; ++y) {
          for (int x = 0; x < shape.width; ++x) {
            const float* pixel = out + (y * shape.width + x) * 3;
            const bool padding = y - draw.dy < 0 || y - draw.dy >= 8 ||
                                 x - draw.dx < 0 || x - draw.dx >= 9;
            for (int c = 0; c < 3; ++c) {
              const float expected = padding ? 0.0f
                                     : x == marker_x && y == marker_y
                                         ? scaled(kMarker[c])
                                         : scaled(kGrey);
              BOOST_REQUIRE_EQUAL(pixel[c], expected);
            }
            zeros += padding;
          }
        }
        // Shifting by (dx, dy) uncovers all but (9−|dx|)·(8−|dy|) pixels.
        BOOST_TEST(zeros ==
                   72 - (9 - std::abs(draw.dx)) * (8 - std::abs(draw.dy)));
      }
    }
  }
}

BOOST_DATA_TEST_CASE(matches_the_reference, sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  const std::vector<ImageShape> shapes = {{1, 1, 1},   {3, 5, 3},   {7, 2, 4},
                                          {17, 33, 3}, {32, 32, 3}, {28, 28, 1},
                                          {4, 100, 1}, {9, 11, 5},  {6, 6, 16},
                                          {5, 40, 17}, {2, 700, 3}};
  const std::vector<Augmentation> augmentations = {
      {.horizontal_flip = true},
      {.max_shift = 1},
      {.horizontal_flip = true, .max_shift = 3},
      {.horizontal_flip = true, .max_shift = 50},  // often shifted right out
  };
  for (const ImageShape shape : shapes) {
    const Dataset data = random_images(shape, 13, 7);
    // Repeats, and the first and last images of the dataset, whose pixels
    // sit at the ends of its array.
    const std::vector<std::uint32_t> indices = {0, 12, 5,  0, 7, 12, 1, 3,
                                                9, 2,  11, 6, 4, 8,  10};
    const std::size_t n = indices.size() * shape.size();
    for (const Augmentation& aug : augmentations) {
      BOOST_TEST_CONTEXT("shape " << to_string(shape) << ", flip "
                                  << aug.horizontal_flip << ", max_shift "
                                  << aug.max_shift) {
        std::vector<float> expected(n);
        std::vector<std::int32_t> expected_labels(indices.size());
        sequent::data::gather_augmented_reference(
            data, indices, aug, 3, expected.data(), expected_labels.data());
        // One float of misalignment, and a guard on each side.
        constexpr float kGuard = -7.0f;
        std::vector<float> buffer(n + 2, kGuard);
        std::vector<std::int32_t> labels(indices.size());
        sequent::data::gather_augmented(data, indices, aug, 3,
                                        buffer.data() + 1, labels.data());
        BOOST_TEST(buffer.front() == kGuard);
        BOOST_TEST(buffer.back() == kGuard);
        const auto [got, want] = std::mismatch(
            buffer.begin() + 1, buffer.end() - 1, expected.begin());
        BOOST_CHECK_MESSAGE(got == buffer.end() - 1,
                            "first difference at float "
                                << (got - buffer.begin() - 1) << ": " << *got
                                << " instead of " << *want);
        BOOST_TEST(labels == expected_labels, boost::test_tools::per_element());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(seeded_and_independent_of_the_batch) {
  const Dataset data = random_images(ImageShape{32, 32, 3}, 16, 11);
  const Augmentation aug{.horizontal_flip = true, .max_shift = 4};
  const auto indices = iota_indices(16);
  const Batch first = augmented(data, indices, aug, 42);
  BOOST_TEST(augmented(data, indices, aug, 42).inputs == first.inputs);
  BOOST_TEST(augmented(data, indices, aug, 43).inputs != first.inputs);
  // Image 7 alone, or in another batch at another position: the same.
  const std::size_t size = data.shape().size();
  const std::vector<float> seventh(first.inputs.begin() + 7 * size,
                                   first.inputs.begin() + 8 * size);
  BOOST_TEST(augmented(data, {7}, aug, 42).inputs == seventh);
  const Batch other = augmented(data, {3, 7, 7}, aug, 42);
  BOOST_TEST(
      std::equal(seventh.begin(), seventh.end(), other.inputs.begin() + size));
  BOOST_TEST(std::equal(seventh.begin(), seventh.end(),
                        other.inputs.begin() + 2 * size));
  // Turning the flip off leaves the shifts as they were.
  for (std::uint32_t i = 0; i < 100; ++i) {
    const AugmentDraw both = sequent::data::draw_augmentation(aug, 42, i);
    const AugmentDraw shift_only =
        sequent::data::draw_augmentation({.max_shift = 4}, 42, i);
    BOOST_TEST((both.dx == shift_only.dx && both.dy == shift_only.dy));
    BOOST_TEST(!shift_only.flip);
  }
}

BOOST_AUTO_TEST_CASE(flip_rate_is_one_half_and_shifts_cover_the_range) {
  // One marker on a black 9×16 image, at (x 3, y 4). With |shift| ≤ 3 it
  // stays inside, at x ∈ [0, 6] unflipped and x = 12 + dx ∈ [9, 15]
  // flipped, so each output tells its flip, dx and dy.
  constexpr int kSamples = 7000;
  constexpr int kShift = 3;
  const Dataset data =
      make_images(ImageShape{9, 16, 1}, kSamples, [](int, int y, int x, int) {
        return static_cast<std::uint8_t>(y == 4 && x == 3 ? 255 : 0);
      });
  const Augmentation aug{.horizontal_flip = true, .max_shift = kShift};
  const Batch batch = augmented(data, iota_indices(kSamples), aug, 2024);
  int flips = 0;
  std::array<int, 2 * kShift + 1> dx_counts{};
  std::array<int, 2 * kShift + 1> dy_counts{};
  for (int i = 0; i < kSamples; ++i) {
    const auto begin = batch.inputs.begin() + i * 144;
    const auto marker = std::find(begin, begin + 144, 1.0f);
    BOOST_REQUIRE(marker != begin + 144);
    BOOST_REQUIRE_EQUAL(std::count(begin, begin + 144, 0.0f), 143);
    const int x = static_cast<int>(marker - begin) % 16;
    const int y = static_cast<int>(marker - begin) / 16;
    const bool flipped = x >= 8;
    const int dx = flipped ? x - 12 : x - 3;
    const int dy = y - 4;
    BOOST_REQUIRE(dx >= -kShift && dx <= kShift);
    BOOST_REQUIRE(dy >= -kShift && dy <= kShift);
    flips += flipped;
    ++dx_counts[dx + kShift];
    ++dy_counts[dy + kShift];
  }
  // Binomial: σ = √(n·p·(1−p)); every bound below is about 5σ.
  BOOST_TEST(std::abs(flips - kSamples / 2) < 210);       // σ ≈ 42
  constexpr int kPerShift = kSamples / (2 * kShift + 1);  // 1000, σ ≈ 29
  for (int s = 0; s <= 2 * kShift; ++s) {
    BOOST_TEST_CONTEXT("shift " << s - kShift) {
      BOOST_TEST(std::abs(dx_counts[s] - kPerShift) < 150);
      BOOST_TEST(std::abs(dy_counts[s] - kPerShift) < 150);
    }
  }
}

BOOST_AUTO_TEST_CASE(rejects_bad_arguments_before_writing) {
  const Dataset data = random_images(ImageShape{4, 4, 3}, 3, 5);
  std::vector<float> inputs(2 * 48, -1.0f);
  std::vector<std::int32_t> labels(2, -1);
  const std::vector<std::uint32_t> good = {0, 2};
  BOOST_CHECK_EXCEPTION(
      sequent::data::gather_augmented(data, good, {.max_shift = -1}, 0,
                                      inputs.data(), labels.data()),
      std::invalid_argument, message_has("max_shift", "-1"));
  BOOST_CHECK_THROW(sequent::data::draw_augmentation({.max_shift = -2}, 0, 0),
                    std::invalid_argument);
  const std::vector<std::uint32_t> bad = {0, 3};
  BOOST_CHECK_EXCEPTION(
      sequent::data::gather_augmented(data, bad, {.horizontal_flip = true}, 0,
                                      inputs.data(), labels.data()),
      std::out_of_range,
      message_has("test images 4x4x3", "index 3", "position 1"));
  BOOST_CHECK_THROW(sequent::data::gather_augmented_reference(
                        data, bad, {}, 0, inputs.data(), labels.data()),
                    std::out_of_range);
  BOOST_TEST(std::count(inputs.begin(), inputs.end(), -1.0f) == 96);
  BOOST_TEST(std::count(labels.begin(), labels.end(), -1) == 2);
}

BOOST_AUTO_TEST_SUITE_END()
