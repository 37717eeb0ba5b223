// Any bytes as a model file: parse_model_file (from memory) and
// read_model_file (through a file) must agree, and either throw
// ModelFileError or return a file whose every tensor holds exactly the
// values its shape announces. A file that parses is written back with
// write_model_file: a version-2 file must come back byte for byte.
//
// Random mutations almost never keep the CRC-32 and the payload length
// right, so each input is also tried a second time with both repaired: that
// way the fuzzer reaches the payload parser instead of stopping at the
// checksum.
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <sequent/io/model_file.hpp>
#include <vector>

#include "scratch_file.hpp"

namespace io = sequent::io;

namespace {

// Header: 8-byte magic, u32 version, u32 kind, u64 payload length; then the
// payload and a CRC-32 of everything before it (src/io/model_file.cc).
constexpr std::size_t kVersionAt = 8;
constexpr std::size_t kLengthAt = 16;
constexpr std::size_t kHeaderBytes = 24;
constexpr std::size_t kCrcBytes = 4;

// Bitwise, so that NaN values compare equal to themselves.
bool same_floats(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() ||
          std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

bool same(const io::ModelFile& a, const io::ModelFile& b) {
  if (a.kind != b.kind || a.fingerprint != b.fingerprint ||
      a.architecture != b.architecture || a.class_names != b.class_names ||
      a.tensors.size() != b.tensors.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    const io::TensorRecord &x = a.tensors[i], &y = b.tensors[i];
    if (x.layer != y.layer || x.name != y.name || x.shape != y.shape ||
        !same_floats(x.values, y.values)) {
      return false;
    }
  }
  const io::TrainingState &s = a.training, &t = b.training;
  return s.optimizer == t.optimizer && s.optimizer_step == t.optimizer_step &&
         same_floats(s.optimizer_state, t.optimizer_state) &&
         s.epochs_done == t.epochs_done && s.fit_seed == t.fit_seed &&
         s.train_steps == t.train_steps;
}

void check_one(const std::uint8_t* data, std::size_t size, const char* name) {
  std::optional<io::ModelFile> parsed;
  try {
    parsed = io::parse_model_file(data, size, "fuzz");
  } catch (const io::ModelFileError&) {
  }
  const auto path = fuzz::write_scratch(data, size, name);
  std::optional<io::ModelFile> read;
  try {
    read = io::read_model_file(path);
  } catch (const io::ModelFileError&) {
  }
  if (parsed.has_value() != read.has_value()) std::abort();
  if (!parsed) return;
  if (!same(*parsed, *read)) std::abort();
  for (const io::TensorRecord& t : parsed->tensors) {
    std::uint64_t count = 1;
    for (const std::uint32_t d : t.shape) count *= d;
    if (count != t.values.size()) std::abort();
  }
  // Written back: the same file again (a version 1 file becomes version 2).
  const auto copy = fuzz::scratch_path(std::string(name) + ".copy");
  io::write_model_file(copy, *parsed);
  std::ifstream in(copy, std::ios::binary);
  const std::vector<std::uint8_t> written(std::istreambuf_iterator<char>(in),
                                          {});
  std::uint32_t version;
  std::memcpy(&version, data + kVersionAt, sizeof version);
  if (version == io::kFormatVersion &&
      (written.size() != size ||
       std::memcmp(written.data(), data, size) != 0)) {
    std::abort();
  }
  if (!same(io::parse_model_file(written.data(), written.size(), "copy"),
            *parsed)) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  check_one(data, size, "model.sqm");
  if (size < kHeaderBytes + kCrcBytes) return 0;
  std::vector<std::uint8_t> fixed(data, data + size);
  const std::uint64_t payload = size - kHeaderBytes - kCrcBytes;
  std::memcpy(fixed.data() + kLengthAt, &payload, sizeof payload);
  const auto crc = static_cast<std::uint32_t>(
      crc32(0L, fixed.data(), static_cast<uInt>(size - kCrcBytes)));
  std::memcpy(fixed.data() + size - kCrcBytes, &crc, sizeof crc);
  check_one(fixed.data(), fixed.size(), "fixed.sqm");
  return 0;
}
