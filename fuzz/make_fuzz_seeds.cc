// Writes valid inputs for each fuzzer into DIR/<fuzzer>/, so that fuzzing
// starts from real structure instead of rediscovering each format. Seeds
// are generated here rather than committed.
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sequent/io/model_file.hpp>
#include <string>
#include <vector>

namespace io = sequent::io;
namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

static void write(const fs::path& p, const Bytes& b) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()),
             static_cast<std::streamsize>(b.size()));
}

static void write_gzip(const fs::path& p, const Bytes& b) {
  fs::create_directories(p.parent_path());
  gzFile file = gzopen(p.c_str(), "wb9");
  gzwrite(file, b.data(), static_cast<unsigned>(b.size()));
  gzclose(file);
}

// stb_image_write's callback: append to a byte vector.
static void append(void* context, void* data, int size) {
  auto* out = static_cast<Bytes*>(context);
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

// A w × h image of `channels` channels with a gradient and an edge in it.
static Bytes pattern(int w, int h, int channels) {
  Bytes px(static_cast<std::size_t>(w) * h * channels);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < channels; ++c) {
        px[(static_cast<std::size_t>(y) * w + x) * channels + c] =
            static_cast<std::uint8_t>(x > w / 2 ? 200 - 7 * c : 16 * y + c);
      }
    }
  }
  return px;
}

int main(int argc, char** argv) {
  const fs::path dir = argc > 1 ? argv[1] : "seeds";
  // IDX: 2 images of 3×3 unsigned bytes, raw and gzip; labels; a 4-D file.
  Bytes idx{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3};
  for (int i = 0; i < 18; ++i) idx.push_back(static_cast<std::uint8_t>(i * 13));
  write(dir / "idx_fuzzer" / "images.idx", idx);
  write_gzip(dir / "idx_fuzzer" / "images.idx.gz", idx);
  write(dir / "idx_fuzzer" / "labels.idx", {0, 0, 8, 1, 0, 0, 0, 2, 3, 7});
  Bytes idx4{0, 0, 8, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
  for (int i = 0; i < 12; ++i) idx4.push_back(static_cast<std::uint8_t>(i));
  write(dir / "idx_fuzzer" / "rgb.idx", idx4);
  // CIFAR-10: two records.
  Bytes cifar;
  for (int r = 0; r < 2; ++r) {
    cifar.push_back(static_cast<std::uint8_t>(r + 3));
    for (int i = 0; i < 3072; ++i) {
      cifar.push_back(static_cast<std::uint8_t>(i));
    }
  }
  write(dir / "cifar10_fuzzer" / "batch.bin", cifar);
  // A model file as Model::save writes one (the layout of a Conv2D, a
  // BatchNorm and a Dense layer), and a checkpoint of the same weights.
  io::ModelFile model{io::FileKind::kWeights,
                      0x5eed5eed5eed5eedULL,
                      "Input<4, 4, 1>, Conv2D<2, 3>, BatchNorm, Dense<3>",
                      {"a", "b", "c"},
                      {},
                      {}};
  const auto tensor = [&](std::uint32_t layer, const char* name,
                          std::vector<std::uint32_t> shape) {
    std::size_t count = 1;
    for (const auto d : shape) count *= d;
    std::vector<float> values(count);
    for (std::size_t i = 0; i < count; ++i) values[i] = 0.25f * i - 1.0f;
    model.tensors.push_back({layer, name, std::move(shape), std::move(values)});
  };
  tensor(0, "kernel", {3, 3, 1, 2});
  tensor(0, "bias", {2});
  tensor(1, "gamma", {2});
  tensor(1, "beta", {2});
  tensor(1, "moving_mean", {2});
  tensor(1, "moving_variance", {2});
  tensor(4, "kernel", {32, 3});
  tensor(4, "bias", {3});
  fs::create_directories(dir / "model_file_fuzzer");
  io::write_model_file(dir / "model_file_fuzzer" / "weights.sqm", model);
  model.kind = io::FileKind::kCheckpoint;
  model.training = {"Adam", 1, std::vector<float>(2 * 150, 0.125f), 1, 7, 1};
  io::write_model_file(dir / "model_file_fuzzer" / "checkpoint.sqm", model);
  model.training = {"SGD", 3, {}, 2, 7, 3};  // plain SGD keeps no state
  io::write_model_file(dir / "model_file_fuzzer" / "sgd.sqm", model);
  // Images: PNG (grey, RGBA), BMP, JPEG, GIF and PGM/PPM.
  const fs::path images = dir / "image_fuzzer";
  Bytes out;
  stbi_write_png_to_func(append, &out, 8, 8, 1, pattern(8, 8, 1).data(), 0);
  write(images / "gradient.png", out);
  out.clear();
  stbi_write_png_to_func(append, &out, 6, 5, 4, pattern(6, 5, 4).data(), 0);
  write(images / "rgba.png", out);
  out.clear();
  stbi_write_bmp_to_func(append, &out, 5, 4, 3, pattern(5, 4, 3).data());
  write(images / "rgb.bmp", out);
  out.clear();
  stbi_write_jpg_to_func(append, &out, 17, 9, 3, pattern(17, 9, 3).data(), 80);
  write(images / "rgb.jpg", out);
  out.clear();
  stbi_write_jpg_to_func(append, &out, 8, 8, 1, pattern(8, 8, 1).data(), 90);
  write(images / "grey.jpg", out);
  // The classic 1×1 GIF89a: a 2-colour palette, one LZW-coded pixel.
  write(
      images / "pixel.gif",
      {'G',  'I', 'F', '8', '9', 'a',  1, 0, 1, 0,    0x80, 0, 0,   0xFF, 0xFF,
       0xFF, 0,   0,   0,   '!', 0xF9, 4, 1, 0, 0,    0,    0, ',', 0,    0,
       0,    0,   1,   0,   1,   0,    0, 2, 2, 0x44, 1,    0, ';'});
  write(images / "tiny.pgm", {'P', '5', '\n', '2', ' ', '2', '\n', '2', '5',
                              '5', '\n', 0, 80, 160, 240});
  Bytes ppm{'P', '6',  ' ', '2', ' ', '1', ' ', '#',
            'c', '\n', '6', '5', '5', '3', '5', '\n'};
  for (int i = 0; i < 12; ++i) ppm.push_back(static_cast<std::uint8_t>(i * 20));
  write(images / "wide.ppm", ppm);
  return 0;
}
