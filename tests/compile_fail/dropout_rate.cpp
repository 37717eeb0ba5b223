// Must not compile: a dropout rate of 1 drops everything.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<8>, sq::Dropout<1.0>, sq::Dense<2>>;
sq::Model<Net, sq::MeanSquaredError> model;
