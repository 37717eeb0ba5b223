// Must not compile: the list does not start with Input.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Flatten, sq::Dense<10>, sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
