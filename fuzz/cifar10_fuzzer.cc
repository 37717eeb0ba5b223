// Any bytes as a CIFAR-10 batch file: a Dataset of whole records, or a
// std::runtime_error.
#include <cstdlib>
#include <sequent/data/cifar10.hpp>
#include <stdexcept>

#include "scratch_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const auto path = fuzz::write_scratch(data, size, "batch.bin");
  try {
    const auto d = sequent::data::load_cifar10_batches(
        {path}, sequent::data::cifar10_classes());
    if (d.size() * 3073 != size) std::abort();
  } catch (const std::runtime_error&) {
  }
  return 0;
}
