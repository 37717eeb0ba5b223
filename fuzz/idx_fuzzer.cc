// Any bytes as an IDX file (raw or gzip): read_idx must either return a
// consistent array or throw std::runtime_error — never crash or hang.
#include <cstdlib>
#include <sequent/data/idx.hpp>
#include <stdexcept>

#include "scratch_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const auto path = fuzz::write_scratch(data, size, "data.idx");
  try {
    const auto array = sequent::data::read_idx(path);
    std::size_t expected = 1;
    for (auto d : array.dims) expected *= d;
    if (array.values.size() != expected) std::abort();
  } catch (const std::runtime_error&) {
  }
  return 0;
}
