// Readers that take a path get the fuzzer's bytes through a file in a
// per-process scratch directory (in memory on Linux: /dev/shm).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace fuzz {

inline std::filesystem::path write_scratch(const std::uint8_t* data,
                                           std::size_t size,
                                           const char* name) {
  const std::filesystem::path dir =
      std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
  const auto path =
      dir / ("sequent-fuzz-" + std::to_string(getpid()) + "-" + name);
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data),
             static_cast<std::streamsize>(size));
  return path;
}

}  // namespace fuzz
