// Must not compile: an Input without any size.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<>, sq::Dense<2>>;
sq::Model<Net, sq::MeanSquaredError> model;
