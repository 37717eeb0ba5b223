// Writing an image as a PNG file, atomically.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "../plot/canvas.hpp"
#include "sequent/data/image.hpp"

namespace sequent::data {
namespace {

namespace fs = std::filesystem;

// Writes bytes to a temporary file beside path, flushes it to the disk and
// renames it over path (atomic within one file system). Errors start with
// `where`, which names path.
void write_file_atomically(const fs::path& path,
                           std::span<const std::uint8_t> bytes,
                           const std::string& where) {
  static std::atomic<unsigned> counter{0};
  const fs::path directory = path.has_parent_path() ? path.parent_path() : ".";
  const fs::path temporary = directory / ("." + path.filename().string() +
                                          ".tmp-" + std::to_string(::getpid()) +
                                          "-" + std::to_string(counter++));
  // Reads errno, so call it before anything that may change errno.
  const auto failure = [&](const std::string& what, const fs::path& file) {
    return std::runtime_error(where + what + " " + file.string() + ": " +
                              std::strerror(errno));
  };
  const int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw failure("cannot create", temporary);
  const auto discard = [&](const std::runtime_error& error, bool close_fd) {
    if (close_fd) ::close(fd);
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw error;
  };
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n =
        ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) discard(failure("cannot write", temporary), true);
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) discard(failure("cannot flush", temporary), true);
  if (::close(fd) != 0) discard(failure("cannot close", temporary), false);
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    discard(failure("cannot rename " + temporary.string() + " to", path),
            false);
  }
}

}  // namespace

void write_png(const fs::path& path, const ImageShape& shape,
               std::span<const std::uint8_t> pixels) {
  const std::string where = "write_png " + path.string() + ": ";
  if (shape.height < 1 || shape.width < 1 ||
      (shape.channels != 1 && shape.channels != 3)) {
    throw std::invalid_argument(
        where + "shape " + to_string(shape) +
        " must have a height and width of at least 1 and 1 or 3 channels");
  }
  // The encoder counts the RGB bytes of the whole image in int.
  if (std::uint64_t(shape.height) * shape.width * 3 > INT_MAX) {
    throw std::invalid_argument(where + "shape " + to_string(shape) +
                                " is too large for a PNG written by stb");
  }
  if (pixels.size() != shape.size()) {
    throw std::invalid_argument(where + "expected " +
                                std::to_string(shape.size()) +
                                " pixel values for " + to_string(shape) +
                                ", found " + std::to_string(pixels.size()));
  }
  if (path.filename().empty()) {
    throw std::invalid_argument(where + "the path has no file name");
  }
  // The library compiles stb_image_write once, privately, in the plot glue,
  // whose encoder takes RGB: grey is written as three equal channels, which
  // load_image's BT.601 luma turns back into exactly the same grey values.
  std::vector<std::uint8_t> rgb;
  if (shape.channels == 1) {
    rgb.reserve(3 * pixels.size());
    for (const std::uint8_t value : pixels) rgb.insert(rgb.end(), 3, value);
    pixels = rgb;
  }
  const std::vector<std::uint8_t> encoded =
      plot::detail::stb::encode_png(pixels, shape.width, shape.height);
  if (encoded.empty()) {
    throw std::runtime_error(where + "stb_image_write could not encode " +
                             to_string(shape));
  }
  write_file_atomically(path, encoded, where);
}

}  // namespace sequent::data
