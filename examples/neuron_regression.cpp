// The smallest network there is: one Dense<1> neuron, trained on generated
// data to learn multiplication by a constant (y = 3·x) and addition
// (y = a + b). Prints the learned weights beside the true ones.
#include <cmath>
#include <cstdio>
#include <sequent/sequent.hpp>
#include <vector>

namespace sq = sequent;

// n samples of `inputs` values uniform in [-1, 1], target = Σ w_i x_i + b.
sq::data::FloatDataset make_linear_data(std::size_t n,
                                        const std::vector<float>& w, float b,
                                        std::uint64_t seed) {
  sq::Rng rng(seed);
  std::vector<float> x(n * w.size()), y(n);
  for (std::size_t i = 0; i < n; ++i) {
    float target = b;
    for (std::size_t j = 0; j < w.size(); ++j) {
      x[i * w.size() + j] = rng.uniform(-1.0f, 1.0f);
      target += w[j] * x[i * w.size() + j];
    }
    y[i] = target;
  }
  return {std::move(x), w.size(), std::move(y), 1};
}

template <class Model>
void report(const char* title, Model& model, const std::vector<float>& w,
            float b) {
  const auto weights = model.get_weights(0);  // {kernel, bias}
  std::printf("%s\n", title);
  for (std::size_t j = 0; j < w.size(); ++j) {
    std::printf("  w%zu: learned %.4f   true %.4f\n", j, weights[0][j], w[j]);
  }
  std::printf("  b : learned %.4f   true %.4f\n", weights[1][0], b);
}

int main() {
  const sq::FloatFitOptions options{
      .epochs = 40, .batch_size = 16, .verbose = sq::Verbosity::kSilent};

  // Multiplication: y = 3·x.
  using Scale = sq::Sequential<sq::Input<1>, sq::Dense<1>>;
  sq::Model<Scale, sq::MeanSquaredError> multiply{sq::Seed{1}};
  std::puts(multiply.summary().c_str());
  const auto h1 = multiply.fit(make_linear_data(1000, {3.0f}, 0.0f, 11),
                               sq::SGD{.lr = 0.1f}, options);
  std::printf("final loss %.2e\n", h1.last().loss);
  report("y = 3*x", multiply, {3.0f}, 0.0f);
  const auto y = multiply.predict(std::vector<float>{2.5f});
  std::printf("  3 * 2.5 = %.4f\n\n", y[0]);

  // Addition: y = a + b.
  using Sum = sq::Sequential<sq::Input<2>, sq::Dense<1>>;
  sq::Model<Sum, sq::MeanSquaredError> add{sq::Seed{2}};
  const auto h2 = add.fit(make_linear_data(1000, {1.0f, 1.0f}, 0.0f, 12),
                          sq::SGD{.lr = 0.1f}, options);
  std::printf("final loss %.2e\n", h2.last().loss);
  report("y = a + b", add, {1.0f, 1.0f}, 0.0f);
  const auto s = add.predict(std::vector<float>{1.25f, 2.5f});
  std::printf("  1.25 + 2.5 = %.4f\n", s[0]);
  return 0;
}
