// Must not compile: something that is not a layer in the list.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<8>, int, sq::Dense<2>>;
sq::Model<Net, sq::MeanSquaredError> model;
