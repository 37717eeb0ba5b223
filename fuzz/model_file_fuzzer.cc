// Any bytes as a model file: parsed from memory, then loaded into a real
// model through the file path (fingerprint, tensor and shape checks). Either
// works or throws ModelFileError; a failed load leaves the weights alone.
#include <algorithm>
#include <cstdlib>
#include <sequent/sequent.hpp>

#include "scratch_file.hpp"

namespace sq = sequent;
using Net = sq::Sequential<sq::Input<4, 4, 1>, sq::Conv2D<2, 3, sq::Same>,
                           sq::BatchNorm<>, sq::ReLU, sq::Flatten,
                           sq::Dense<3>, sq::Softmax>;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  try {
    sq::io::parse_model_file(data, size, "fuzz");
  } catch (const sq::io::ModelFileError&) {
  }
  static sq::Model<Net, sq::SparseCategoricalCrossentropy> model{sq::Seed{1}};
  const std::vector<float> before(model.parameters().begin(),
                                  model.parameters().end());
  const auto path = fuzz::write_scratch(data, size, "model.sqm");
  try {
    model.load_weights(path);
    // Loaded: restore, so the next input is checked against the same weights.
    std::copy(before.begin(), before.end(), model.parameters().begin());
  } catch (const sq::io::ModelFileError&) {
    if (!std::equal(before.begin(), before.end(), model.parameters().begin())) {
      std::abort();  // a failed load changed the model
    }
  }
  return 0;
}
