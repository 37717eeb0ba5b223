// Model files: round trips, class names, atomic replacement (a save killed
// halfway keeps the previous file), and a clear error for every kind of bad
// file (another architecture, a forged tensor shape, truncated, corrupt,
// unknown version, not a model file at all); version 1 files still load.
// Checkpoints resume exactly, without repeating the seed.
#define BOOST_TEST_MODULE model_file
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sequent/sequent.hpp>
#include <string>
#include <vector>

#include "temp_dir.hpp"

namespace sq = sequent;
namespace fs = std::filesystem;

namespace {

using Net =
    sq::Sequential<sq::Input<4, 4, 1>, sq::Flatten, sq::Dense<8>, sq::ReLU,
                   sq::Dropout<0.25>, sq::Dense<3>, sq::Softmax>;
using Other = sq::Sequential<sq::Input<4, 4, 1>, sq::Flatten, sq::Dense<9>,
                             sq::ReLU, sq::Dense<3>, sq::Softmax>;
using Loss = sq::SparseCategoricalCrossentropy;

using sequent::test::TempDir;

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
  a.save(dir.path() / "a.sqm");
  auto b = sq::Model<Net, Loss>::load(dir.path() / "a.sqm");
  BOOST_TEST(params_of(a) == params_of(b));
  sq::Model<Net, Loss> c{sq::Seed{2}};
  c.load_weights(dir.path() / "a.sqm");
  BOOST_TEST(params_of(a) == params_of(c));
  // No temporary files are left behind.
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
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

// Constants that change what a layer computes are part of the
// architecture; settings that only change training are not.
namespace constants {
template <class... L>
constexpr std::uint64_t print =
    sq::Sequential<sq::Input<6, 6, 2>, L...>::fingerprint;
using sq::Padding;
static_assert(print<sq::LeakyReLU<0.3>> != print<sq::LeakyReLU<0.1>>);
static_assert(print<sq::Rescaling<2.0, -1.0>> != print<sq::Rescaling<2.0>>);
static_assert(print<sq::Rescaling<2.0>> != print<sq::Rescaling<0.5>>);
static_assert(print<sq::Normalization<>> != print<sq::Normalization<1e-3>>);
static_assert(print<sq::BatchNorm<>> != print<sq::BatchNorm<0.99, 1e-5>>);
// 6 wide, kernel 2, stride 3: Same pads nothing, yet is another layer.
static_assert(print<sq::Conv2D<4, 2, Padding::kValid, 3>> !=
              print<sq::Conv2D<4, 2, Padding::kSame, 3>>);
static_assert(print<sq::MaxPool2D<2>> != print<sq::MaxPool2D<2, 1>>);
static_assert(print<sq::BatchNorm<>> == print<sq::BatchNorm<0.9>>);
static_assert(print<sq::Dropout<0.25>> == print<sq::Dropout<0.5>>);
}  // namespace constants

BOOST_AUTO_TEST_CASE(another_architecture_is_refused_and_named) {
  TempDir dir;
  sq::Model<Other, Loss> other{sq::Seed{1}};
  other.save(dir.path() / "other.sqm");
  sq::Model<Net, Loss> m{sq::Seed{3}};
  const auto before = params_of(m);
  BOOST_CHECK_EXCEPTION(
      m.load_weights(dir.path() / "other.sqm"), sq::io::ModelFileError,
      error_has({"other.sqm", "another architecture", "Dense<9>", "Dense<8>"}));
  BOOST_TEST(params_of(m) == before);  // untouched
}

BOOST_AUTO_TEST_CASE(bad_files_are_clear_errors) {
  TempDir dir;
  sq::Model<Net, Loss> m{sq::Seed{4}};
  const fs::path good = dir.path() / "good.sqm";
  m.save(good);
  const auto bytes = read_bytes(good);
  const auto before = params_of(m);

  auto expect = [&](const std::string& name, std::vector<std::uint8_t> b,
                    std::vector<std::string> parts) {
    const fs::path p = dir.path() / name;
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
  expect("version.sqm", version,
         {"unknown model file format version 99", "versions 1 to 2"});
  version[8] = 0;
  expect("version0.sqm", version, {"unknown model file format version 0"});
  // Extra bytes.
  auto longer = bytes;
  longer.push_back(0);
  expect("longer.sqm", longer, {"corrupt", "announces"});
  // Missing file.
  BOOST_CHECK_EXCEPTION(m.load_weights(dir.path() / "missing.sqm"),
                        sq::io::ModelFileError,
                        error_has({"cannot open", "missing.sqm"}));
  BOOST_TEST(params_of(m) == before);
}

// A directory or a FIFO (whose read would block) is not a model file.
BOOST_AUTO_TEST_CASE(directories_and_fifos_are_not_model_files) {
  TempDir dir;
  sq::Model<Net, Loss> m{sq::Seed{5}};
  BOOST_CHECK_EXCEPTION(m.load_weights(dir.path()), sq::io::ModelFileError,
                        error_has({dir.path().string(), "is a directory"}));
  const fs::path fifo = dir.path() / "pipe.sqm";
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  BOOST_CHECK_EXCEPTION(m.load_weights(fifo), sq::io::ModelFileError,
                        error_has({"pipe.sqm", "not a regular file"}));
}

BOOST_AUTO_TEST_CASE(a_failed_save_keeps_the_previous_file) {
  TempDir dir;
  sq::Model<Net, Loss> m{sq::Seed{5}};
  const fs::path target = dir.path() / "keep.sqm";
  m.save(target);
  const auto original = read_bytes(target);
  // Saving into a directory that does not exist fails cleanly.
  BOOST_CHECK_EXCEPTION(
      m.save(dir.path() / "no-such-dir" / "x.sqm"), sq::io::ModelFileError,
      error_has({"cannot save", "x.sqm", "cannot create", "no-such-dir"}));
  // Saving over a read-only directory fails, names the target, and leaves
  // the old file, saying so.
  fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
  sq::Model<Net, Loss> other{sq::Seed{6}};
  if (::geteuid() != 0) {  // root ignores directory permissions
    BOOST_CHECK_EXCEPTION(other.save(target), sq::io::ModelFileError,
                          error_has({"cannot save " + target.string(),
                                     "existing file is "
                                     "unchanged"}));
  }
  fs::permissions(dir.path(), fs::perms::owner_all);
  if (::geteuid() != 0) BOOST_TEST(read_bytes(target) == original);
}

// Resuming from a checkpoint gives exactly the weights of an uninterrupted
// run: same shuffling, same dropout masks, same optimiser moments. The
// resumed model has another Seed and is given neither .seed nor
// .initial_epoch: the checkpoint brings the run's seed and epoch.
BOOST_AUTO_TEST_CASE(checkpoint_resume_equals_uninterrupted_run) {
  TempDir dir;
  const auto train = tiny_images(200, 7);
  const sq::FitOptions base{
      .epochs = 4, .batch_size = 16, .verbose = sq::Verbosity::kSilent};
  sq::Model<Net, Loss> straight{sq::Seed{8}};
  straight.fit(train, sq::Adam{.lr = 1e-2f}, base);

  sq::Model<Net, Loss> first{sq::Seed{8}};
  auto half = base;
  half.epochs = 2;
  first.fit(train, sq::Adam{.lr = 1e-2f}, half);
  first.save_checkpoint(dir.path() / "ckpt.sqm");

  sq::Model<Net, Loss> resumed{sq::Seed{999}};
  const auto state = resumed.load_checkpoint(dir.path() / "ckpt.sqm");
  BOOST_TEST(state.epochs_done == 2);
  BOOST_TEST(state.optimizer == "Adam");
  const auto h = resumed.fit(train, sq::Adam{.lr = 1e-2f}, base);
  BOOST_REQUIRE_EQUAL(h.epochs.size(), 2u);
  BOOST_TEST(h.epochs.front().epoch == 3);
  BOOST_TEST(params_of(resumed) == params_of(straight));  // bitwise
  BOOST_TEST(resumed.epochs_done() == 4);

  // A weights file is not a checkpoint.
  first.save(dir.path() / "weights.sqm");
  BOOST_CHECK_EXCEPTION(resumed.load_checkpoint(dir.path() / "weights.sqm"),
                        sq::io::ModelFileError,
                        error_has({"not a training checkpoint"}));
}

// A checkpoint whose CRC is right can still hold counters out of range or
// a diverged optimiser state (written by another tool, or by a run that
// went NaN): each is named, and the model is left as it was.
BOOST_AUTO_TEST_CASE(checkpoint_counters_and_state_are_checked) {
  TempDir dir;
  sq::Model<Net, Loss> m{sq::Seed{8}};
  m.fit(tiny_images(64, 7), sq::Adam{},
        {.epochs = 1, .batch_size = 16, .verbose = sq::Verbosity::kSilent});
  const fs::path good = dir.path() / "good.sqm";
  m.save_checkpoint(good);
  const sq::io::ModelFile original = sq::io::read_model_file(good);
  sq::Model<Net, Loss> target{sq::Seed{1}};
  const auto before = params_of(target);
  auto refused = [&](const char* name, auto edit,
                     std::vector<std::string> parts) {
    sq::io::ModelFile f = original;
    edit(f.training);
    const fs::path path = dir.path() / name;
    sq::io::write_model_file(path, f);
    BOOST_TEST_CONTEXT(name) {
      BOOST_CHECK_EXCEPTION(target.load_checkpoint(path),
                            sq::io::ModelFileError, error_has(parts));
      BOOST_TEST(params_of(target) == before);
    }
  };
  refused("negative_epoch.sqm", [](auto& t) { t.epochs_done = -5; },
          {"negative_epoch.sqm", "epoch (-5)"});
  refused("negative_step.sqm", [](auto& t) { t.optimizer_step = -100; },
          {"optimiser step (-100)"});
  refused("nan_state.sqm", [](auto& t) { t.optimizer_state[3] = NAN; },
          {"nan_state.sqm", "non-finite"});
  // The largest epoch count loads, and a fit from it ends at once instead
  // of overflowing the epoch counter.
  sq::io::ModelFile last = original;
  last.training.epochs_done = std::numeric_limits<std::int32_t>::max();
  sq::io::write_model_file(dir.path() / "last.sqm", last);
  target.load_checkpoint(dir.path() / "last.sqm");
  const auto h = target.fit(tiny_images(64, 7), sq::Adam{},
                            {.epochs = std::numeric_limits<int>::max(),
                             .verbose = sq::Verbosity::kSilent});
  BOOST_TEST(h.epochs.empty());
}

// The explicit forms still work: the same seed on both sides and
// .initial_epoch = epochs_done(); and a fit after load_checkpoint with
// .initial_epoch = 0, or after load_weights, is a new run from epoch 1.
BOOST_AUTO_TEST_CASE(checkpoint_resume_with_explicit_seed_and_epoch) {
  TempDir dir;
  const auto train = tiny_images(120, 9);
  const sq::FitOptions base{.epochs = 3,
                            .batch_size = 16,
                            .seed = 77,
                            .verbose = sq::Verbosity::kSilent};
  sq::Model<Net, Loss> straight{sq::Seed{1}};
  straight.fit(train, sq::SGD{.lr = 0.1f, .momentum = 0.9f}, base);
  sq::Model<Net, Loss> first{sq::Seed{1}};  // the same initial weights
  auto one = base;
  one.epochs = 1;
  first.fit(train, sq::SGD{.lr = 0.1f, .momentum = 0.9f}, one);
  first.save_checkpoint(dir.path() / "ckpt.sqm");
  sq::Model<Net, Loss> resumed{sq::Seed{3}};
  resumed.load_checkpoint(dir.path() / "ckpt.sqm");
  auto rest = base;
  rest.initial_epoch = resumed.epochs_done();
  const auto h =
      resumed.fit(train, sq::SGD{.lr = 0.1f, .momentum = 0.9f}, rest);
  BOOST_TEST(h.epochs.front().epoch == 2);
  BOOST_TEST(params_of(resumed) == params_of(straight));

  sq::Model<Net, Loss> restart{sq::Seed{4}};
  restart.load_checkpoint(dir.path() / "ckpt.sqm");
  auto from_one = base;
  from_one.epochs = 1;
  from_one.initial_epoch = 0;
  BOOST_TEST(restart.fit(train, sq::SGD{}, from_one).epochs.front().epoch == 1);
  sq::Model<Net, Loss> weights_only{sq::Seed{5}};
  first.save(dir.path() / "w.sqm");
  weights_only.load_weights(dir.path() / "w.sqm");
  from_one.initial_epoch.reset();
  BOOST_TEST(
      weights_only.fit(train, sq::SGD{}, from_one).epochs.front().epoch == 1);
}

// ---- class names -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(class_names_travel_with_the_weights) {
  TempDir dir;
  sq::Model<Net, Loss> m{sq::Seed{1}};
  BOOST_TEST(m.class_names().empty());
  // fit records the names of the training set's classes.
  m.fit(tiny_images(32, 1), sq::SGD{},
        {.epochs = 1, .verbose = sq::Verbosity::kSilent});
  BOOST_TEST(m.class_names() == (std::vector<std::string>{"a", "b", "c"}));
  m.set_class_names({"shirt", "coat", "bag"});
  m.save(dir.path() / "named.sqm");
  auto loaded = sq::Model<Net, Loss>::load(dir.path() / "named.sqm");
  BOOST_TEST(loaded.class_names() ==
             (std::vector<std::string>{"shirt", "coat", "bag"}));
  BOOST_TEST(sq::io::read_model_file(dir.path() / "named.sqm").class_names ==
             m.class_names());
  // Checkpoints carry them too, and a load replaces them.
  m.save_checkpoint(dir.path() / "ckpt.sqm");
  sq::Model<Net, Loss> other{sq::Seed{2}};
  other.set_class_names({"x", "y", "z"});
  other.load_checkpoint(dir.path() / "ckpt.sqm");
  BOOST_TEST(other.class_names() == m.class_names());
  // One name per output, or none.
  BOOST_CHECK_THROW(m.set_class_names({"one", "two"}), std::invalid_argument);
  m.set_class_names({});
  BOOST_TEST(m.class_names().empty());
  // A dataset with fewer classes than outputs: the rest by number.
  const sq::data::Dataset two({10, 20, 30, 40}, {1, 2, 1}, {0, 1}, {"p", "q"},
                              "two");
  sq::Model<sq::Sequential<sq::Input<2>, sq::Dense<3>, sq::Softmax>, Loss> wide;
  wide.fit(two, sq::SGD{}, {.verbose = sq::Verbosity::kSilent});
  BOOST_TEST(wide.class_names() == (std::vector<std::string>{"p", "q", "2"}));
}

BOOST_AUTO_TEST_CASE(a_file_naming_the_wrong_number_of_classes_is_refused) {
  TempDir dir;
  sq::Model<Net, Loss> m{sq::Seed{1}};
  m.save(dir.path() / "good.sqm");
  auto f = sq::io::read_model_file(dir.path() / "good.sqm");
  f.class_names = {"only", "two"};
  sq::io::write_model_file(dir.path() / "names.sqm", f);
  const auto before = params_of(m);
  BOOST_CHECK_EXCEPTION(
      m.load_weights(dir.path() / "names.sqm"), sq::io::ModelFileError,
      error_has({"names.sqm", "names 2 classes", "3 outputs"}));
  BOOST_TEST(params_of(m) == before);
}

// Version 1 files (before class names) are still read: a version 2 file
// without names, rewritten as version 1 by dropping its class-name count.
BOOST_AUTO_TEST_CASE(version_1_files_still_load) {
  TempDir dir;
  sq::Model<Net, Loss> m{sq::Seed{6}};
  m.save(dir.path() / "v2.sqm");
  auto bytes = read_bytes(dir.path() / "v2.sqm");
  // Header: magic 8, version 4, kind 4, payload length 8; payload:
  // fingerprint 8, architecture (u32 length + bytes), class-name count 4.
  std::uint32_t arch_length;
  std::memcpy(&arch_length, bytes.data() + 32, 4);
  const std::size_t names_at = 36 + arch_length;
  std::uint32_t names;
  std::memcpy(&names, bytes.data() + names_at, 4);
  BOOST_REQUIRE_EQUAL(names, 0u);
  bytes.erase(bytes.begin() + static_cast<long>(names_at),
              bytes.begin() + static_cast<long>(names_at) + 4);
  const std::uint32_t v1 = 1;
  std::memcpy(bytes.data() + 8, &v1, 4);
  std::uint64_t payload;
  std::memcpy(&payload, bytes.data() + 16, 8);
  payload -= 4;
  std::memcpy(bytes.data() + 16, &payload, 8);
  const auto crc = static_cast<std::uint32_t>(
      crc32(0L, bytes.data(), static_cast<uInt>(bytes.size() - 4)));
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
  write_bytes(dir.path() / "v1.sqm", bytes);

  sq::Model<Net, Loss> loaded{sq::Seed{7}};
  loaded.set_class_names({"x", "y", "z"});
  loaded.load_weights(dir.path() / "v1.sqm");
  BOOST_TEST(params_of(loaded) == params_of(m));
  BOOST_TEST(loaded.class_names().empty());  // the file names none
}

// ---- what differs is named --------------------------------------------------

// A file from before the fingerprint recorded layer constants: the same
// layers by name, another fingerprint (here: the fingerprint at byte 24
// changed and the CRC redone). The error says why.
BOOST_AUTO_TEST_CASE(an_older_fingerprint_of_the_same_layers_is_explained) {
  TempDir dir;
  sq::Model<Net, Loss> m{sq::Seed{6}};
  m.save(dir.path() / "new.sqm");
  auto bytes = read_bytes(dir.path() / "new.sqm");
  bytes[24] ^= 0x5A;
  const auto crc = static_cast<std::uint32_t>(
      crc32(0L, bytes.data(), static_cast<uInt>(bytes.size() - 4)));
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
  write_bytes(dir.path() / "old.sqm", bytes);
  BOOST_CHECK_EXCEPTION(
      m.load_weights(dir.path() / "old.sqm"), sq::io::ModelFileError,
      error_has({"old.sqm", "another architecture", "layers read the same",
                 "save it again"}));
}

// A file whose fingerprint matches but whose tensor has another shape (a
// forged or mis-written file): the error gives both shapes.
BOOST_AUTO_TEST_CASE(a_tensor_shape_mismatch_names_both_shapes) {
  TempDir dir;
  sq::Model<Net, Loss> m{sq::Seed{1}};
  m.save(dir.path() / "good.sqm");
  auto f = sq::io::read_model_file(dir.path() / "good.sqm");
  BOOST_REQUIRE(f.tensors[0].shape == (std::vector<std::uint32_t>{16, 8}));
  f.tensors[0].shape = {8, 16};  // as many values, another shape
  sq::io::write_model_file(dir.path() / "shape.sqm", f);
  BOOST_CHECK_EXCEPTION(
      m.load_weights(dir.path() / "shape.sqm"), sq::io::ModelFileError,
      error_has({"shape.sqm", "tensor 0", "kernel", "of shape (8, 16)",
                 "expects layer 1 kernel of shape (16, 8)"}));
}

BOOST_AUTO_TEST_CASE(a_checkpoint_of_another_architecture_names_both) {
  TempDir dir;
  sq::Model<Other, Loss> other{sq::Seed{1}};
  other.fit(tiny_images(32, 2), sq::Adam{},
            {.epochs = 1, .verbose = sq::Verbosity::kSilent});
  other.save_checkpoint(dir.path() / "other.sqm");
  sq::Model<Net, Loss> m{sq::Seed{3}};
  const auto before = params_of(m);
  BOOST_CHECK_EXCEPTION(
      m.load_checkpoint(dir.path() / "other.sqm"), sq::io::ModelFileError,
      error_has({"other.sqm", "another architecture", "file:  Input(4, 4, 1)",
                 "Dense<9>", "model: Input(4, 4, 1)", "Dense<8>"}));
  BOOST_TEST(params_of(m) == before);
  BOOST_TEST(m.epochs_done() == 0);
}

// ---- a save that dies halfway
// ------------------------------------------------

namespace {

// 2 MiB of weights: more than write_model_file's 1 MiB parts, so a save can
// die with part of the new file written.
using Big = sq::Sequential<sq::Input<512>, sq::Dense<1024>>;
using BigModel = sq::Model<Big, sq::MeanSquaredError>;

sq::io::testing::SaveStage g_die_at;
void die_at_stage(sq::io::testing::SaveStage stage, const fs::path&) {
  if (stage != g_die_at) return;
  if (stage == sq::io::testing::SaveStage::kPartlyWritten) {
    ::raise(SIGKILL);  // as the OOM killer or a power cut would
  }
  ::_exit(42);
}

std::vector<fs::path> temporaries_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().find(".tmp-") != std::string::npos) {
      out.push_back(e.path());
    }
  }
  return out;
}

}  // namespace

// A child process starts saving new weights over a model file and dies at
// the two points a crash can hit: with the temporary file partly written,
// and with it complete but not yet renamed. Each time the previous file is
// intact and loads, the dead save's temporary is left beside it, and the
// next save removes it.
BOOST_AUTO_TEST_CASE(a_save_killed_halfway_keeps_the_previous_file) {
  using sq::io::testing::SaveStage;
  for (const SaveStage stage :
       {SaveStage::kPartlyWritten, SaveStage::kWrittenNotRenamed}) {
    BOOST_TEST_CONTEXT("stage " << static_cast<int>(stage)) {
      TempDir dir;
      const fs::path target = dir.path() / "keep.sqm";
      BigModel old_model{sq::Seed{1}};
      old_model.save(target);
      const auto original = read_bytes(target);
      BigModel new_model{sq::Seed{2}};

      const pid_t child = ::fork();
      BOOST_REQUIRE(child >= 0);
      if (child == 0) {
        g_die_at = stage;
        sq::io::testing::set_save_hook(die_at_stage);
        try {
          new_model.save(target);
        } catch (...) {
        }
        ::_exit(0);  // the hook did not fire: the parent reports it
      }
      int status = 0;
      BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
      if (stage == SaveStage::kPartlyWritten) {
        BOOST_TEST((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
      } else {
        BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 42));
      }

      BOOST_TEST(read_bytes(target) == original);
      BigModel reloaded = BigModel::load(target);
      BOOST_TEST(params_of(reloaded) == params_of(old_model));

      const auto stray = temporaries_in(dir.path());
      BOOST_REQUIRE_EQUAL(stray.size(), 1u);
      BOOST_TEST(stray[0].filename().string().rfind(
                     ".keep.sqm.tmp-" + std::to_string(child) + "-", 0) == 0u);
      const auto size = fs::file_size(stray[0]);
      if (stage == SaveStage::kPartlyWritten) {
        BOOST_TEST(size > 0u);
        BOOST_TEST(size < original.size());
        BOOST_CHECK_EXCEPTION(BigModel::load(stray[0]), sq::io::ModelFileError,
                              error_has({"truncated"}));
      } else {
        // Complete but never renamed: it holds the new weights.
        BOOST_TEST(size == original.size());
        BOOST_TEST(params_of(BigModel::load(stray[0])) == params_of(new_model));
      }

      // The next save cleans up after the dead process.
      new_model.save(target);
      BOOST_TEST(temporaries_in(dir.path()).empty());
      BOOST_TEST(params_of(BigModel::load(target)) == params_of(new_model));
    }
  }
}

// Only temporaries of this target whose process is gone are removed: not a
// live process's (pid 1 always runs), not another file's, not names of
// another form.
BOOST_AUTO_TEST_CASE(remove_stale_temporaries_spares_live_saves) {
  TempDir dir;
  const fs::path target = dir.path() / "m.sqm";
  // A process id that no longer runs: a child that has exited and been
  // waited for.
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string d = std::to_string(dead);
  for (const std::string& name : std::vector<std::string>{
           ".m.sqm.tmp-" + d + "-0", ".m.sqm.tmp-" + d + "-17",
           ".m.sqm.tmp-1-0", ".m.sqm.tmp-" + std::to_string(::getpid()) + "-3",
           ".other.sqm.tmp-" + d + "-0", ".m.sqm.tmp-x-0", ".m.sqm.tmp-" + d,
           "m.sqm.tmp-" + d + "-0"}) {
    write_bytes(dir.path() / name, {1, 2, 3});
  }
  auto removed = sq::io::remove_stale_temporaries(target);
  std::sort(removed.begin(), removed.end());
  BOOST_TEST(removed ==
             (std::vector<fs::path>{dir.path() / (".m.sqm.tmp-" + d + "-0"),
                                    dir.path() / (".m.sqm.tmp-" + d + "-17")}));
  std::size_t left = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    (void)e;
    ++left;
  }
  BOOST_TEST(left == 6u);
  // A directory that does not exist holds nothing to remove.
  BOOST_TEST(
      sq::io::remove_stale_temporaries(dir.path() / "no" / "m.sqm").empty());
}
