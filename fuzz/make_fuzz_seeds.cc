// Writes one valid input per fuzzer into DIR/<fuzzer>/, so that fuzzing
// starts from real structure instead of rediscovering each format.
#include <filesystem>
#include <fstream>
#include <sequent/sequent.hpp>
#include <vector>

namespace sq = sequent;
namespace fs = std::filesystem;
using Net = sq::Sequential<sq::Input<4, 4, 1>, sq::Conv2D<2, 3, sq::Same>,
                           sq::BatchNorm<>, sq::ReLU, sq::Flatten,
                           sq::Dense<3>, sq::Softmax>;

static void write(const fs::path& p, const std::vector<std::uint8_t>& b) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()),
             static_cast<std::streamsize>(b.size()));
}

int main(int argc, char** argv) {
  const fs::path dir = argc > 1 ? argv[1] : "seeds";
  // IDX: 2 images of 3×3 unsigned bytes.
  std::vector<std::uint8_t> idx{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3};
  for (int i = 0; i < 18; ++i) idx.push_back(static_cast<std::uint8_t>(i * 13));
  write(dir / "idx_fuzzer" / "images.idx", idx);
  write(dir / "idx_fuzzer" / "labels.idx", {0, 0, 8, 1, 0, 0, 0, 2, 3, 7});
  // CIFAR-10: two records.
  std::vector<std::uint8_t> cifar;
  for (int r = 0; r < 2; ++r) {
    cifar.push_back(static_cast<std::uint8_t>(r + 3));
    for (int i = 0; i < 3072; ++i) cifar.push_back(static_cast<std::uint8_t>(i));
  }
  write(dir / "cifar10_fuzzer" / "batch.bin", cifar);
  // A model file of the fuzzer's architecture, and a checkpoint.
  fs::create_directories(dir / "model_file_fuzzer");
  sq::Model<Net, sq::SparseCategoricalCrossentropy> model{sq::Seed{1}};
  model.save(dir / "model_file_fuzzer" / "weights.sqm");
  std::vector<float> x(16, 0.5f);
  std::vector<std::int32_t> y{1};
  model.train_step({x, y, {}, 1}, sq::Adam{});
  model.save_checkpoint(dir / "model_file_fuzzer" / "checkpoint.sqm");
  // Images: a PNG, plus a PGM written by hand.
  std::vector<std::uint8_t> px(8 * 8);
  for (int i = 0; i < 64; ++i) px[i] = static_cast<std::uint8_t>(i * 4);
  sq::data::write_png(dir / "image_fuzzer" / "gradient.png", {8, 8, 1}, px);
  std::vector<std::uint8_t> pgm{'P', '5', '\n', '2', ' ', '2', '\n',
                                '2', '5', '5', '\n', 0, 80, 160, 240};
  write(dir / "image_fuzzer" / "tiny.pgm", pgm);
  return 0;
}
