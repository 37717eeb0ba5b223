// Must not compile: BatchNorm has no kernel for L2 to regularise (Keras
// puts kernel_regularizer on Dense and Conv2D only).
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<8, 8, 1>, sq::Conv2D<4, 3>,
                           sq::L2<0.01, sq::BatchNorm<>>, sq::ReLU, sq::Flatten,
                           sq::Dense<2>, sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
