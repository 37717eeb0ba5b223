// Must not compile: a negative L1 factor rewards large weights.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<8>, sq::L1<-0.01, sq::Dense<4>>, sq::ReLU,
                           sq::Dense<2>, sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
