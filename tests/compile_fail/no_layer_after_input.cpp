// Must not compile: a Sequential that is only its Input.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<4>>;
sq::Model<Net, sq::MeanSquaredError> model;
