// Reading IDX files (raw or gzip) into memory, and pairing an images file with
// a labels file. Every check names the file, what was expected and what was
// found, because these files come from the outside world.
#include "sequent/data/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "../io/regular_file.h"

namespace sequent::data {
namespace {

// A header whose sizes multiply to more than this is corrupt, not big: the
// largest public IDX file (EMNIST) is a few hundred MB. Refusing it before
// allocating keeps a flipped bit from asking for terabytes.
constexpr std::uint64_t kMaxIdxBytes = std::uint64_t{4} << 30;

// How much a gzip file's data is guessed to exceed its size, for the first
// allocation only (the buffer then doubles as data arrives): IDX images
// compress 2–4×. Deflate's own limit, ~1032×, would let a 4 MB file whose
// header lies ask for 4 GB before its data runs out.
constexpr std::uint64_t kGzipSizeGuessRatio = 4;

constexpr std::size_t kFileChunk = std::size_t{1} << 16;
constexpr std::uint8_t kIdxTypeUnsignedByte = 0x08;
constexpr int kMaxDims = 4;

[[noreturn]] void fail(const std::filesystem::path& path,
                       const std::string& what) {
  throw std::runtime_error("IDX file " + path.string() + ": " + what);
}

std::string dims_to_string(const std::vector<std::uint32_t>& dims) {
  std::string out;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    out += (i == 0 ? "" : "x") + std::to_string(dims[i]);
  }
  return out;
}

std::string hex_byte(std::uint8_t byte) {
  char text[8];
  std::snprintf(text, sizeof(text), "0x%02x", byte);
  return text;
}

std::string idx_type_name(std::uint8_t type) {
  switch (type) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "unknown";
  }
}

// The bytes of a file, inflated on the fly when it starts with the gzip
// magic 1f 8b. read() returns fewer bytes than asked only at the end of the
// data and throws (naming the file) on I/O errors and corrupt or truncated
// gzip streams. The end of a gzip stream is only reported after zlib has
// verified its CRC-32 and length trailer, so draining the source with read()
// until it returns 0 also proves the data intact.
class ByteSource {
 public:
  explicit ByteSource(const std::filesystem::path& path) : path_(path) {
    if (const auto problem = detail::not_a_regular_file(path)) {
      fail(path, *problem);
    }
    file_.reset(std::fopen(path.c_str(), "rb"));
    if (!file_) fail(path, std::string("cannot open: ") + std::strerror(errno));
    std::error_code error;
    file_size_ = std::filesystem::file_size(path, error);
    if (error) file_size_ = 0;

    input_.resize(kFileChunk);
    input_size_ = read_file(input_.data(), input_.size());
    is_gzip_ = input_size_ >= 2 && input_[0] == 0x1f && input_[1] == 0x8b;
    if (is_gzip_) {
      // 16 + MAX_WBITS: expect a gzip header and trailer, not raw zlib.
      if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) {
        fail(path, "cannot initialise zlib");
      }
      stream_.next_in = input_.data();
      stream_.avail_in = static_cast<uInt>(input_size_);
    }
  }
  ~ByteSource() {
    if (is_gzip_) inflateEnd(&stream_);
  }
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  bool is_gzip() const { return is_gzip_; }

  // A guess at the bytes read() can still deliver: exact for a raw file, a
  // typical ratio for gzip; for sizing the first allocation, not for checks.
  std::uint64_t remaining_guess() const {
    if (is_gzip_) return file_size_ * kGzipSizeGuessRatio;
    return file_size_ > delivered_ ? file_size_ - delivered_ : 0;
  }

  std::size_t read(std::uint8_t* out, std::size_t count) {
    std::size_t total = 0;
    while (total < count) {
      const std::size_t got = is_gzip_
                                  ? inflate_some(out + total, count - total)
                                  : read_raw(out + total, count - total);
      if (got == 0) break;
      total += got;
    }
    delivered_ += total;
    return total;
  }

 private:
  struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };

  std::size_t read_file(std::uint8_t* out, std::size_t count) {
    const std::size_t got = std::fread(out, 1, count, file_.get());
    if (got < count && std::ferror(file_.get())) {
      fail(path_, std::string("read error: ") + std::strerror(errno));
    }
    return got;
  }

  // The first chunk was read to sniff the gzip magic; hand it out first.
  std::size_t read_raw(std::uint8_t* out, std::size_t count) {
    if (sniffed_offset_ < input_size_) {
      const std::size_t got = std::min(count, input_size_ - sniffed_offset_);
      std::memcpy(out, input_.data() + sniffed_offset_, got);
      sniffed_offset_ += got;
      return got;
    }
    return read_file(out, count);
  }

  bool refill() {
    input_size_ = read_file(input_.data(), input_.size());
    stream_.next_in = input_.data();
    stream_.avail_in = static_cast<uInt>(input_size_);
    return input_size_ > 0;
  }

  // Inflates up to `count` bytes (zlib counts in uInt, so at most 1 GiB per
  // call); returns 0 only at the verified end of the last gzip member.
  std::size_t inflate_some(std::uint8_t* out, std::size_t count) {
    if (stream_ended_) return 0;
    stream_.next_out = out;
    stream_.avail_out =
        static_cast<uInt>(std::min<std::size_t>(count, std::size_t{1} << 30));
    const uInt asked = stream_.avail_out;
    while (stream_.avail_out > 0) {
      if (stream_.avail_in == 0 && !refill()) {
        fail(path_, "gzip stream ends early, the file is truncated (" +
                        std::to_string(inflated_) +
                        " bytes decompressed before the end)");
      }
      const uInt space_before = stream_.avail_out;
      const int status = inflate(&stream_, Z_NO_FLUSH);
      inflated_ += space_before - stream_.avail_out;
      if (status == Z_STREAM_END) {
        if (!start_next_member()) {
          stream_ended_ = true;
          break;
        }
      } else if (status != Z_OK) {
        fail(path_, std::string("corrupt gzip stream: ") +
                        (stream_.msg ? stream_.msg : zError(status)));
      }
    }
    return asked - stream_.avail_out;
  }

  // gzip allows several members back to back (`cat a.gz b.gz`); anything
  // else after the trailer is garbage that must not be silently ignored.
  bool start_next_member() {
    if (stream_.avail_in == 0 && !refill()) return false;
    if (stream_.next_in[0] != 0x1f) {
      fail(path_, "unexpected data after the end of the gzip stream");
    }
    inflateReset(&stream_);
    return true;
  }

  std::filesystem::path path_;
  std::unique_ptr<std::FILE, FileCloser> file_;
  std::uint64_t file_size_ = 0;
  std::vector<std::uint8_t> input_;
  std::size_t input_size_ = 0;
  std::size_t sniffed_offset_ = 0;
  std::uint64_t delivered_ = 0;
  std::uint64_t inflated_ = 0;
  bool is_gzip_ = false;
  bool stream_ended_ = false;
  z_stream stream_{};
};

std::uint32_t read_big_endian_u32(const std::uint8_t* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
         (std::uint32_t{bytes[2]} << 8) | std::uint32_t{bytes[3]};
}

// Reads the magic number and sizes, checking each.
std::vector<std::uint32_t> read_header(ByteSource& source,
                                       const std::filesystem::path& path) {
  const std::string length_kind = source.is_gzip() ? "decompresses to" : "is";
  std::uint8_t magic[4];
  const std::size_t magic_bytes = source.read(magic, sizeof(magic));
  if (magic_bytes < sizeof(magic)) {
    fail(path, "expected a 4-byte IDX magic number, but the file " +
                   length_kind + " only " + std::to_string(magic_bytes) +
                   " bytes");
  }
  if (magic[0] != 0 || magic[1] != 0) {
    fail(path, "wrong magic number: expected 0x00 0x00 0x08 <dims>, found " +
                   hex_byte(magic[0]) + " " + hex_byte(magic[1]) + " " +
                   hex_byte(magic[2]) + " " + hex_byte(magic[3]) +
                   " (not an IDX file)");
  }
  if (magic[2] != kIdxTypeUnsignedByte) {
    fail(path, "wrong data type: expected " + hex_byte(kIdxTypeUnsignedByte) +
                   " (unsigned byte), found " + hex_byte(magic[2]) + " (" +
                   idx_type_name(magic[2]) + ")");
  }
  const int num_dims = magic[3];
  if (num_dims < 1 || num_dims > kMaxDims) {
    fail(path, "wrong number of dimensions: expected 1 to " +
                   std::to_string(kMaxDims) + ", found " +
                   std::to_string(num_dims));
  }

  std::uint8_t size_bytes[4 * kMaxDims];
  const std::size_t header_bytes = 4 * static_cast<std::size_t>(num_dims);
  const std::size_t got = source.read(size_bytes, header_bytes);
  if (got < header_bytes) {
    fail(path, "header declares " + std::to_string(num_dims) + " dimensions (" +
                   std::to_string(header_bytes) +
                   " bytes of sizes) but the file ends after " +
                   std::to_string(got) + " of them");
  }
  std::vector<std::uint32_t> dims(num_dims);
  for (int d = 0; d < num_dims; ++d) {
    dims[d] = read_big_endian_u32(size_bytes + 4 * d);
  }
  std::uint64_t total = 1;
  for (int d = 0; d < num_dims; ++d) {
    if (dims[d] == 0) {
      fail(path, "dimension " + std::to_string(d) + " of " +
                     std::to_string(num_dims) + " is 0 (sizes " +
                     dims_to_string(dims) +
                     "), expected every size to be at least 1");
    }
    // The running product is ≤ 2^32 before each multiplication by a value
    // < 2^32, so it never overflows 64 bits.
    total *= dims[d];
    if (total > kMaxIdxBytes) {
      fail(path, "header sizes " + dims_to_string(dims) +
                     " exceed the 4 GiB limit for an IDX file; the header is "
                     "corrupt");
    }
  }
  return dims;
}

// Reads exactly `total` bytes, growing the buffer only as data arrives so a
// header that lies about the size cannot make us allocate what is not there.
std::vector<std::uint8_t> read_values(ByteSource& source, std::uint64_t total,
                                      const std::vector<std::uint32_t>& dims,
                                      const std::filesystem::path& path) {
  constexpr std::uint64_t kMinFirstAllocation = std::uint64_t{1} << 20;
  std::vector<std::uint8_t> values;
  std::uint64_t capacity =
      std::min(total, std::max(source.remaining_guess(), kMinFirstAllocation));
  std::uint64_t filled = 0;
  for (;;) {
    values.resize(capacity);
    filled += source.read(values.data() + filled, capacity - filled);
    if (filled < capacity || capacity == total) break;
    capacity = std::min(total, capacity * 2);
  }
  const std::string expectation =
      "expected " + std::to_string(total) + " bytes of data after the " +
      std::to_string(4 + 4 * dims.size()) + "-byte header (sizes " +
      dims_to_string(dims) + "), found ";
  if (filled < total) fail(path, expectation + std::to_string(filled));

  // Drain the rest: counts any extra bytes and, for gzip, verifies the CRC.
  std::uint64_t extra = 0;
  std::uint8_t scratch[4096];
  while (const std::size_t got = source.read(scratch, sizeof(scratch))) {
    extra += got;
  }
  if (extra > 0) {
    fail(path, expectation + std::to_string(total + extra) + " (" +
                   std::to_string(extra) + " extra bytes after the data)");
  }
  return values;
}

}  // namespace

IdxArray read_idx(const std::filesystem::path& path) {
  ByteSource source(path);
  IdxArray array;
  array.dims = read_header(source, path);
  std::uint64_t total = 1;
  for (const std::uint32_t dim : array.dims) total *= dim;
  array.values = read_values(source, total, array.dims, path);
  return array;
}

Dataset load_idx(const std::filesystem::path& images_path,
                 const std::filesystem::path& labels_path,
                 std::vector<std::string> class_names) {
  IdxArray images = read_idx(images_path);
  const IdxArray labels = read_idx(labels_path);

  const std::size_t image_rank = images.dims.size();
  if (image_rank != 3 && image_rank != 4) {
    fail(images_path,
         "expected images of 3 dimensions (N×H×W) or 4 (N×H×W×C), found " +
             std::to_string(image_rank) + " (" + dims_to_string(images.dims) +
             ")");
  }
  if (labels.dims.size() != 1) {
    fail(labels_path, "expected labels of 1 dimension (N), found " +
                          std::to_string(labels.dims.size()) + " (" +
                          dims_to_string(labels.dims) + ")");
  }
  for (std::size_t d = 1; d < image_rank; ++d) {
    if (images.dims[d] > static_cast<std::uint32_t>(INT_MAX)) {
      fail(images_path, "image size " + dims_to_string(images.dims) +
                            " has a side larger than " +
                            std::to_string(INT_MAX));
    }
  }
  const std::uint32_t image_count = images.dims[0];
  const std::uint32_t label_count = labels.dims[0];
  if (image_count != label_count) {
    throw std::runtime_error("IDX files disagree: " + images_path.string() +
                             " holds " + std::to_string(image_count) +
                             " images but " + labels_path.string() + " holds " +
                             std::to_string(label_count) + " labels");
  }

  std::vector<std::int32_t> label_values(label_count);
  for (std::size_t i = 0; i < label_count; ++i) {
    const std::uint8_t label = labels.values[i];
    if (label >= class_names.size()) {
      fail(labels_path, "label " + std::to_string(label) + " at index " +
                            std::to_string(i) + " is out of range: expected " +
                            "a label below the class count " +
                            std::to_string(class_names.size()));
    }
    label_values[i] = label;
  }

  const ImageShape shape{
      static_cast<int>(images.dims[1]), static_cast<int>(images.dims[2]),
      image_rank == 4 ? static_cast<int>(images.dims[3]) : 1};
  return Dataset(std::move(images.values), shape, std::move(label_values),
                 std::move(class_names), images_path.string());
}

}  // namespace sequent::data
