// Must not compile: a 5x1 kernel, Valid padding, on a 4x8 image: it fits
// the width but not the height.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<4, 8, 1>, sq::ReLU, sq::Conv2D<4, {5, 1}>,
                           sq::Flatten, sq::Dense<2>, sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
