// Must not compile: Dense straight after an image Input.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<28, 28, 1>, sq::Dense<128>, sq::ReLU,
                           sq::Dense<10>, sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
