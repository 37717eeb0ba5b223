// Must not compile: one layer under two L2 wrappers (add the factors).
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net =
    sq::Sequential<sq::Input<8>, sq::L2<0.1, sq::L2<0.01, sq::Dense<4>>>,
                   sq::Dense<2>, sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
