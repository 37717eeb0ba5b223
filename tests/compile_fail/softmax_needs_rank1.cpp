// Must not compile: Softmax over an image-shaped tensor.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<4, 4, 2>, sq::ReLU, sq::Softmax>;
sq::Model<Net, sq::MeanSquaredError> model;
