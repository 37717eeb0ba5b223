// Must not compile: L1 wrapped around L2 (write L1L2<l1, l2, Layer>).
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net =
    sq::Sequential<sq::Input<8>, sq::L1<0.1, sq::L2<0.01, sq::Dense<4>>>,
                   sq::Dense<2>, sq::Softmax>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
