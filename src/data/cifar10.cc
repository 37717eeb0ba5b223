// Reading CIFAR-10's binary batches and class names. Every check names the
// file, what was expected and what was found, because these files come from
// the outside world.
#include "sequent/data/cifar10.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "../io/regular_file.h"

namespace sequent::data {
namespace {

namespace fs = std::filesystem;

constexpr int kSide = 32;
constexpr int kChannels = 3;
constexpr std::size_t kPlaneBytes = kSide * kSide;            // 1024
constexpr std::size_t kImageBytes = kChannels * kPlaneBytes;  // 3072
constexpr std::size_t kRecordBytes = 1 + kImageBytes;         // 3073
constexpr std::size_t kClassCount = 10;
// Records are read 1024 at a time (3 MB): large reads, a small buffer.
constexpr std::size_t kRecordsPerRead = 1024;
// batches.meta.txt holds ten short lines; a file this large is another file.
constexpr std::uintmax_t kMaxMetaBytes = 64 * 1024;

constexpr std::string_view kSubdirectory = "cifar-10-batches-bin";
constexpr std::string_view kMetaFile = "batches.meta.txt";
constexpr std::array<std::string_view, 5> kTrainFiles = {
    "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
    "data_batch_4.bin", "data_batch_5.bin"};
constexpr std::string_view kTestFile = "test_batch.bin";

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw std::runtime_error("CIFAR-10 file " + path.string() + ": " + what);
}

bool is_present(const fs::path& path) {
  std::error_code error;  // unreadable places count as absent, never throw
  return fs::exists(path, error);
}

// The size of the regular file at `path`, after checking it is one.
std::uintmax_t checked_file_size(const fs::path& path) {
  if (const auto problem = detail::not_a_regular_file(path)) {
    fail(path, *problem);
  }
  std::error_code error;
  const std::uintmax_t size = fs::file_size(path, error);
  if (error) fail(path, "cannot read its size: " + error.message());
  return size;
}

// The number of records in a batch file, from its size.
std::size_t count_records(const fs::path& path) {
  const std::uintmax_t size = checked_file_size(path);
  if (size == 0) {
    fail(path,
         "is empty, expected 3073-byte records (a label byte, then 1024 red, "
         "1024 green and 1024 blue bytes)");
  }
  if (size % kRecordBytes != 0) {
    fail(path, "truncated: " + std::to_string(size) +
                   " bytes is not a whole number of " +
                   std::to_string(kRecordBytes) + "-byte records (" +
                   std::to_string(size / kRecordBytes) + " records and " +
                   std::to_string(size % kRecordBytes) + " bytes over)");
  }
  return static_cast<std::size_t>(size / kRecordBytes);
}

// hwc (32×32×3, channels last) from planes (three 32×32 planes: red, green,
// blue). Runs once per image at load time, never in training.
void planes_to_hwc(const std::uint8_t* planes, std::uint8_t* hwc) {
  const std::uint8_t* red = planes;
  const std::uint8_t* green = planes + kPlaneBytes;
  const std::uint8_t* blue = planes + 2 * kPlaneBytes;
  for (std::size_t pixel = 0; pixel < kPlaneBytes; ++pixel) {
    hwc[kChannels * pixel + 0] = red[pixel];
    hwc[kChannels * pixel + 1] = green[pixel];
    hwc[kChannels * pixel + 2] = blue[pixel];
  }
}

// Reads the `records` records of `path` into pixels (records × 3072 bytes,
// HWC) and labels (records), checking every label.
void read_batch(const fs::path& path, std::size_t records, std::uint8_t* pixels,
                std::int32_t* labels) {
  struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  const std::unique_ptr<std::FILE, FileCloser> file(
      std::fopen(path.c_str(), "rb"));
  if (!file) fail(path, std::string("cannot open: ") + std::strerror(errno));

  std::vector<std::uint8_t> buffer(std::min(records, kRecordsPerRead) *
                                   kRecordBytes);
  for (std::size_t done = 0; done < records;) {
    const std::size_t count = std::min(records - done, kRecordsPerRead);
    const std::size_t got =
        std::fread(buffer.data(), 1, count * kRecordBytes, file.get());
    if (got < count * kRecordBytes) {
      if (std::ferror(file.get())) {
        fail(path, std::string("read error: ") + std::strerror(errno));
      }
      fail(path, "ends after " + std::to_string(done * kRecordBytes + got) +
                     " of its " + std::to_string(records * kRecordBytes) +
                     " bytes (did it change while being read?)");
    }
    for (std::size_t i = 0; i < count; ++i) {
      const std::uint8_t* record = buffer.data() + i * kRecordBytes;
      const std::size_t index = done + i;
      if (record[0] >= kClassCount) {
        fail(path, "label " + std::to_string(record[0]) + " at record " +
                       std::to_string(index) +
                       " is out of range: expected 0 to 9");
      }
      labels[index] = record[0];
      planes_to_hwc(record + 1, pixels + index * kImageBytes);
    }
    done += count;
  }
}

// " a b \r" → "a b".
std::string trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\v\f";
  const std::size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  const std::size_t end = text.find_last_not_of(kSpace);
  return std::string(text.substr(begin, end - begin + 1));
}

// `dir` itself when it holds a batch file, else the cifar-10-batches-bin
// directory that unpacking the archive in `dir` creates, when there is one.
fs::path batches_directory(const fs::path& dir) {
  for (const std::string_view name : kTrainFiles) {
    if (is_present(dir / name)) return dir;
  }
  if (is_present(dir / kTestFile)) return dir;
  std::error_code error;
  const fs::path nested = dir / kSubdirectory;
  if (fs::is_directory(nested, error)) return nested;
  return dir;
}

}  // namespace

const std::vector<std::string>& cifar10_classes() {
  static const std::vector<std::string> kClasses = {
      "airplane", "automobile", "bird",  "cat",  "deer",
      "dog",      "frog",       "horse", "ship", "truck"};
  return kClasses;
}

std::vector<std::string> read_cifar10_class_names(const fs::path& path) {
  const std::uintmax_t size = checked_file_size(path);
  if (size > kMaxMetaBytes) {
    fail(path, "is " + std::to_string(size) +
                   " bytes, too large for a list of 10 class names");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) names.push_back(trim(line));
  if (in.bad()) fail(path, "read error");
  while (!names.empty() && names.back().empty()) names.pop_back();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) {
      fail(path, "line " + std::to_string(i + 1) +
                     " is empty, expected one class name on each of the "
                     "first 10 lines");
    }
    // Names are printed in reports and pictures: a control byte (a NUL
    // from a damaged file) would garble them, a repeat make two classes one.
    for (const unsigned char c : names[i]) {
      if (c < 0x20 || c == 0x7F) {
        fail(path, "line " + std::to_string(i + 1) +
                       " holds a control character (byte " + std::to_string(c) +
                       "), not a class name");
      }
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (names[j] == names[i]) {
        fail(path, "lines " + std::to_string(j + 1) + " and " +
                       std::to_string(i + 1) + " both name the class '" +
                       names[i] + "'");
      }
    }
  }
  if (names.size() != kClassCount) {
    fail(path, "expected 10 class names, one per line, found " +
                   std::to_string(names.size()));
  }
  return names;
}

Dataset load_cifar10_batches(const std::vector<fs::path>& files,
                             std::vector<std::string> class_names) {
  if (files.empty()) {
    throw std::invalid_argument("load_cifar10_batches: no files given");
  }
  if (class_names.size() != kClassCount) {
    throw std::invalid_argument(
        "load_cifar10_batches: expected 10 class names, found " +
        std::to_string(class_names.size()));
  }
  // Every size is checked before anything is read, and the arrays are
  // allocated once.
  std::vector<std::size_t> records(files.size());
  std::size_t total = 0;
  for (std::size_t f = 0; f < files.size(); ++f) {
    records[f] = count_records(files[f]);
    total += records[f];
  }
  std::vector<std::uint8_t> pixels(total * kImageBytes);
  std::vector<std::int32_t> labels(total);
  std::string source;
  std::size_t first = 0;
  for (std::size_t f = 0; f < files.size(); ++f) {
    read_batch(files[f], records[f], pixels.data() + first * kImageBytes,
               labels.data() + first);
    first += records[f];
    source += (f == 0 ? "" : ", ") + files[f].string();
  }
  return Dataset(std::move(pixels), ImageShape{kSide, kSide, kChannels},
                 std::move(labels), std::move(class_names), std::move(source));
}

TrainTest cifar10(const fs::path& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    throw std::runtime_error("CIFAR-10 directory " + dir.string() +
                             (fs::exists(dir, error)
                                  ? ": is a file, expected the directory of "
                                    "data_batch_1.bin … test_batch.bin"
                                  : ": no such directory"));
  }
  const fs::path directory = batches_directory(dir);
  std::vector<fs::path> train_files;
  std::string missing;
  for (const std::string_view name : kTrainFiles) {
    train_files.push_back(directory / name);
    if (!is_present(train_files.back())) {
      missing += (missing.empty() ? "" : ", ") + std::string(name);
    }
  }
  const fs::path test_file = directory / kTestFile;
  if (!is_present(test_file)) {
    missing += (missing.empty() ? "" : ", ") + std::string(kTestFile);
  }
  if (!missing.empty()) {
    throw std::runtime_error(
        "CIFAR-10 directory " + directory.string() + ": missing " + missing +
        " (expected data_batch_1.bin … data_batch_5.bin and test_batch.bin, "
        "the binary version cifar-10-binary.tar.gz unpacked here or in a " +
        std::string(kSubdirectory) + " directory inside)");
  }
  const fs::path meta = directory / kMetaFile;
  const std::vector<std::string> names =
      is_present(meta) ? read_cifar10_class_names(meta) : cifar10_classes();
  return {load_cifar10_batches(train_files, names),
          load_cifar10_batches({test_file}, names)};
}

}  // namespace sequent::data
