// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
// big-endian magic 0x0000 TT DD (TT = 0x08 for unsigned bytes, DD = number of
// dimensions), DD big-endian uint32 sizes, then the data. Files may be gzip
// compressed (detected by content, not by name).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sequent/data/dataset.hpp"

namespace sequent::data {

struct IdxArray {
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> values;  // product(dims) bytes
};

// Reads an unsigned-byte IDX file, gzip or raw. Throws std::runtime_error
// naming the file for: missing/unreadable file, corrupt gzip stream, wrong
// magic or data type, a dimension of 0, data shorter or longer than the header
// says.
IdxArray read_idx(const std::filesystem::path& path);

// An images file (N×H×W or N×H×W×C) and a labels file (N): checks that the
// counts agree and every label is < class_names.size(), naming both files.
Dataset load_idx(const std::filesystem::path& images,
                 const std::filesystem::path& labels,
                 std::vector<std::string> class_names);

}  // namespace sequent::data
