// Must not compile: the error names layer 2 and its input shape.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<4, 4, 2>, sq::ReLU, sq::Dropout<0.25>,
                           sq::Dense<10>, sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
