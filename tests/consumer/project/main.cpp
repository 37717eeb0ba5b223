// Defines a typed model against the installed headers and trains it briefly.
#include <cstdio>
#include <iostream>
#include <sequent/sequent.hpp>
#include <vector>

namespace sq = sequent;

using Net = sq::Sequential<sq::Input<4>, sq::Dense<8>, sq::ReLU, sq::Dense<2>,
                           sq::Softmax>;  // 4·8+8 + 8·2+2 = 58 parameters

int main() {
  sq::Model<Net, sq::SparseCategoricalCrossentropy> model{sq::Seed{1}};
  std::cout << model.summary();
  std::vector<float> x{0.1f, 0.2f, 0.3f, 0.4f, 0.9f, 0.8f, 0.7f, 0.6f};
  std::vector<std::int32_t> y{0, 1};
  sq::StepResult r{};
  for (int i = 0; i < 20; ++i) r = model.train_step({x, y, {}, 2}, sq::Adam{});
  std::printf("trained: loss %.4f accuracy %.2f\n", r.loss, r.accuracy);
  return 0;
}
