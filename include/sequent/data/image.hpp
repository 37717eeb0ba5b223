// Image files in and out: PNG, JPEG, BMP and GIF (first frame) decoded
// through stb_image, binary PGM/PPM by a small reader of the library's own,
// converted to the shape a model's Input expects; class-per-folder trees
// read into a Dataset; PNG out through stb_image_write. Every function that
// reads the outside world checks it and throws an exception naming the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "sequent/data/dataset.hpp"
#include "sequent/shape.hpp"

namespace sequent::data {

struct ImageOptions {
  // Target height, width and channels (1 = grey, 3 = RGB). Every image is
  // stretched to exactly height × width (the aspect ratio is not kept, as in
  // Keras' image_dataset_from_directory); channels are converted.
  ImageShape shape;
  // 255 − v after conversion: photos are dark-on-light, while MNIST and
  // Fashion-MNIST are light-on-dark.
  bool invert = false;
  // Invert only images whose border (the outermost ring of pixels after
  // conversion, usually the background) is mostly light: mean above 127.
  // For a mix of photos and dataset-like images; ignored when invert is set.
  bool invert_light_background = false;
  // Images with more pixels than this (width × height of the file, read
  // from its header) are refused before decoding; so are target shapes
  // larger than this. The default allows 8192 × 8192.
  std::size_t max_pixels = std::size_t{64} << 20;
};

// A decoded, converted image: shape.size() uint8 values, row-major H×W×C.
struct Image {
  ImageShape shape;
  std::vector<std::uint8_t> pixels;
};

// Decodes an image file and converts it to options.shape:
//   - alpha is composited over white (what an image viewer shows), then
//     dropped;
//   - RGB → grey uses ITU-R BT.601 luma, 0.299 R + 0.587 G + 0.114 B;
//     grey → RGB replicates the value;
//   - the size is changed, only when it differs, with stb_image_resize on
//     the stored values (no sRGB linearisation, like PIL and
//     tf.image.resize): Mitchell filter when shrinking, Catmull–Rom when
//     enlarging;
//   - then options.invert is applied.
// Throws std::invalid_argument for a target shape with a side of 0 or
// channels other than 1 or 3, and std::runtime_error naming the file for a
// missing, unreadable or empty file, a file that is not one of the formats
// above or whose data is corrupt or truncated (with stb_image's reason),
// and an image larger than options.max_pixels (with its dimensions).
Image load_image(const std::filesystem::path& path,
                 const ImageOptions& options);

// load_image for bytes already in memory; `name` stands for the file in
// error messages. Safe on arbitrary bytes.
Image decode_image(std::span<const std::uint8_t> bytes,
                   const ImageOptions& options, const std::string& name);

// A labelled dataset from a tree with one sub-directory per class:
//   root/cat/001.png, root/cat/002.jpg, root/dog/a.png, …
// Classes are the sub-directories sorted by name (byte order, like Python's
// sorted()), labelled 0, 1, …; class names are the directory names. Each
// class holds every image file below its directory, sub-directories
// included, sorted by relative path. Image files are recognised by their
// extension, in any case: .png .jpg .jpeg .bmp .gif .pgm .ppm .pnm; other
// files (README.txt, .DS_Store) are skipped, as are entries whose name
// starts with a dot (.git, .ipynb_checkpoints). Every image is converted to
// options.shape as load_image does.
// Throws std::runtime_error when root is not a directory, holds no class
// sub-directory, or a class holds no image file, and (naming the file) for
// any image that fails to load.
Dataset image_folder(const std::filesystem::path& root,
                     const ImageOptions& options);

// Writes one H×W×C uint8 image (C = 1 grey or 3 RGB) as a PNG, atomically:
// to a temporary file beside `path`, then renamed over it, so a reader
// never sees half a file. Throws std::invalid_argument when pixels.size()
// is not shape.size() or the shape is invalid, and std::runtime_error
// naming the path when the file cannot be written.
void write_png(const std::filesystem::path& path, const ImageShape& shape,
               std::span<const std::uint8_t> pixels);

// ImageOptions whose shape is the Input of a model, so that callers never
// write the shape twice:
//
//   using Model = sq::Model<Net, sq::SparseCategoricalCrossentropy>;
//   auto image = sq::data::load_image(path,
//                                     sq::data::input_image_options<Model>());
//   auto p = model.predict(sq::data::ImageView{image.pixels, 1, image.shape});
//
// M is a Model or a Sequential. Input<H, W, C> gives H×W×C, Input<H, W>
// gives H×W×1. Input<N> does not say how N values make a picture, and C
// other than 1 or 3 is not an image format: both do not compile.
template <class M>
ImageOptions input_image_options(bool invert = false) {
  using Input = decltype([] {
    if constexpr (requires { typename M::input_shape; }) {
      return typename M::input_shape{};
    } else {
      return typename M::input{};
    }
  }());
  static_assert(Input::rank == 2 || Input::rank == 3,
                "input_image_options: an Input<N> model takes flat vectors; "
                "give ImageOptions a shape of N values yourself");
  constexpr int channels = Input::rank == 3 ? Input::dims[Input::rank - 1] : 1;
  static_assert(channels == 1 || channels == 3,
                "input_image_options: images are grey (C = 1) or RGB (C = 3)");
  ImageOptions options;
  options.shape = {Input::dims[0], Input::dims[1], channels};
  options.invert = invert;
  return options;
}

}  // namespace sequent::data
