// Must not compile: a 1x5 kernel, Valid padding, on an 8x4 image: it fits
// the height but not the width.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<8, 4, 1>, sq::Conv2D<4, {1, 5}>,
                           sq::Flatten, sq::Dense<2>, sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
