// Must not compile: a cross-entropy after Sigmoid, where nothing pushes the
// other classes down: every output rises to 1 and the loss to 0 while the
// classes stay wrong.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<16>, sq::Dense<8>, sq::ReLU, sq::Dense<4>,
                           sq::Sigmoid>;
sq::Model<Net, sq::CategoricalCrossentropy> model;
