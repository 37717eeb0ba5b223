// Binary PGM/PPM decoding; see pnm.h for the format and why it is here.
#include "pnm.h"

#include <climits>
#include <stdexcept>

namespace sequent::data::pnm {
namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw std::runtime_error("image " + name + ": PGM/PPM " + what);
}

bool is_space(std::uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
         c == '\r';
}

// Skips whitespace and comments, then reads one decimal number, advancing
// *at past it.
std::uint64_t read_number(std::span<const std::uint8_t> bytes, std::size_t* at,
                          const char* field, const std::string& name) {
  for (;;) {
    while (*at < bytes.size() && is_space(bytes[*at])) ++*at;
    if (*at >= bytes.size() || bytes[*at] != '#') break;
    while (*at < bytes.size() && bytes[*at] != '\n' && bytes[*at] != '\r') {
      ++*at;
    }
  }
  const std::size_t start = *at;
  std::uint64_t value = 0;
  for (; *at < bytes.size() && bytes[*at] >= '0' && bytes[*at] <= '9'; ++*at) {
    value = value * 10 + (bytes[*at] - '0');
    if (value > static_cast<std::uint64_t>(INT_MAX)) {
      fail(name, std::string("header ") + field + " is larger than " +
                     std::to_string(INT_MAX) + "; the header is corrupt");
    }
  }
  if (*at == start) {
    fail(name, std::string("header ends or is malformed where the ") + field +
                   " should be");
  }
  return value;
}

}  // namespace

bool is_pnm(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == 'P' &&
         (bytes[1] == '5' || bytes[1] == '6');
}

Header read_header(std::span<const std::uint8_t> bytes,
                   const std::string& name) {
  Header header;
  header.channels = bytes[1] == '5' ? 1 : 3;
  std::size_t at = 2;
  const std::uint64_t width = read_number(bytes, &at, "width", name);
  const std::uint64_t height = read_number(bytes, &at, "height", name);
  const std::uint64_t max_value =
      read_number(bytes, &at, "maximum value", name);
  if (width == 0 || height == 0) {
    fail(name, "header gives a size of " + std::to_string(width) + "x" +
                   std::to_string(height) +
                   " (width x height); the header is corrupt");
  }
  if (max_value == 0 || max_value > 65535) {
    fail(name, "header gives a maximum value of " + std::to_string(max_value) +
                   ", expected 1 to 65535");
  }
  if (at >= bytes.size() || !is_space(bytes[at])) {
    fail(name,
         "header must end with one whitespace character after the "
         "maximum value");
  }
  header.width = static_cast<int>(width);
  header.height = static_cast<int>(height);
  header.max_value = static_cast<int>(max_value);
  header.data_offset = at + 1;
  return header;
}

std::vector<std::uint8_t> decode(std::span<const std::uint8_t> bytes,
                                 const Header& header,
                                 const std::string& name) {
  const std::size_t samples =
      std::size_t(header.width) * header.height * header.channels;
  const std::size_t sample_bytes = header.max_value > 255 ? 2 : 1;
  const std::size_t available = bytes.size() - header.data_offset;
  if (available / sample_bytes < samples) {
    fail(name, "data is truncated: a " + std::to_string(header.width) + "x" +
                   std::to_string(header.height) + " image of " +
                   std::to_string(header.channels) + " channel(s) needs " +
                   std::to_string(samples * sample_bytes) +
                   " bytes after the header, found " +
                   std::to_string(available));
  }
  const std::uint8_t* data = bytes.data() + header.data_offset;
  const auto max_value = static_cast<std::uint32_t>(header.max_value);
  std::vector<std::uint8_t> out(samples);
  for (std::size_t i = 0; i < samples; ++i) {
    const std::uint32_t value =
        sample_bytes == 1 ? data[i]
                          : std::uint32_t{data[2 * i]} << 8 | data[2 * i + 1];
    if (value > max_value) {
      fail(name, "sample " + std::to_string(i) + " is " +
                     std::to_string(value) + ", above the maximum value " +
                     std::to_string(max_value));
    }
    out[i] =
        static_cast<std::uint8_t>((value * 255 + max_value / 2) / max_value);
  }
  return out;
}

}  // namespace sequent::data::pnm
