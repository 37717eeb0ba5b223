// Readers that take a path get the fuzzer's bytes through a file in a
// per-process scratch directory (in memory on Linux: /dev/shm). The files
// are removed when the fuzzer exits normally (its time or CPU budget spent);
// after a crash they stay, beside the crashing input libFuzzer saves.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <system_error>

namespace fuzz {

namespace detail {
struct ScratchFiles {
  std::filesystem::path dir =
      std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
  std::set<std::filesystem::path> written;
  ~ScratchFiles() {
    std::error_code ignored;
    for (const auto& path : written) std::filesystem::remove(path, ignored);
  }
};
inline ScratchFiles& scratch_files() {
  static ScratchFiles files;
  return files;
}
}  // namespace detail

// A path in the scratch directory for `name`, removed at exit.
inline std::filesystem::path scratch_path(const std::string& name) {
  detail::ScratchFiles& files = detail::scratch_files();
  auto path =
      files.dir / ("sequent-fuzz-" + std::to_string(getpid()) + "-" + name);
  files.written.insert(path);
  return path;
}

// The fuzzer's bytes as the scratch file `name`.
inline std::filesystem::path write_scratch(const std::uint8_t* data,
                                           std::size_t size, const char* name) {
  auto path = scratch_path(name);
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data),
             static_cast<std::streamsize>(size));
  return path;
}

}  // namespace fuzz
