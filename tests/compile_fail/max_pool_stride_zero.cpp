// Must not compile: a max-pool with a stride of 0.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<8, 8, 1>, sq::MaxPool2D<2, 0>, sq::Flatten,
                           sq::Dense<2>, sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
