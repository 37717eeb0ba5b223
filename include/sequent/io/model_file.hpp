// The model file: a versioned little-endian binary that records the
// architecture (a compile-time fingerprint and a readable description), each
// tensor with its layer, name and shape, optionally the training state of a
// checkpoint, and a CRC-32 of everything before it.
//
//   "SQNTMODL"  magic, 8 bytes
//   u32         format version (kFormatVersion)
//   u32         kind: 0 weights, 1 checkpoint
//   u64         payload bytes that follow, up to the CRC
//   payload:    u64 fingerprint, str architecture,
//               u32 class-name count, str names[count]    (version 2 on)
//               u32 tensor count, then per tensor: u32 layer, str name,
//                 u32 rank, u32 dims[rank], f32 values[product(dims)]
//               checkpoint only: str optimizer, i64 optimizer step,
//                 u64 state count, f32 state[count], i32 epochs done,
//                 u64 fit seed, u64 training steps
//   u32         CRC-32 (zlib) of all the bytes before it
// (str = u32 length + bytes)
//
// Version 1 (no class names) is still read; version 2 is written.
//
// Files are written atomically: a temporary file in the same directory,
// ".NAME.tmp-PID-N", flushed to disk, then renamed over the target, so a
// crash or a full disk during a save leaves the previous file intact. A
// process killed mid-save leaves its temporary behind; the next save to
// the same target removes the temporaries of processes no longer running.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace sequent::io {

inline constexpr std::uint32_t kFormatVersion = 2;
// The oldest version read_model_file still reads.
inline constexpr std::uint32_t kOldestFormatVersion = 1;

enum class FileKind : std::uint32_t { kWeights = 0, kCheckpoint = 1 };

struct TensorRecord {
  std::uint32_t layer = 0;
  std::string name;
  std::vector<std::uint32_t> shape;
  std::vector<float> values;
};

// What a checkpoint adds to the weights: enough to resume fit exactly.
struct TrainingState {
  std::string optimizer;  // the optimiser's name, e.g. "Adam"
  std::int64_t optimizer_step = 0;
  std::vector<float> optimizer_state;
  std::int32_t epochs_done = 0;
  std::uint64_t fit_seed = 0;
  std::uint64_t train_steps = 0;
};

struct ModelFile {
  FileKind kind = FileKind::kWeights;
  std::uint64_t fingerprint = 0;
  std::string architecture;
  // One name per output class, or none (unknown, or a version 1 file).
  std::vector<std::string> class_names;
  std::vector<TensorRecord> tensors;
  TrainingState training;  // kCheckpoint only
};

// Every problem with a model file: names the file and what was wrong.
class ModelFileError : public std::runtime_error {
 public:
  explicit ModelFileError(const std::string& what) : std::runtime_error(what) {}
};

// Serialises and writes atomically. Throws ModelFileError (naming the file
// and the system's reason) if it cannot; the target is then untouched.
void write_model_file(const std::filesystem::path& path, const ModelFile& file);

// Reads and validates: magic, version, length, CRC-32, and every size
// against the bytes present. Throws ModelFileError otherwise.
ModelFile read_model_file(const std::filesystem::path& path);

// The same checks on bytes already in memory; `name` appears in errors.
ModelFile parse_model_file(const std::uint8_t* data, std::size_t size,
                           const std::string& name);

// Removes the temporaries that saves to `path` left behind when their
// process died mid-save (named by write_model_file, owned by a process id
// that is no longer running on this machine); a save in progress in a live
// process keeps its file. Returns the paths removed. write_model_file calls
// it before each save.
std::vector<std::filesystem::path> remove_stale_temporaries(
    const std::filesystem::path& path);

namespace testing {
// Where write_model_file can be interrupted, for tests that kill a save
// halfway: after the first part of the bytes went to the temporary file,
// and after the whole temporary file is on disk but before the rename.
enum class SaveStage { kPartlyWritten, kWrittenNotRenamed };
using SaveHook = void (*)(SaveStage stage,
                          const std::filesystem::path& temporary);
// Called at each stage when set (null, the default, costs one load and
// test per stage); returns the previous hook.
SaveHook set_save_hook(SaveHook hook);
}  // namespace testing

}  // namespace sequent::io
