// Must not compile: adapt() on a model whose first layer is not a
// Normalization, which has no statistics to set.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net =
    sq::Sequential<sq::Input<4, 4, 3>, sq::Rescaling<2.0, -1.0>,
                   sq::Normalization<>, sq::Flatten, sq::Dense<2>, sq::Softmax>;
void adapt(sq::Model<Net, sq::SparseCategoricalCrossentropy>& model,
           const sq::data::Dataset& data) {
  model.adapt(data);
}
