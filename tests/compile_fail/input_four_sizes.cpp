// Must not compile: an Input of four sizes (there is no batch dimension).
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<2, 8, 8, 1>, sq::Flatten, sq::Dense<2>>;
sq::Model<Net, sq::MeanSquaredError> model;
