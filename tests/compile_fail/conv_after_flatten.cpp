// Must not compile: a convolution on a flattened vector.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<8, 8, 1>, sq::Flatten, sq::Conv2D<8, 3>,
                           sq::Flatten, sq::Dense<2>, sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
