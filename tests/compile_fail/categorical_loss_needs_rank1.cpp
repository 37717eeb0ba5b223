// Must not compile: categorical cross-entropy on an image-shaped output.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<8, 8, 3>, sq::Conv2D<4, 3, sq::Same>>;
sq::Model<Net, sq::CategoricalCrossentropy> model;
