// Must not compile: a convolution with a stride of 0.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<8, 8, 1>, sq::Conv2D<8, 3, sq::Same, 0>,
                           sq::Flatten, sq::Dense<2>, sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
