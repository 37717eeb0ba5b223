// The check every file reader makes before opening a path; internal.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

namespace sequent::detail {

// Nothing when `path` is a regular file, else what it is instead, for the
// reader's own error message: missing, a directory, or something else — a
// FIFO or a device, whose read would block or never end.
inline std::optional<std::string> not_a_regular_file(
    const std::filesystem::path& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) return "file not found";
  if (std::filesystem::is_directory(status)) {
    return "is a directory, expected a file";
  }
  if (!std::filesystem::is_regular_file(status)) return "is not a regular file";
  return std::nullopt;
}

}  // namespace sequent::detail
