// Must not compile: categorical cross-entropy on a single output.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<4>, sq::Dense<1>>;
sq::Model<Net, sq::CategoricalCrossentropy> model;
