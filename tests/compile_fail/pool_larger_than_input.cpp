// Must not compile: pooling a 1x1 map with a 2x2 window.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<2, 2, 1>, sq::MaxPool2D<2>,
                           sq::MaxPool2D<2>, sq::Flatten, sq::Dense<2>,
                           sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
