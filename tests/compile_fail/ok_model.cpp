// Control: a correct model that must compile.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<28, 28, 1>, sq::Flatten, sq::Dense<128>,
                           sq::ReLU, sq::Dropout<0.5>, sq::Dense<10>, sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
