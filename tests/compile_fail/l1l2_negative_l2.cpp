// Must not compile: a negative L2 factor in L1L2, which would reward large
// weights as a negative L1 factor would.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<8>, sq::Dense<8>,
                           sq::L1L2<0.01, -0.001, sq::Dense<4>>, sq::ReLU,
                           sq::Dense<2>, sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
