// A class-per-folder tree of image files (root/<class>/<image>) read into a
// labelled Dataset: the layout of Keras' image_dataset_from_directory and
// torchvision's ImageFolder.
#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "image_checks.h"
#include "sequent/data/image.hpp"

namespace sequent::data {
namespace {

namespace fs = std::filesystem;

constexpr std::array<std::string_view, 8> kImageExtensions = {
    ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm", ".pnm"};

struct ClassFolder {
  std::string name;
  std::vector<fs::path> files;  // sorted
};

[[noreturn]] void fail(const fs::path& root, const std::string& what) {
  throw std::runtime_error("image folder " + root.string() + ": " + what);
}

// .git, .ipynb_checkpoints, .DS_Store: tool droppings, never classes or
// samples (torchvision's ImageFolder famously makes .ipynb_checkpoints a
// class).
bool is_hidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name.front() == '.';
}

bool has_image_extension(const fs::path& path) {
  std::string extension = path.extension().string();
  for (char& c : extension) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return std::find(kImageExtensions.begin(), kImageExtensions.end(),
                   extension) != kImageExtensions.end();
}

std::string extension_list() {
  std::string list;
  for (const std::string_view extension : kImageExtensions) {
    list += (list.empty() ? "" : " ") + std::string(extension);
  }
  return list;
}

// Every image file below directory, any depth, sorted by path.
std::vector<fs::path> find_images(const fs::path& root,
                                  const fs::path& directory) {
  std::vector<fs::path> files;
  std::error_code error;
  fs::recursive_directory_iterator entry(directory, error);
  for (; !error && entry != fs::recursive_directory_iterator();
       entry.increment(error)) {
    if (is_hidden(entry->path())) {
      if (entry->is_directory(error)) entry.disable_recursion_pending();
      continue;
    }
    std::error_code ignored;  // a dangling link is simply not a file
    if (entry->is_regular_file(ignored) && has_image_extension(entry->path())) {
      files.push_back(entry->path());
    }
  }
  if (error) {
    fail(root, "cannot list " + directory.string() + ": " + error.message());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<ClassFolder> find_classes(const fs::path& root) {
  std::error_code error;
  const fs::file_status status = fs::status(root, error);
  if (!fs::exists(status)) fail(root, "directory not found");
  if (!fs::is_directory(status)) fail(root, "is not a directory");

  std::vector<ClassFolder> classes;
  std::size_t loose_images = 0;
  fs::directory_iterator entry(root, error);
  for (; !error && entry != fs::directory_iterator(); entry.increment(error)) {
    if (is_hidden(entry->path())) continue;
    std::error_code ignored;
    if (entry->is_directory(ignored)) {
      classes.push_back({entry->path().filename().string(), {}});
    } else if (has_image_extension(entry->path())) {
      ++loose_images;
    }
  }
  if (error) fail(root, "cannot list: " + error.message());
  if (classes.empty()) {
    fail(root,
         "no class sub-directory found; expected one sub-directory "
         "per class, root/<class>/<image>" +
             (loose_images > 0 ? " (found " + std::to_string(loose_images) +
                                     " image files directly in root)"
                               : std::string()));
  }
  std::sort(classes.begin(), classes.end(),
            [](const ClassFolder& a, const ClassFolder& b) {
              return a.name < b.name;
            });
  for (ClassFolder& folder : classes) {
    folder.files = find_images(root, root / folder.name);
    if (folder.files.empty()) {
      fail(root, "class folder " + folder.name +
                     " holds no image file (recognised extensions: " +
                     extension_list() + ")");
    }
  }
  return classes;
}

}  // namespace

Dataset image_folder(const fs::path& root, const ImageOptions& options) {
  check_image_options(options);
  const std::vector<ClassFolder> classes = find_classes(root);
  std::vector<fs::path> files;
  std::vector<std::int32_t> labels;
  std::vector<std::string> class_names;
  for (std::size_t label = 0; label < classes.size(); ++label) {
    files.insert(files.end(), classes[label].files.begin(),
                 classes[label].files.end());
    labels.insert(labels.end(), classes[label].files.size(),
                  static_cast<std::int32_t>(label));
    class_names.push_back(classes[label].name);
  }

  // Files are independent, so they are read and decoded in parallel, each
  // into its own slot: the result does not depend on the thread count. On
  // failure the error of the first failing file (in order) is thrown, also
  // independent of the thread count: files after a known failure are
  // skipped, files before it are still tried.
  const std::size_t image_size = options.shape.size();
  std::vector<std::uint8_t> pixels(files.size() * image_size);
  const auto count = static_cast<std::int64_t>(files.size());
  std::atomic<std::int64_t> first_failure{count};
  std::vector<std::exception_ptr> errors(files.size());
#pragma omp parallel for schedule(dynamic, 16)
  for (std::int64_t i = 0; i < count; ++i) {
    if (i > first_failure.load(std::memory_order_relaxed)) continue;
    try {
      const Image image = load_image(files[i], options);
      std::copy(image.pixels.begin(), image.pixels.end(),
                pixels.begin() + i * image_size);
    } catch (...) {
      errors[i] = std::current_exception();
      std::int64_t seen = first_failure.load();
      while (i < seen && !first_failure.compare_exchange_weak(seen, i)) {
      }
    }
  }
  if (first_failure.load() < count) {
    std::rethrow_exception(errors[first_failure.load()]);
  }
  return Dataset(std::move(pixels), options.shape, std::move(labels),
                 std::move(class_names), root.string());
}

}  // namespace sequent::data
