// Must not compile: Softmax over one value is the constant 1.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<4>, sq::Dense<1>, sq::Softmax>;
sq::Model<Net, sq::MeanSquaredError> model;
