// A fresh directory under the system's temporary directory, unique to the
// process and to the object, removed with everything in it when the object
// goes out of scope (even if a test failed inside it).
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <system_error>

namespace sequent::test {

class TempDir {
 public:
  explicit TempDir(std::string_view tag = "test") {
    static std::atomic<int> serial{0};
    std::random_device entropy;
    path_ = std::filesystem::temp_directory_path() /
            ("sequent-" + std::string(tag) + "-" + std::to_string(::getpid()) +
             "-" + std::to_string(serial++) + "-" + std::to_string(entropy()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::filesystem::path operator/(std::string_view name) const {
    return path_ / name;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace sequent::test
