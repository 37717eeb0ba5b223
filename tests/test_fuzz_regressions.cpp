// Inputs the fuzzers (fuzz/) found a problem with, each kept as a test that
// runs in the ordinary suite and under ./sequent.sh sanitize. A test names
// the fuzzer, what it reported and what the fix was.
#define BOOST_TEST_MODULE fuzz_regressions
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sequent/io/model_file.hpp>
#include <string>
#include <vector>

#include "temp_dir.hpp"

namespace io = sequent::io;
namespace fs = std::filesystem;

namespace {

using sequent::test::TempDir;

std::vector<std::uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

// model_file_fuzzer, UBSan: "null pointer passed as argument 1, which is
// declared to never be null" in the reader's floats(), on the SGD
// checkpoint seed. An empty float array (SGD keeps no optimiser state; a
// tensor may have a zero-sized dimension) was read with memcpy into an
// empty vector's data(), which is null. Fixed by not copying 0 bytes.
BOOST_AUTO_TEST_CASE(empty_float_arrays_read_back) {
  TempDir dir;
  io::ModelFile file{
      io::FileKind::kCheckpoint, 42, "Input<2>, Dense<0>", {}, {}, {}};
  file.tensors.push_back({0, "kernel", {2, 0}, {}});
  file.tensors.push_back({0, "bias", {0}, {}});
  file.tensors.push_back({1, "scale", {}, {0.5f}});  // rank 0: one value
  file.training = {"SGD", 3, {}, 2, 7, 3};
  const fs::path path = dir.path() / "sgd.sqm";
  io::write_model_file(path, file);

  const auto bytes = read_bytes(path);
  for (const io::ModelFile& back :
       {io::read_model_file(path),
        io::parse_model_file(bytes.data(), bytes.size(), "sgd.sqm")}) {
    BOOST_TEST(back.architecture == file.architecture);
    BOOST_REQUIRE_EQUAL(back.tensors.size(), 3u);
    BOOST_TEST(back.tensors[0].shape == file.tensors[0].shape);
    BOOST_TEST(back.tensors[0].values.empty());
    BOOST_TEST(back.tensors[1].values.empty());
    BOOST_TEST(back.tensors[2].values == std::vector<float>{0.5f});
    BOOST_TEST(back.training.optimizer == "SGD");
    BOOST_TEST(back.training.optimizer_state.empty());
    BOOST_TEST(back.training.train_steps == 3u);
  }
}
