// Must not compile: a cross-entropy on raw Dense outputs, which it would
// read as probabilities (clipped, with a loss falling to 0 while the
// classes stay wrong) — the PyTorch habit of CrossEntropyLoss on logits.
#include <sequent/sequent.hpp>
namespace sq = sequent;
using Net = sq::Sequential<sq::Input<28, 28, 1>, sq::Flatten, sq::Dense<128>,
                           sq::ReLU, sq::Dense<10>>;
sq::Model<Net, sq::SparseCategoricalCrossentropy> model;
