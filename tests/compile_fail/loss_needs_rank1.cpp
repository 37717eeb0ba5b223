// Must not compile: sparse cross-entropy on an image-shaped output.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<8, 8, 3>, sq::ReLU>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
