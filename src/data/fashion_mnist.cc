// Finding and loading Fashion-MNIST: an explicit directory, else
// $SEQUENT_DATA, else the copy Debian's dataset-fashion-mnist installs; and
// the handwritten digits of MNIST, in the same files, from a directory.
#include "sequent/data/fashion_mnist.hpp"

#include <array>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "sequent/data/idx.hpp"

namespace sequent::data {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDebianDirectory = "/usr/share/datasets/fashion-mnist";
constexpr const char* kEnvironmentVariable = "SEQUENT_DATA";

// The four files, in the order Located::files holds them.
constexpr std::array<std::string_view, 4> kFileStems = {
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

// The same four files, as error messages list them.
constexpr const char* kFileList =
    "train-images-idx3-ubyte, train-labels-idx1-ubyte, "
    "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each raw or .gz)";

struct Located {
  fs::path directory;
  std::array<fs::path, 4> files;  // in kFileStems order
};

TrainTest load(const Located& located,
               const std::vector<std::string>& class_names) {
  const std::array<fs::path, 4>& files = located.files;
  return {load_idx(files[0], files[1], class_names),
          load_idx(files[2], files[3], class_names)};
}

bool is_file(const fs::path& path) {
  std::error_code error;  // unreadable places count as absent, never throw
  return fs::is_regular_file(path, error);
}

// The uncompressed file wins when both exist: it is the faster to read.
std::optional<fs::path> find_file(const fs::path& directory,
                                  std::string_view stem) {
  const fs::path raw = directory / stem;
  if (is_file(raw)) return raw;
  fs::path gzip = raw;
  gzip += ".gz";
  if (is_file(gzip)) return gzip;
  return std::nullopt;
}

std::vector<fs::path> candidate_directories(
    const std::optional<fs::path>& directory) {
  if (directory) return {*directory};
  std::vector<fs::path> candidates;
  const char* variable = std::getenv(kEnvironmentVariable);
  if (variable != nullptr && *variable != '\0') {
    // $SEQUENT_DATA may be the dataset directory itself or a data root
    // holding several datasets.
    candidates.emplace_back(variable);
    candidates.push_back(fs::path(variable) / "fashion-mnist");
  }
  candidates.emplace_back(kDebianDirectory);
  return candidates;
}

// The first of `candidates` holding all four files. When there is none,
// `searched` receives one line per candidate saying what was missing.
std::optional<Located> locate(const std::vector<fs::path>& candidates,
                              std::string* searched) {
  for (const fs::path& candidate : candidates) {
    std::error_code error;
    if (!fs::is_directory(candidate, error)) {
      *searched += "  " + candidate.string() + " (no such directory)\n";
      continue;
    }
    Located located{candidate, {}};
    std::string missing;
    for (std::size_t i = 0; i < kFileStems.size(); ++i) {
      if (auto file = find_file(candidate, kFileStems[i])) {
        located.files[i] = *file;
      } else {
        missing += (missing.empty() ? "" : ", ") + std::string(kFileStems[i]) +
                   "[.gz]";
      }
    }
    if (missing.empty()) return located;
    *searched += "  " + candidate.string() + " (missing " + missing + ")\n";
  }
  return std::nullopt;
}

}  // namespace

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> kClasses = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return kClasses;
}

std::optional<fs::path> find_fashion_mnist(std::optional<fs::path> dir) {
  std::string searched;
  if (auto located = locate(candidate_directories(dir), &searched)) {
    return located->directory;
  }
  return std::nullopt;
}

TrainTest fashion_mnist(std::optional<fs::path> dir) {
  std::string searched;
  const std::optional<Located> located =
      locate(candidate_directories(dir), &searched);
  if (!located) {
    throw std::runtime_error(
        "Fashion-MNIST not found. Searched:\n" + searched +
        "Install it with `apt install dataset-fashion-mnist`, or set " +
        kEnvironmentVariable +
        " (or pass a directory) to a directory holding " + kFileList + ".");
  }
  return load(*located, fashion_mnist_classes());
}

const std::vector<std::string>& mnist_classes() {
  static const std::vector<std::string> kClasses = {"0", "1", "2", "3", "4",
                                                    "5", "6", "7", "8", "9"};
  return kClasses;
}

TrainTest mnist(const fs::path& dir) {
  std::string searched;
  const std::optional<Located> located = locate({dir}, &searched);
  if (!located) {
    throw std::runtime_error(
        "MNIST not found in " + dir.string() + ":\n" + searched +
        "MNIST is not packaged for Debian: pass the directory holding its " +
        kFileList + ", as LeCun and Cortes distribute them.");
  }
  return load(*located, mnist_classes());
}

}  // namespace sequent::data
