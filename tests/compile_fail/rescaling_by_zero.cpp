// Must not compile: Rescaling by 0 sends every input to the same value.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<8>, sq::Rescaling<0.0, 1.0>, sq::Dense<2>,
                           sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
