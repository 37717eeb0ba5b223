// Must not compile: a Dense layer of zero units.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<8>, sq::Dense<0>, sq::Dense<2>>;
sq::Model<Net, sq::MeanSquaredError> model;
