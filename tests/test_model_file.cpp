// Model files: round trips, atomic replacement, and a clear error for every
// kind of bad file (another architecture, truncated, corrupt, unknown
// version, not a model file at all). Checkpoints resume exactly.
#define BOOST_TEST_MODULE model_file
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sequent/sequent.hpp>
#include <string>
#include <vector>

namespace sq = sequent;
namespace fs = std::filesystem;

namespace {

using Net = sq::Sequential<sq::Input<4, 4, 1>, sq::Flatten, sq::Dense<8>,
                           sq::ReLU, sq::Dropout<0.25>, sq::Dense<3>,
                           sq::Softmax>;
using Other = sq::Sequential<sq::Input<4, 4, 1>, sq::Flatten, sq::Dense<9>,
                             sq::ReLU, sq::Dense<3>, sq::Softmax>;
using Loss = sq::SparseCategoricalCrossentropy;

struct TempDir {
  fs::path path = fs::temp_directory_path() /
                  ("sequent-model-file-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

std::vector<std::uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& b) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), b.size());
}

template <class M>
std::vector<float> params_of(const M& m) {
  return {m.parameters().begin(), m.parameters().end()};
}

auto error_has(std::vector<std::string> parts) {
  return [parts](const sq::io::ModelFileError& e) {
    for (const auto& p : parts) {
      if (std::string(e.what()).find(p) == std::string::npos) {
        BOOST_TEST_MESSAGE("'" << e.what() << "' lacks '" << p << "'");
        return false;
      }
    }
    return true;
  };
}

sq::data::Dataset tiny_images(std::size_t n, std::uint64_t seed) {
  sq::Rng rng(seed);
  std::vector<std::uint8_t> px(n * 16);
  std::vector<std::int32_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) {
    labels[i] = static_cast<std::int32_t>(rng.next() % 3);
    for (int j = 0; j < 16; ++j) {
      px[i * 16 + j] = static_cast<std::uint8_t>(
          (j % 3 == labels[i] ? 200 : 30) + rng.uniform(0, 50));
    }
  }
  return {std::move(px), {4, 4, 1}, std::move(labels), {"a", "b", "c"}, "tiny"};
}

}  // namespace

BOOST_AUTO_TEST_CASE(weights_round_trip) {
  TempDir dir;
  sq::Model<Net, Loss> a{sq::Seed{1}};
  a.save(dir.path / "a.sqm");
  auto b = sq::Model<Net, Loss>::load(dir.path / "a.sqm");
  BOOST_TEST(params_of(a) == params_of(b));
  sq::Model<Net, Loss> c{sq::Seed{2}};
  c.load_weights(dir.path / "a.sqm");
  BOOST_TEST(params_of(a) == params_of(c));
  // No temporary files are left behind.
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) {
    (void)e;
    ++files;
  }
  BOOST_TEST(files == 1u);
}

BOOST_AUTO_TEST_CASE(fingerprint_is_a_compile_time_constant) {
  constexpr auto f = sq::Model<Net, Loss>::fingerprint;
  static_assert(f != sq::Model<Other, Loss>::fingerprint);
  static_assert(f == Net::fingerprint);
  BOOST_TEST(f != 0u);
}

BOOST_AUTO_TEST_CASE(another_architecture_is_refused_and_named) {
  TempDir dir;
  sq::Model<Other, Loss> other{sq::Seed{1}};
  other.save(dir.path / "other.sqm");
  sq::Model<Net, Loss> m{sq::Seed{3}};
  const auto before = params_of(m);
  BOOST_CHECK_EXCEPTION(
      m.load_weights(dir.path / "other.sqm"), sq::io::ModelFileError,
      error_has({"other.sqm", "another architecture", "Dense<9>", "Dense<8>"}));
  BOOST_TEST(params_of(m) == before);  // untouched
}

BOOST_AUTO_TEST_CASE(bad_files_are_clear_errors) {
  TempDir dir;
  sq::Model<Net, Loss> m{sq::Seed{4}};
  const fs::path good = dir.path / "good.sqm";
  m.save(good);
  const auto bytes = read_bytes(good);
  const auto before = params_of(m);

  auto expect = [&](const std::string& name, std::vector<std::uint8_t> b,
                    std::vector<std::string> parts) {
    const fs::path p = dir.path / name;
    write_bytes(p, b);
    parts.push_back(name);
    BOOST_CHECK_EXCEPTION(m.load_weights(p), sq::io::ModelFileError,
                          error_has(parts));
  };
  // Truncated anywhere.
  for (std::size_t keep : {std::size_t{0}, std::size_t{5}, std::size_t{20},
                           bytes.size() / 2, bytes.size() - 1}) {
    expect("truncated.sqm",
           {bytes.begin(), bytes.begin() + static_cast<long>(keep)},
           {keep < 8 ? "not a sequent model file" : "truncated"});
  }
  // A flipped bit in the weights.
  auto flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  expect("flipped.sqm", flipped, {"corrupt", "CRC-32"});
  // Wrong magic.
  auto magic = bytes;
  magic[0] = 'X';
  expect("magic.sqm", magic, {"not a sequent model file"});
  // Unknown version.
  auto version = bytes;
  version[8] = 99;
  expect("version.sqm", version, {"version 99", "reads version 1"});
  // Extra bytes.
  auto longer = bytes;
  longer.push_back(0);
  expect("longer.sqm", longer, {"corrupt", "announces"});
  // Missing file.
  BOOST_CHECK_EXCEPTION(m.load_weights(dir.path / "missing.sqm"),
                        sq::io::ModelFileError,
                        error_has({"cannot open", "missing.sqm"}));
  BOOST_TEST(params_of(m) == before);
}

BOOST_AUTO_TEST_CASE(a_failed_save_keeps_the_previous_file) {
  TempDir dir;
  sq::Model<Net, Loss> m{sq::Seed{5}};
  const fs::path target = dir.path / "keep.sqm";
  m.save(target);
  const auto original = read_bytes(target);
  // Saving into a directory that does not exist fails cleanly.
  BOOST_CHECK_EXCEPTION(m.save(dir.path / "no-such-dir" / "x.sqm"),
                        sq::io::ModelFileError,
                        error_has({"cannot create", "no-such-dir"}));
  // Saving over a read-only directory fails and leaves the old file.
  fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec);
  sq::Model<Net, Loss> other{sq::Seed{6}};
  if (::geteuid() != 0) {  // root ignores directory permissions
    BOOST_CHECK_THROW(other.save(target), sq::io::ModelFileError);
  }
  fs::permissions(dir.path, fs::perms::owner_all);
  if (::geteuid() != 0) BOOST_TEST(read_bytes(target) == original);
}

// Resuming from a checkpoint gives exactly the weights of an uninterrupted
// run: same shuffling, same dropout masks, same optimiser moments.
BOOST_AUTO_TEST_CASE(checkpoint_resume_equals_uninterrupted_run) {
  TempDir dir;
  const auto train = tiny_images(200, 7);
  const sq::FitOptions base{.epochs = 4,
                            .batch_size = 16,
                            .seed = 77,
                            .verbose = sq::Verbosity::kSilent};
  sq::Model<Net, Loss> straight{sq::Seed{8}};
  straight.fit(train, sq::Adam{.lr = 1e-2f}, base);

  sq::Model<Net, Loss> first{sq::Seed{8}};
  auto half = base;
  half.epochs = 2;
  first.fit(train, sq::Adam{.lr = 1e-2f}, half);
  first.save_checkpoint(dir.path / "ckpt.sqm");

  sq::Model<Net, Loss> resumed{sq::Seed{999}};
  const auto state = resumed.load_checkpoint(dir.path / "ckpt.sqm");
  BOOST_TEST(state.epochs_done == 2);
  BOOST_TEST(state.optimizer == "Adam");
  auto rest = base;
  rest.initial_epoch = resumed.epochs_done();
  const auto h = resumed.fit(train, sq::Adam{.lr = 1e-2f}, rest);
  BOOST_TEST(h.epochs.size() == 2u);
  BOOST_TEST(h.epochs.front().epoch == 3);
  BOOST_TEST(params_of(resumed) == params_of(straight));  // bitwise

  // A weights file is not a checkpoint.
  first.save(dir.path / "weights.sqm");
  BOOST_CHECK_EXCEPTION(resumed.load_checkpoint(dir.path / "weights.sqm"),
                        sq::io::ModelFileError,
                        error_has({"not a training checkpoint"}));
}
