// Tests of the data runtime: the IDX reader on good and broken files (raw and
// gzip), Dataset / FloatDataset validation and batching, epoch shuffling, and
// finding Fashion-MNIST (including the real copy when it is installed).
#define BOOST_TEST_MODULE data
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <numeric>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "error_message.hpp"
#include "sequent/data/dataset.hpp"
#include "sequent/data/fashion_mnist.hpp"
#include "sequent/data/idx.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using sequent::data::Dataset;
using sequent::data::FloatDataset;
using sequent::data::ImageShape;

namespace {

using Bytes = std::vector<std::uint8_t>;

using sequent::test::TempDir;

// An IDX file's bytes: magic 00 00 <type> <dims.size()>, big-endian sizes,
// then `values`.
Bytes idx_bytes(const std::vector<std::uint32_t>& dims, const Bytes& values,
                std::uint8_t type = 0x08) {
  Bytes bytes = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (const std::uint32_t dim : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      bytes.push_back(static_cast<std::uint8_t>(dim >> shift));
    }
  }
  bytes.insert(bytes.end(), values.begin(), values.end());
  return bytes;
}

// 0, 1, 2, … wrapping at 256, with some structure so deflate uses Huffman
// blocks rather than storing the data.
Bytes pattern(std::size_t count, int modulus = 256) {
  Bytes values(count);
  for (std::size_t i = 0; i < count; ++i) {
    values[i] = static_cast<std::uint8_t>((i * i / 7 + i / 3) % modulus);
  }
  return values;
}

void write_raw(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  BOOST_REQUIRE(out.good());
}

void write_gzip(const fs::path& path, const Bytes& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  BOOST_REQUIRE(file != nullptr);
  if (!bytes.empty()) {
    BOOST_REQUIRE_EQUAL(
        gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
        static_cast<int>(bytes.size()));
  }
  BOOST_REQUIRE_EQUAL(gzclose(file), Z_OK);
}

Bytes read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

using sequent::test::message_has;

std::vector<std::string> class_names(int count) {
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) names.push_back("class" + std::to_string(i));
  return names;
}

// Sets an environment variable for one scope and restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Writes a Fashion-MNIST-shaped set of tiny files (train: 6, test: 4 images of
// 3×2) into `dir`, the training files gzip and the test files raw.
void write_tiny_fashion(const fs::path& dir) {
  fs::create_directories(dir);
  write_gzip(dir / "train-images-idx3-ubyte.gz",
             idx_bytes({6, 3, 2}, pattern(36)));
  write_gzip(dir / "train-labels-idx1-ubyte.gz",
             idx_bytes({6}, {0, 9, 1, 8, 2, 7}));
  write_raw(dir / "t10k-images-idx3-ubyte", idx_bytes({4, 3, 2}, pattern(24)));
  write_raw(dir / "t10k-labels-idx1-ubyte", idx_bytes({4}, {3, 4, 5, 6}));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(idx_reader)

BOOST_AUTO_TEST_CASE(reads_raw_and_gzip_of_every_rank) {
  TempDir dir;
  const std::vector<std::vector<std::uint32_t>> shapes = {
      {5}, {2, 3, 4}, {3, 2, 2, 3}, {1, 1}};
  for (const auto& dims : shapes) {
    const std::size_t count =
        std::accumulate(dims.begin(), dims.end(), std::size_t{1},
                        [](std::size_t a, std::uint32_t b) { return a * b; });
    const Bytes values = pattern(count);
    write_raw(dir / "raw", idx_bytes(dims, values));
    write_gzip(dir / "gz", idx_bytes(dims, values));
    for (const char* name : {"raw", "gz"}) {
      BOOST_TEST_CONTEXT("file " << name << ", rank " << dims.size()) {
        const auto array = sequent::data::read_idx(dir / name);
        BOOST_TEST(array.dims == dims, boost::test_tools::per_element());
        BOOST_TEST(array.values == values, boost::test_tools::per_element());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(detects_gzip_by_content_not_name) {
  TempDir dir;
  const Bytes values = pattern(100);
  write_raw(dir / "raw-named.gz", idx_bytes({100}, values));
  write_gzip(dir / "gzip-named.idx", idx_bytes({100}, values));
  BOOST_TEST(sequent::data::read_idx(dir / "raw-named.gz").values == values);
  BOOST_TEST(sequent::data::read_idx(dir / "gzip-named.idx").values == values);
}

BOOST_AUTO_TEST_CASE(reads_a_large_gzip_file_across_many_chunks) {
  TempDir dir;
  const Bytes values = pattern(300 * 28 * 28, 251);
  write_gzip(dir / "large.gz", idx_bytes({300, 28, 28}, values));
  BOOST_TEST(sequent::data::read_idx(dir / "large.gz").values == values);
}

BOOST_AUTO_TEST_CASE(reads_concatenated_gzip_members) {
  TempDir dir;
  const Bytes whole = idx_bytes({4, 50}, pattern(200));
  write_gzip(dir / "first", Bytes(whole.begin(), whole.begin() + 90));
  write_gzip(dir / "second", Bytes(whole.begin() + 90, whole.end()));
  Bytes joined = read_bytes(dir / "first");
  const Bytes second = read_bytes(dir / "second");
  joined.insert(joined.end(), second.begin(), second.end());
  write_raw(dir / "joined.gz", joined);
  BOOST_TEST(sequent::data::read_idx(dir / "joined.gz").values == pattern(200));
}

BOOST_AUTO_TEST_CASE(missing_and_unreadable_files) {
  TempDir dir;
  const fs::path missing = dir / "no-such-file.gz";
  BOOST_CHECK_EXCEPTION(sequent::data::read_idx(missing), std::runtime_error,
                        message_has(missing.string(), "not found"));
  BOOST_CHECK_EXCEPTION(sequent::data::read_idx(dir.path()), std::runtime_error,
                        message_has(dir.path().string(), "directory"));
  // A FIFO without a writer would block the read forever.
  const fs::path fifo = dir / "pipe.gz";
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  BOOST_CHECK_EXCEPTION(sequent::data::read_idx(fifo), std::runtime_error,
                        message_has(fifo.string(), "not a regular file"));
}

BOOST_AUTO_TEST_CASE(corrupt_gzip_streams) {
  TempDir dir;
  write_gzip(dir / "good.gz", idx_bytes({50, 28, 28}, pattern(50 * 28 * 28)));
  const Bytes good = read_bytes(dir / "good.gz");
  BOOST_REQUIRE_GT(good.size(), 200u);

  // Flipped bytes anywhere past the gzip header: zlib reports a bad block or,
  // at the end, a CRC mismatch; either way the reader must say so.
  for (const std::size_t position : {good.size() / 4, good.size() / 2,
                                     good.size() * 3 / 4, good.size() - 6}) {
    BOOST_TEST_CONTEXT("byte " << position << " of " << good.size()) {
      Bytes flipped = good;
      flipped[position] ^= 0xFF;
      flipped[position + 1] ^= 0x55;
      const fs::path path = dir / "flipped.gz";
      write_raw(path, flipped);
      BOOST_CHECK_EXCEPTION(sequent::data::read_idx(path), std::runtime_error,
                            message_has(path.string(), "corrupt gzip"));
    }
  }

  // Truncated in the middle, and with only the 8-byte CRC/length trailer
  // cut off (all data decompresses, so only draining to the end notices).
  for (const std::size_t keep : {good.size() / 2, good.size() - 8}) {
    BOOST_TEST_CONTEXT("keeping " << keep << " of " << good.size()) {
      const fs::path path = dir / "truncated.gz";
      write_raw(path, Bytes(good.begin(), good.begin() + keep));
      BOOST_CHECK_EXCEPTION(sequent::data::read_idx(path), std::runtime_error,
                            message_has(path.string(), "truncated"));
    }
  }

  Bytes garbage_after = good;
  garbage_after.insert(garbage_after.end(), {'j', 'u', 'n', 'k'});
  const fs::path path = dir / "garbage-after.gz";
  write_raw(path, garbage_after);
  BOOST_CHECK_EXCEPTION(sequent::data::read_idx(path), std::runtime_error,
                        message_has(path.string(), "after the end"));
}

// A small gzip file whose header claims gigabytes must cost memory in
// proportion to the data it really holds: read in a child process, whose
// peak resident size the parent reads back (it was 1.2 GB for this 1 MiB
// file when the first allocation trusted deflate's 1032× limit).
BOOST_AUTO_TEST_CASE(a_lying_gzip_header_costs_little_memory) {
  TempDir dir;
  Bytes noise(std::size_t{1} << 20);
  std::mt19937 random(7);
  for (auto& b : noise) b = static_cast<std::uint8_t>(random());
  const fs::path path = dir / "lying.gz";
  write_gzip(path, idx_bytes({4'200'000'000u}, noise));  // 4.2 GB claimed
  BOOST_REQUIRE_LT(fs::file_size(path), std::uintmax_t{2} << 20);
  const pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    int code = 1;
    try {
      sequent::data::read_idx(path);
    } catch (const std::runtime_error& e) {
      code = std::string(e.what()).find("expected 4200000000 bytes") !=
                     std::string::npos
                 ? 0
                 : 2;
    }
    ::_exit(code);
  }
  int status = 0;
  struct rusage usage {};
  BOOST_REQUIRE_EQUAL(::wait4(child, &status, 0, &usage), child);
  BOOST_REQUIRE(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);  // the error names the sizes
  BOOST_TEST(usage.ru_maxrss < 400 * 1024,
             "peak " << usage.ru_maxrss << " KiB");
}

BOOST_AUTO_TEST_CASE(bad_headers) {
  TempDir dir;
  struct Case {
    const char* name;
    Bytes bytes;
    std::vector<std::string> words;
  };
  const std::vector<Case> cases = {
      {"empty", {}, {"4-byte IDX magic", "only 0 bytes"}},
      {"short-magic", {0, 0}, {"magic", "only 2 bytes"}},
      {"wrong-magic",
       {0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1, 7},
       {"wrong magic", "0x12 0x34", "expected 0x00 0x00 0x08"}},
      {"float-type",
       idx_bytes({1}, {0, 0, 0, 0}, 0x0D),
       {"wrong data type", "expected 0x08", "found 0x0d", "float32"}},
      {"zero-dims", {0, 0, 8, 0}, {"dimensions", "expected 1 to 4", "found 0"}},
      {"five-dims",
       idx_bytes({1, 1, 1, 1, 1}, {9}),
       {"dimensions", "expected 1 to 4", "found 5"}},
      {"zero-size", idx_bytes({3, 0, 2}, {}), {"dimension 1 of 3 is 0"}},
      {"short-header", {0, 0, 8, 3, 0, 0, 0, 2}, {"3 dimensions", "after 4"}},
      {"absurd", idx_bytes({65536, 65536, 2}, {}), {"4 GiB", "65536x65536x2"}},
      {"too-short",
       idx_bytes({60000, 28, 28}, pattern(1000)),
       {"expected 47040000 bytes", "16-byte header", "60000x28x28",
        "found 1000"}},
      {"too-long",
       idx_bytes({2, 3}, pattern(9)),
       {"expected 6 bytes", "found 9", "3 extra bytes"}},
  };
  for (const Case& test : cases) {
    for (const bool gzip : {false, true}) {
      BOOST_TEST_CONTEXT(test.name << (gzip ? " (gzip)" : " (raw)")) {
        const fs::path path = dir / (std::string(test.name) + ".idx");
        if (gzip) {
          write_gzip(path, test.bytes);
        } else {
          write_raw(path, test.bytes);
        }
        BOOST_CHECK_EXCEPTION(sequent::data::read_idx(path), std::runtime_error,
                              [&](const std::runtime_error& error) {
                                bool ok = message_has(path.string())(error);
                                for (const std::string& word : test.words) {
                                  ok = message_has(word)(error) && ok;
                                }
                                return ok;
                              });
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(load_idx)

BOOST_AUTO_TEST_CASE(pairs_images_with_labels) {
  TempDir dir;
  write_gzip(dir / "images", idx_bytes({3, 2, 4}, pattern(24)));
  write_raw(dir / "labels", idx_bytes({3}, {2, 0, 1}));
  const Dataset data =
      sequent::data::load_idx(dir / "images", dir / "labels", class_names(3));
  BOOST_TEST(data.size() == 3u);
  BOOST_TEST(sequent::data::to_string(data.shape()) == "2x4x1");
  BOOST_TEST(data.num_classes() == 3u);
  BOOST_TEST(data.source() == (dir / "images").string());
  const std::vector<std::int32_t> labels(data.labels().begin(),
                                         data.labels().end());
  BOOST_TEST(labels == (std::vector<std::int32_t>{2, 0, 1}),
             boost::test_tools::per_element());
  const Bytes all = pattern(24);
  const auto second = data.image(1);
  BOOST_TEST(Bytes(second.begin(), second.end()) ==
                 Bytes(all.begin() + 8, all.begin() + 16),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(reads_channels_from_a_fourth_dimension) {
  TempDir dir;
  write_raw(dir / "images", idx_bytes({2, 2, 3, 3}, pattern(36)));
  write_raw(dir / "labels", idx_bytes({2}, {1, 0}));
  const Dataset data =
      sequent::data::load_idx(dir / "images", dir / "labels", class_names(2));
  BOOST_TEST(sequent::data::to_string(data.shape()) == "2x3x3");
  BOOST_TEST(data.images().pixels.size() == 36u);
}

BOOST_AUTO_TEST_CASE(rejects_mismatched_files) {
  TempDir dir;
  const fs::path images = dir / "images", labels = dir / "labels";
  write_raw(images, idx_bytes({3, 2, 2}, pattern(12)));

  write_raw(labels, idx_bytes({4}, {0, 1, 0, 1}));
  BOOST_CHECK_EXCEPTION(
      sequent::data::load_idx(images, labels, class_names(2)),
      std::runtime_error,
      message_has(images.string(), labels.string(), "3 images", "4 labels"));

  write_raw(labels, idx_bytes({3}, {0, 1, 7}));
  BOOST_CHECK_EXCEPTION(
      sequent::data::load_idx(images, labels, class_names(7)),
      std::runtime_error,
      message_has(labels.string(), "label 7", "index 2", "class count 7"));

  write_raw(labels, idx_bytes({3, 1}, {0, 1, 0}));
  BOOST_CHECK_EXCEPTION(sequent::data::load_idx(images, labels, class_names(2)),
                        std::runtime_error,
                        message_has(labels.string(), "1 dimension", "found 2"));

  BOOST_CHECK_EXCEPTION(sequent::data::load_idx(labels, labels, class_names(2)),
                        std::runtime_error,
                        message_has(labels.string(), "3 dimensions"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(datasets)

BOOST_AUTO_TEST_CASE(shape_to_string) {
  BOOST_TEST(sequent::data::to_string(ImageShape{28, 28, 1}) == "28x28x1");
  BOOST_TEST(sequent::data::to_string(ImageShape{32, 16, 3}) == "32x16x3");
}

BOOST_AUTO_TEST_CASE(constructor_validates) {
  const ImageShape shape{2, 2, 1};
  BOOST_CHECK_NO_THROW(Dataset(Bytes(8), shape, {0, 1}, class_names(2), "ok"));
  BOOST_CHECK_NO_THROW(Dataset({}, shape, {}, {}, "empty"));
  BOOST_CHECK_EXCEPTION(
      Dataset(Bytes(7), shape, {0, 1}, class_names(2), "src-a"),
      std::invalid_argument, message_has("src-a", "expected 8", "found 7"));
  BOOST_CHECK_EXCEPTION(
      Dataset(Bytes(8), shape, {0, 2}, class_names(2), "src-b"),
      std::invalid_argument, message_has("src-b", "label 2", "index 1"));
  BOOST_CHECK_EXCEPTION(
      Dataset(Bytes(8), shape, {-1, 0}, class_names(2), "src-c"),
      std::invalid_argument, message_has("src-c", "label -1", "index 0"));
  BOOST_CHECK_EXCEPTION(Dataset(Bytes(8), shape, {0, 0}, {}, "src-d"),
                        std::invalid_argument,
                        message_has("src-d", "no class names"));
  BOOST_CHECK_EXCEPTION(
      Dataset(Bytes(8), ImageShape{-2, -2, 2}, {0, 0}, class_names(1), "src-e"),
      std::invalid_argument, message_has("src-e", "-2x-2x2"));
  BOOST_CHECK_EXCEPTION(Dataset({}, ImageShape{1 << 30, 1 << 30, 1 << 30}, {0},
                                class_names(1), "src-f"),
                        std::invalid_argument,
                        message_has("src-f", "overflow"));
}

BOOST_AUTO_TEST_CASE(image_and_slice_are_bounds_checked) {
  const Dataset data(pattern(5 * 6), ImageShape{2, 3, 1}, {0, 1, 2, 1, 0},
                     class_names(3), "five");
  BOOST_TEST(data.image(4)[5] == pattern(30)[29]);
  BOOST_CHECK_EXCEPTION(data.image(5), std::out_of_range,
                        message_has("five", "image 5"));

  const Dataset middle = data.slice(1, 3);
  BOOST_TEST(middle.size() == 3u);
  BOOST_TEST(sequent::data::to_string(middle.shape()) ==
             sequent::data::to_string(data.shape()));
  BOOST_TEST(middle.class_names() == data.class_names());
  BOOST_TEST(middle.labels()[0] == 1);
  BOOST_TEST(middle.labels()[2] == 1);
  BOOST_TEST(middle.image(0)[0] == data.image(1)[0]);
  BOOST_TEST(data.slice(5, 0).size() == 0u);
  BOOST_CHECK_EXCEPTION(data.slice(3, 3), std::out_of_range,
                        message_has("five", "3 samples from 3"));
  BOOST_CHECK_THROW(data.slice(6, 0), std::out_of_range);
  BOOST_CHECK_THROW(data.slice(1, SIZE_MAX), std::out_of_range);
}

BOOST_AUTO_TEST_CASE(gather_scales_to_unit_interval) {
  Bytes pixels(256 * 3);
  for (std::size_t i = 0; i < pixels.size(); ++i) {
    pixels[i] = static_cast<std::uint8_t>(i % 256);
  }
  // Three images of 16×16: all 256 byte values, in three orders.
  std::reverse(pixels.begin() + 256, pixels.begin() + 512);
  const Dataset data(pixels, ImageShape{16, 16, 1}, {4, 5, 6}, class_names(7),
                     "all bytes");
  const std::vector<std::uint32_t> indices = {2, 0, 1, 2};
  std::vector<float> inputs(indices.size() * 256, -1.0f);
  std::vector<std::int32_t> labels(indices.size(), -1);
  data.gather(indices, inputs.data(), labels.data());
  BOOST_TEST(labels == (std::vector<std::int32_t>{6, 4, 5, 6}),
             boost::test_tools::per_element());
  for (std::size_t row = 0; row < indices.size(); ++row) {
    for (std::size_t j = 0; j < 256; ++j) {
      const float expected = pixels[indices[row] * 256 + j] * (1.0f / 255.0f);
      BOOST_REQUIRE_EQUAL(inputs[row * 256 + j], expected);
    }
  }
  BOOST_TEST(inputs[256] == 0.0f);        // image 0, byte 0
  BOOST_TEST(inputs[256 + 255] == 1.0f);  // image 0, byte 255
  BOOST_TEST(*std::max_element(inputs.begin(), inputs.end()) == 1.0f);

  const std::vector<std::uint32_t> bad = {1, 3};
  BOOST_CHECK_EXCEPTION(data.gather(bad, inputs.data(), labels.data()),
                        std::out_of_range,
                        message_has("all bytes", "index 3", "position 1"));
}

BOOST_AUTO_TEST_CASE(float_dataset_checks_sizes_and_gathers) {
  const FloatDataset data({1, 2, 3, 4, 5, 6}, 2, {10, 20, 30}, 1);
  BOOST_TEST(data.size() == 3u);
  BOOST_TEST(data.input_size() == 2u);
  BOOST_TEST(data.target_size() == 1u);
  const std::vector<std::uint32_t> indices = {2, 0};
  std::vector<float> inputs(4), targets(2);
  data.gather(indices, inputs.data(), targets.data());
  BOOST_TEST(inputs == (std::vector<float>{5, 6, 1, 2}),
             boost::test_tools::per_element());
  BOOST_TEST(targets == (std::vector<float>{30, 10}),
             boost::test_tools::per_element());
  const std::vector<std::uint32_t> bad = {3};
  BOOST_CHECK_THROW(data.gather(bad, inputs.data(), targets.data()),
                    std::out_of_range);

  BOOST_CHECK_EXCEPTION(FloatDataset({1, 2, 3}, 2, {1}, 1),
                        std::invalid_argument,
                        message_has("3 input values", "samples of 2"));
  BOOST_CHECK_EXCEPTION(FloatDataset({1, 2, 3, 4}, 2, {1, 2, 3}, 1),
                        std::invalid_argument,
                        message_has("expected 2 target", "found 3"));
  BOOST_CHECK_THROW(FloatDataset({1, 2}, 0, {1}, 1), std::invalid_argument);
  BOOST_CHECK_THROW(FloatDataset({1, 2}, 2, {}, 0), std::invalid_argument);
  BOOST_CHECK_NO_THROW(FloatDataset({}, 4, {}, 2));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(epoch_shuffling)

BOOST_AUTO_TEST_CASE(order_is_a_deterministic_permutation) {
  using sequent::data::epoch_order;
  for (const std::size_t n : {0u, 1u, 2u, 7u, 1000u, 60000u}) {
    BOOST_TEST_CONTEXT("n = " << n) {
      std::vector<std::uint32_t> identity(n);
      std::iota(identity.begin(), identity.end(), 0u);
      BOOST_TEST(epoch_order(n, false, 42, 3) == identity);

      const auto order = epoch_order(n, true, 42, 3);
      auto sorted = order;
      std::sort(sorted.begin(), sorted.end());
      BOOST_TEST(sorted == identity);
      BOOST_TEST(epoch_order(n, true, 42, 3) == order);
      if (n >= 7) {
        BOOST_TEST(order != identity);
        BOOST_TEST(epoch_order(n, true, 42, 4) != order);
        BOOST_TEST(epoch_order(n, true, 43, 3) != order);
      }
    }
  }
}

// Every value should land in every position about equally often; Sattolo's
// variant (j < i) or an off-by-one would leave a value never at its own place.
BOOST_AUTO_TEST_CASE(order_is_uniform_over_epochs) {
  constexpr std::size_t kN = 5;
  constexpr int kEpochs = 20000;
  std::array<std::array<int, kN>, kN> counts{};
  for (int epoch = 0; epoch < kEpochs; ++epoch) {
    const auto order = sequent::data::epoch_order(kN, true, 7, epoch);
    for (std::size_t position = 0; position < kN; ++position) {
      ++counts[position][order[position]];
    }
  }
  // Expected 4000 each; the standard deviation is about 57, so ±400 is 7σ.
  for (std::size_t position = 0; position < kN; ++position) {
    for (std::size_t value = 0; value < kN; ++value) {
      BOOST_TEST(std::abs(counts[position][value] - kEpochs / int{kN}) < 400,
                 "value " << value << " at position " << position << ": "
                          << counts[position][value] << " times");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(fashion_mnist)

BOOST_AUTO_TEST_CASE(class_names_in_label_order) {
  const auto& names = sequent::data::fashion_mnist_classes();
  const std::vector<std::string> expected = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  BOOST_TEST(names == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(loads_from_an_explicit_directory) {
  TempDir dir;
  write_tiny_fashion(dir.path());
  BOOST_TEST(sequent::data::find_fashion_mnist(dir.path()).value_or("") ==
             dir.path());
  const auto [train, test] = sequent::data::fashion_mnist(dir.path());
  BOOST_TEST(train.size() == 6u);
  BOOST_TEST(test.size() == 4u);
  BOOST_TEST(sequent::data::to_string(train.shape()) == "3x2x1");
  BOOST_TEST(train.labels()[1] == 9);
  BOOST_TEST(test.labels()[3] == 6);
  BOOST_TEST(train.class_names() == sequent::data::fashion_mnist_classes());
}

BOOST_AUTO_TEST_CASE(mnist_reads_the_same_files_with_digit_names) {
  TempDir dir;
  write_tiny_fashion(dir.path());
  const auto [train, test] = sequent::data::mnist(dir.path());
  BOOST_TEST(train.size() == 6u);
  BOOST_TEST(test.size() == 4u);
  BOOST_TEST(train.labels()[1] == 9);
  BOOST_TEST(train.class_names() == sequent::data::mnist_classes());
  BOOST_TEST(test.class_names()[7] == "7");
  // Only the directory given is searched: never $SEQUENT_DATA or Debian's
  // Fashion-MNIST, which would silently train on clothes.
  const fs::path absent = dir / "absent";
  BOOST_CHECK_EXCEPTION(sequent::data::mnist(absent), std::runtime_error,
                        message_has("MNIST not found in " + absent.string(),
                                    "no such directory", "not packaged"));
  fs::remove(dir / "train-images-idx3-ubyte.gz");
  BOOST_CHECK_EXCEPTION(
      sequent::data::mnist(dir.path()), std::runtime_error,
      message_has("missing train-images-idx3-ubyte[.gz]"));
}

BOOST_AUTO_TEST_CASE(environment_variable_overrides_the_default) {
  TempDir dir;
  write_tiny_fashion(dir.path());
  {
    ScopedEnv env("SEQUENT_DATA", dir.path().string());
    BOOST_TEST(sequent::data::find_fashion_mnist().value_or("") == dir.path());
    BOOST_TEST(sequent::data::fashion_mnist().train.size() == 6u);
  }
  // A data root holding a fashion-mnist subdirectory works too.
  TempDir root;
  write_tiny_fashion(root / "fashion-mnist");
  ScopedEnv env("SEQUENT_DATA", root.path().string());
  BOOST_TEST(sequent::data::find_fashion_mnist().value_or("") ==
             root / "fashion-mnist");
  BOOST_TEST(sequent::data::fashion_mnist().test.size() == 4u);
}

BOOST_AUTO_TEST_CASE(not_found_lists_the_places_searched) {
  TempDir dir;
  const fs::path absent = dir / "absent";
  BOOST_TEST(!sequent::data::find_fashion_mnist(absent).has_value());
  BOOST_CHECK_EXCEPTION(sequent::data::fashion_mnist(absent),
                        std::runtime_error,
                        message_has(absent.string(), "no such directory",
                                    "dataset-fashion-mnist", "SEQUENT_DATA"));

  // A partial copy names the files it lacks.
  write_tiny_fashion(dir.path());
  fs::remove(dir / "t10k-labels-idx1-ubyte");
  BOOST_CHECK_EXCEPTION(
      sequent::data::fashion_mnist(dir.path()), std::runtime_error,
      message_has(dir.path().string(), "missing t10k-labels-idx1-ubyte[.gz]"));

  // With $SEQUENT_DATA set, both of its candidates are listed.
  ScopedEnv env("SEQUENT_DATA", absent.string());
  if (!sequent::data::find_fashion_mnist()) {
    BOOST_CHECK_EXCEPTION(
        sequent::data::fashion_mnist(), std::runtime_error,
        message_has(absent.string(), (absent / "fashion-mnist").string(),
                    "/usr/share/datasets/fashion-mnist"));
  }
}

BOOST_AUTO_TEST_CASE(real_dataset_when_installed) {
  const fs::path debian = "/usr/share/datasets/fashion-mnist";
  if (!fs::is_directory(debian)) {
    BOOST_TEST_MESSAGE("skipped: " << debian << " is not installed "
                                   << "(apt install dataset-fashion-mnist)");
    return;
  }
  const auto [train, test] = sequent::data::fashion_mnist(debian);
  BOOST_TEST(train.size() == 60000u);
  BOOST_TEST(test.size() == 10000u);
  BOOST_TEST(sequent::data::to_string(train.shape()) == "28x28x1");
  BOOST_TEST(sequent::data::to_string(test.shape()) == "28x28x1");
  BOOST_TEST(train.class_names() == sequent::data::fashion_mnist_classes());
  // Both splits are balanced: 6000 and 1000 images of each class.
  for (const auto& [data, per_class] :
       {std::pair{&train, 6000}, std::pair{&test, 1000}}) {
    std::array<int, 10> counts{};
    for (const std::int32_t label : data->labels()) {
      BOOST_REQUIRE(label >= 0 && label < 10);
      ++counts[label];
    }
    for (const int count : counts) BOOST_TEST(count == per_class);
  }
}

BOOST_AUTO_TEST_SUITE_END()
