// Must not compile: a second Input inside the list.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<8>, sq::Dense<4>, sq::Input<4>,
                           sq::Dense<2>, sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
