// Must not compile: a LeakyReLU whose negative slope is below 0.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<4>, sq::Dense<8>, sq::LeakyReLU<-0.1>,
                           sq::Dense<2>>;
sq::Model<Net, sq::MeanSquaredError> model;
