// Must not compile: an Input with a zero size.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<0, 28, 1>, sq::Flatten, sq::Dense<2>>;
sq::Model<Net, sq::MeanSquaredError> model;
