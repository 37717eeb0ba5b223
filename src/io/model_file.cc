// Reading and writing model files (format in model_file.hpp).
#include "sequent/io/model_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "regular_file.h"

namespace sequent::io {
namespace {

constexpr char kMagic[8] = {'S', 'Q', 'N', 'T', 'M', 'O', 'D', 'L'};
constexpr std::size_t kHeaderBytes = 8 + 4 + 4 + 8;
constexpr std::size_t kCrcBytes = 4;

class Writer {
 public:
  void bytes(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  // The format is little-endian, like every machine sequent targets.
  template <class T>
  void scalar(T v) {
    static_assert(std::endian::native == std::endian::little);
    bytes(&v, sizeof v);
  }
  void str(const std::string& s) {
    scalar(static_cast<std::uint32_t>(s.size()));
    bytes(s.data(), s.size());
  }
  void floats(const std::vector<float>& v) {
    bytes(v.data(), v.size() * sizeof(float));
  }
  std::vector<std::uint8_t>& data() { return out_; }

 private:
  std::vector<std::uint8_t> out_;
};

// A bounds-checked cursor: every read names what it was reading when the
// bytes run out, so a truncated or forged file gives a precise error.
class Reader {
 public:
  Reader(const std::uint8_t* p, std::size_t n, const std::string& name)
      : p_(p), end_(p + n), name_(name) {}
  void need(std::size_t n, const char* what) const {
    if (static_cast<std::size_t>(end_ - p_) < n) {
      throw ModelFileError(name_ + ": corrupt model file: " + what + " needs " +
                           std::to_string(n) + " bytes, " +
                           std::to_string(end_ - p_) + " remain");
    }
  }
  template <class T>
  T scalar(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_, sizeof v);
    p_ += sizeof v;
    return v;
  }
  std::string str(const char* what) {
    const auto n = scalar<std::uint32_t>(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  std::vector<float> floats(std::uint64_t count, const char* what) {
    if (count > static_cast<std::uint64_t>(end_ - p_) / sizeof(float)) {
      need(SIZE_MAX, what);  // throws with the sizes
    }
    std::vector<float> v(count);
    // An empty vector's data() may be null, and memcpy from or to null is
    // undefined even for 0 bytes (an SGD checkpoint keeps no state).
    if (count != 0) std::memcpy(v.data(), p_, count * sizeof(float));
    p_ += count * sizeof(float);
    return v;
  }
  std::size_t remaining() const { return end_ - p_; }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
  const std::string& name_;
};

std::string system_error(const std::string& what,
                         const std::filesystem::path& path) {
  return what + " " + path.string() + ": " + std::strerror(errno);
}

std::atomic<testing::SaveHook> save_hook{nullptr};

void at_stage(testing::SaveStage stage, const std::filesystem::path& tmp) {
  if (const testing::SaveHook hook =
          save_hook.load(std::memory_order_relaxed)) {
    hook(stage, tmp);
  }
}

// ".NAME.tmp-": the start of every temporary written for NAME.
std::string temporary_prefix(const std::filesystem::path& path) {
  return "." + path.filename().string() + ".tmp-";
}

// The process id in a temporary's name ("PID-N" after the prefix), or 0 if
// the rest of the name is not that.
pid_t owner_of(const std::string& rest) {
  const std::size_t dash = rest.find('-');
  if (dash == 0 || dash == std::string::npos || dash + 1 == rest.size() ||
      dash > 9) {
    return 0;
  }
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (i != dash && (rest[i] < '0' || rest[i] > '9')) return 0;
  }
  return static_cast<pid_t>(std::stol(rest.substr(0, dash)));
}

}  // namespace

namespace testing {
SaveHook set_save_hook(SaveHook hook) { return save_hook.exchange(hook); }
}  // namespace testing

std::vector<std::filesystem::path> remove_stale_temporaries(
    const std::filesystem::path& path) {
  std::vector<std::filesystem::path> removed;
  const std::filesystem::path dir =
      path.has_parent_path() ? path.parent_path() : ".";
  const std::string prefix = temporary_prefix(path);
  std::error_code ec;
  // Best effort: a directory we cannot list holds nothing we can clean, and
  // the save that follows reports the real problem.
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const pid_t owner = owner_of(name.substr(prefix.size()));
    // Our own temporaries belong to a save in progress on another thread;
    // kill(pid, 0) fails with ESRCH only for a process that does not exist.
    if (owner <= 0 || owner == getpid()) continue;
    if (::kill(owner, 0) == 0 || errno != ESRCH) continue;
    std::error_code remove_ec;
    if (std::filesystem::remove(it->path(), remove_ec)) {
      removed.push_back(it->path());
    }
  }
  return removed;
}

void write_model_file(const std::filesystem::path& path, const ModelFile& f) {
  Writer payload;
  payload.scalar(f.fingerprint);
  payload.str(f.architecture);
  payload.scalar(static_cast<std::uint32_t>(f.class_names.size()));
  for (const std::string& c : f.class_names) payload.str(c);
  payload.scalar(static_cast<std::uint32_t>(f.tensors.size()));
  for (const TensorRecord& t : f.tensors) {
    payload.scalar(t.layer);
    payload.str(t.name);
    payload.scalar(static_cast<std::uint32_t>(t.shape.size()));
    for (std::uint32_t d : t.shape) payload.scalar(d);
    payload.floats(t.values);
  }
  if (f.kind == FileKind::kCheckpoint) {
    const TrainingState& s = f.training;
    payload.str(s.optimizer);
    payload.scalar(s.optimizer_step);
    payload.scalar(static_cast<std::uint64_t>(s.optimizer_state.size()));
    payload.floats(s.optimizer_state);
    payload.scalar(s.epochs_done);
    payload.scalar(s.fit_seed);
    payload.scalar(s.train_steps);
  }
  Writer file;
  file.bytes(kMagic, sizeof kMagic);
  file.scalar(kFormatVersion);
  file.scalar(static_cast<std::uint32_t>(f.kind));
  file.scalar(static_cast<std::uint64_t>(payload.data().size()));
  file.bytes(payload.data().data(), payload.data().size());
  const auto crc = static_cast<std::uint32_t>(
      crc32(0L, file.data().data(), static_cast<uInt>(file.data().size())));
  file.scalar(crc);

  // Temporary file beside the target (same file system, so rename is
  // atomic), flushed to the disk before it replaces the target.
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path dir =
      path.has_parent_path() ? path.parent_path() : ".";
  remove_stale_temporaries(path);
  const std::filesystem::path tmp =
      dir / (temporary_prefix(path) + std::to_string(getpid()) + "-" +
             std::to_string(counter++));
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::error_code exists_error;  // a path too long to stat is no reason
    throw ModelFileError(
        system_error("cannot save " + path.string() + ": cannot create", tmp) +
        (std::filesystem::exists(path, exists_error)
             ? " (the existing file is unchanged)"
             : ""));
  }
  const auto& bytes = file.data();
  // In parts of at most 1 MiB, so that a save can be interrupted halfway
  // (testing::SaveStage::kPartlyWritten) as a crash would interrupt it.
  constexpr std::size_t kPart = std::size_t{1} << 20;
  std::size_t written = 0;
  bool reported = false;
  while (written < bytes.size()) {
    if (written > 0 && !reported) {  // some bytes are there, not all
      reported = true;
      at_stage(testing::SaveStage::kPartlyWritten, tmp);
    }
    const ssize_t n = ::write(fd, bytes.data() + written,
                              std::min(kPart, bytes.size() - written));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string error = system_error("cannot write", tmp);
      ::close(fd);
      std::filesystem::remove(tmp);
      throw ModelFileError(error + " (" + path.string() + " is unchanged)");
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string error = system_error("cannot flush", tmp);
    std::filesystem::remove(tmp);
    throw ModelFileError(error + " (" + path.string() + " is unchanged)");
  }
  at_stage(testing::SaveStage::kWrittenNotRenamed, tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string error = system_error("cannot replace", path);
    std::filesystem::remove(tmp);
    throw ModelFileError(error);
  }
  // Make the rename itself durable.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

ModelFile parse_model_file(const std::uint8_t* data, std::size_t size,
                           const std::string& name) {
  if (size < sizeof kMagic || std::memcmp(data, kMagic, sizeof kMagic) != 0) {
    throw ModelFileError(name +
                         ": not a sequent model file (no SQNTMODL "
                         "magic at the start)");
  }
  if (size < kHeaderBytes + kCrcBytes) {
    throw ModelFileError(
        name + ": truncated model file: " + std::to_string(size) +
        " bytes is shorter than the " +
        std::to_string(kHeaderBytes + kCrcBytes) + "-byte header");
  }
  Reader header(data + sizeof kMagic, kHeaderBytes - sizeof kMagic, name);
  const auto version = header.scalar<std::uint32_t>("version");
  if (version < kOldestFormatVersion || version > kFormatVersion) {
    throw ModelFileError(name + ": unknown model file format version " +
                         std::to_string(version) +
                         " (this build reads "
                         "versions " +
                         std::to_string(kOldestFormatVersion) + " to " +
                         std::to_string(kFormatVersion) + ")");
  }
  const auto kind = header.scalar<std::uint32_t>("kind");
  if (kind > 1) {
    throw ModelFileError(name + ": unknown model file kind " +
                         std::to_string(kind));
  }
  const auto payload = header.scalar<std::uint64_t>("payload length");
  const std::uint64_t expected = kHeaderBytes + payload + kCrcBytes;
  if (payload > size || size != expected) {
    throw ModelFileError(name +
                         (size < expected ? ": truncated model file: "
                                          : ": corrupt "
                                            "model file: ") +
                         "the header announces " + std::to_string(expected) +
                         " bytes, the file has " + std::to_string(size));
  }
  std::uint32_t stored;
  std::memcpy(&stored, data + size - kCrcBytes, kCrcBytes);
  const auto actual = static_cast<std::uint32_t>(
      crc32(0L, data, static_cast<uInt>(size - kCrcBytes)));
  if (stored != actual) {
    char buf[96];
    std::snprintf(buf, sizeof buf,
                  ": corrupt model file: CRC-32 is %08x, the file says %08x",
                  actual, stored);
    throw ModelFileError(name + buf);
  }

  Reader r(data + kHeaderBytes, payload, name);
  ModelFile f;
  f.kind = static_cast<FileKind>(kind);
  f.fingerprint = r.scalar<std::uint64_t>("fingerprint");
  f.architecture = r.str("architecture");
  if (version >= 2) {
    // Each name takes at least its 4-byte length: a forged count cannot
    // make us reserve more than the file holds.
    const auto classes = r.scalar<std::uint32_t>("class-name count");
    r.need(std::size_t{classes} * 4, "class names");
    for (std::uint32_t c = 0; c < classes; ++c) {
      f.class_names.push_back(r.str("class name"));
    }
  }
  const auto count = r.scalar<std::uint32_t>("tensor count");
  for (std::uint32_t i = 0; i < count; ++i) {
    TensorRecord t;
    t.layer = r.scalar<std::uint32_t>("tensor layer");
    t.name = r.str("tensor name");
    const auto rank = r.scalar<std::uint32_t>("tensor rank");
    if (rank > 8) {
      throw ModelFileError(name + ": corrupt model file: tensor rank " +
                           std::to_string(rank));
    }
    std::uint64_t values = 1;
    for (std::uint32_t d = 0; d < rank; ++d) {
      t.shape.push_back(r.scalar<std::uint32_t>("tensor shape"));
      values *= t.shape.back();
      if (values > r.remaining()) values = r.remaining() + 1;  // no overflow
    }
    t.values = r.floats(values, "tensor values");
    f.tensors.push_back(std::move(t));
  }
  if (f.kind == FileKind::kCheckpoint) {
    TrainingState& s = f.training;
    s.optimizer = r.str("optimizer name");
    s.optimizer_step = r.scalar<std::int64_t>("optimizer step");
    s.optimizer_state =
        r.floats(r.scalar<std::uint64_t>("state count"), "optimizer state");
    s.epochs_done = r.scalar<std::int32_t>("epochs done");
    s.fit_seed = r.scalar<std::uint64_t>("fit seed");
    s.train_steps = r.scalar<std::uint64_t>("training steps");
  }
  if (r.remaining() != 0) {
    throw ModelFileError(
        name + ": corrupt model file: " + std::to_string(r.remaining()) +
        " unexplained bytes after the last record");
  }
  return f;
}

ModelFile read_model_file(const std::filesystem::path& path) {
  // A missing file is left to the open below, whose error says why.
  std::error_code error;
  if (const auto problem = detail::not_a_regular_file(path);
      problem && std::filesystem::exists(path, error)) {
    throw ModelFileError(path.string() + ": " + *problem);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelFileError(system_error("cannot open", path));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  constexpr std::streamoff kLimit = std::streamoff{4} << 30;
  if (size < 0 || size > kLimit) {
    throw ModelFileError(path.string() +
                         ": not a model file (unreadable size or over 4 GiB)");
  }
  in.seekg(0);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    throw ModelFileError(system_error("cannot read", path));
  }
  return parse_model_file(bytes.data(), bytes.size(), path.string());
}

}  // namespace sequent::io
