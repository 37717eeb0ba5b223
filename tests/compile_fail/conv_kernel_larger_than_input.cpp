// Must not compile: a 5x5 kernel on a 4x4 image, Same padding.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<4, 4, 1>, sq::Conv2D<8, 5, sq::Same>,
                           sq::Flatten, sq::Dense<2>, sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
