// Every compiled SIMD target of the loss family against the scalar references
// in src/kernels/loss.cc (computed in double): odd shapes, misaligned
// pointers, logits far outside exp's range, and every optional output.
#define BOOST_TEST_MODULE loss
#include <algorithm>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "hwy_targets.hpp"
#include "sequent/kernels/loss.hpp"

namespace {

namespace kernels = sequent::kernels;

// rows × cols of logits: odd column counts exercise the vector tails.
const std::pair<std::size_t, std::size_t> kShapes[] = {
    {0, 10}, {1, 1}, {3, 17}, {7, 33}, {32, 10}, {5, 1000}, {3, 10'007}};
const std::size_t kSizes[] = {0, 1, 3, 17, 33, 1000, 100'003};

// n floats starting one float past a 16-byte-aligned allocation.
class MisalignedBuffer {
 public:
  explicit MisalignedBuffer(std::size_t n) : storage_(n + 1) {}
  float* data() { return storage_.data() + 1; }
  float& operator[](std::size_t i) { return data()[i]; }

 private:
  std::vector<float> storage_;
};

void FillUniform(float* x, std::size_t n, float low, float high,
                 std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(low, high);
  for (std::size_t i = 0; i < n; ++i) x[i] = dist(rng);
}

// Random logits with the first row shifted by +1000 and the second by −1000:
// exp overflows or vanishes there unless the row max is subtracted first.
void FillLogits(float* logits, std::size_t rows, std::size_t cols,
                std::uint32_t seed) {
  FillUniform(logits, rows * cols, -10.0f, 10.0f, seed);
  for (std::size_t c = 0; rows >= 3 && c < cols; ++c) {
    logits[0 * cols + c] += 1000.0f;
    logits[1 * cols + c] -= 1000.0f;
  }
}

std::vector<std::int32_t> RandomLabels(std::size_t rows, std::size_t cols,
                                       std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::int32_t> dist(
      0, static_cast<std::int32_t>(cols) - 1);
  std::vector<std::int32_t> labels(rows);
  for (auto& label : labels) label = dist(rng);
  return labels;
}

// Checks |actual − expected| ≤ tolerance(i) everywhere and reports the first
// failure only.
template <class Tolerance>
void ExpectClose(const float* actual, const float* expected, std::size_t n,
                 const std::string& what, const Tolerance& tolerance) {
  for (std::size_t i = 0; i < n; ++i) {
    const double error = std::abs(double{actual[i]} - expected[i]);
    if (!(error <= tolerance(i))) {  // also catches NaN
      BOOST_ERROR(what << ": element " << i << " is " << actual[i]
                       << ", expected " << expected[i] << " (tolerance "
                       << tolerance(i) << ")");
      return;
    }
  }
}

std::string ShapeName(const char* what, std::size_t rows, std::size_t cols) {
  return std::string(what) + " " + std::to_string(rows) + "x" +
         std::to_string(cols);
}

// Tolerances, from measured worst cases over every target (see the report):
// Highway's Exp is within ~2.4e-7 relative of double exp; the float
// difference x − max rounds by up to half an ulp of itself, which exp turns
// into a relative error of |x − max|·2^-24; and a row's sum of exps is
// accumulated in float over cols/lanes additions per lane.
double RowLossTolerance(std::size_t cols) { return 2e-6 + 2e-9 * cols; }

// Absolute tolerance for each softmax probability of logits rows×cols whose
// exact value is expected_probs.
std::vector<double> ProbabilityTolerances(const float* logits,
                                          const std::vector<float>& probs,
                                          std::size_t rows, std::size_t cols) {
  std::vector<double> tolerances(rows * cols);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* x = logits + r * cols;
    const float max = *std::max_element(x, x + cols);
    for (std::size_t c = 0; c < cols; ++c) {
      const double relative =
          4e-7 + 1e-9 * double(cols) + 6e-8 * (double{max} - x[c]);
      tolerances[r * cols + c] = relative * probs[r * cols + c] + 1e-37;
    }
  }
  return tolerances;
}

// The SIMD loss for one set of optional outputs, compared in full.
struct CrossEntropyOutputs {
  double loss;
  std::vector<float> probs;
  std::vector<float> dlogits;
};

void ExpectCrossEntropyClose(const CrossEntropyOutputs& actual,
                             const CrossEntropyOutputs& expected,
                             const float* logits, std::size_t rows,
                             std::size_t cols, float grad_scale,
                             double targets_sum, const std::string& what) {
  BOOST_TEST(std::abs(actual.loss - expected.loss) <=
                 rows * targets_sum * RowLossTolerance(cols),
             what << ": loss " << actual.loss << " vs " << expected.loss);
  const std::vector<double> probs_tolerance =
      ProbabilityTolerances(logits, expected.probs, rows, cols);
  if (!actual.probs.empty()) {
    ExpectClose(actual.probs.data(), expected.probs.data(), rows * cols,
                what + " probs",
                [&](std::size_t i) { return probs_tolerance[i]; });
  }
  if (!actual.dlogits.empty()) {
    // (p·Σt − t)·scale: the error of p, plus the rounding of p·Σt − t (with
    // or without FMA), which is relative to Σt rather than to the result.
    ExpectClose(actual.dlogits.data(), expected.dlogits.data(), rows * cols,
                what + " dlogits", [&](std::size_t i) {
                  return (probs_tolerance[i] + 3e-7) * targets_sum *
                         std::abs(grad_scale);
                });
  }
}

// Runs `loss(probs, dlogits)` with each combination of the optional outputs
// (into misaligned buffers) and returns the results with empty vectors for
// the outputs that were null.
template <class Loss>
std::vector<CrossEntropyOutputs> EveryOutputCombination(std::size_t n,
                                                        const Loss& loss) {
  std::vector<CrossEntropyOutputs> results;
  for (const bool with_probs : {true, false}) {
    for (const bool with_dlogits : {true, false}) {
      MisalignedBuffer probs(n), dlogits(n);
      const double value = loss(with_probs ? probs.data() : nullptr,
                                with_dlogits ? dlogits.data() : nullptr);
      CrossEntropyOutputs out{value, {}, {}};
      if (with_probs) out.probs.assign(probs.data(), probs.data() + n);
      if (with_dlogits) out.dlogits.assign(dlogits.data(), dlogits.data() + n);
      results.push_back(std::move(out));
    }
  }
  return results;
}

}  // namespace

// The references themselves, against values worked out by hand:
// logits (1, 2, 3): Σ e^x = e + e² + e³ = 30.19287485, logsumexp = 3.40760596.
BOOST_AUTO_TEST_CASE(references_match_hand_computed_values) {
  const float logits[] = {1.0f, 2.0f, 3.0f};
  const std::int32_t label = 2;
  float probs[3], dlogits[3];
  const double loss = kernels::SparseSoftmaxCrossEntropyReference(
      logits, &label, 1, 3, 0.5f, probs, dlogits);
  BOOST_TEST(loss == 0.40760596444, boost::test_tools::tolerance(1e-9));
  const double expected_probs[] = {0.09003057317, 0.24472847105, 0.66524095577};
  for (int c = 0; c < 3; ++c) {
    BOOST_TEST(probs[c] == expected_probs[c],
               boost::test_tools::tolerance(1e-6));
  }
  BOOST_TEST(dlogits[2] == (0.66524095577 - 1.0) * 0.5,
             boost::test_tools::tolerance(1e-6));
  // Soft targets (0.25, 0.25, 0.5): Σ t·(lse − x) = 3.40760596 − 2.25.
  const float targets[] = {0.25f, 0.25f, 0.5f};
  BOOST_TEST(
      kernels::SoftmaxCrossEntropyReference(logits, targets, 1, 3, 1.0f,
                                            nullptr, nullptr) == 1.15760596444,
      boost::test_tools::tolerance(1e-9));
  // Far outside float exp's range the loss is still exact.
  const float wrong_and_sure[] = {0.0f, 1000.0f};
  const std::int32_t first = 0;
  BOOST_TEST(kernels::SparseSoftmaxCrossEntropyReference(wrong_and_sure, &first,
                                                         1, 2, 1.0f, nullptr,
                                                         nullptr) == 1000.0);
  // Squared and absolute errors of (1, −2) against (0.5, 0).
  const float pred[] = {1.0f, -2.0f}, target[] = {0.5f, 0.0f};
  float dpred[2];
  BOOST_TEST(kernels::SquaredErrorReference(pred, target, 2, 0.5f, dpred) ==
             4.25);
  BOOST_TEST(dpred[0] == 0.5f);   // 2·0.5·0.5
  BOOST_TEST(dpred[1] == -2.0f);  // 2·(−2)·0.5
  BOOST_TEST(kernels::AbsoluteErrorReference(pred, target, 2, 0.5f, dpred) ==
             2.5);
  BOOST_TEST(dpred[0] == 0.5f);
  BOOST_TEST(dpred[1] == -0.5f);
}

BOOST_DATA_TEST_CASE(sparse_softmax_cross_entropy_matches_reference,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  for (const auto [rows, cols] : kShapes) {
    const std::size_t n = rows * cols;
    MisalignedBuffer logits(n);
    FillLogits(logits.data(), rows, cols, 11 + n);
    const std::vector<std::int32_t> labels = RandomLabels(rows, cols, 12 + n);
    const float grad_scale = rows > 0 ? 1.0f / rows : 1.0f;

    CrossEntropyOutputs expected{0.0, std::vector<float>(n),
                                 std::vector<float>(n)};
    expected.loss = kernels::SparseSoftmaxCrossEntropyReference(
        logits.data(), labels.data(), rows, cols, grad_scale,
        expected.probs.data(), expected.dlogits.data());
    const float* logits_data = logits.data();
    const auto results = EveryOutputCombination(n, [&](float* probs,
                                                       float* dlogits) {
      return kernels::SparseSoftmaxCrossEntropy(
          logits_data, labels.data(), rows, cols, grad_scale, probs, dlogits);
    });
    for (const auto& actual : results) {
      ExpectCrossEntropyClose(actual, expected, logits.data(), rows, cols,
                              grad_scale, 1.0, ShapeName("sparse", rows, cols));
    }
  }
}

BOOST_DATA_TEST_CASE(softmax_cross_entropy_matches_reference,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  for (const auto [rows, cols] : kShapes) {
    const std::size_t n = rows * cols;
    MisalignedBuffer logits(n), targets(n);
    FillLogits(logits.data(), rows, cols, 13 + n);
    // Soft targets summing to 2 per row, so Σt enters loss and gradient.
    FillUniform(targets.data(), n, 0.0f, 1.0f, 14 + n);
    for (std::size_t r = 0; r < rows; ++r) {
      double sum = 0.0;
      for (std::size_t c = 0; c < cols; ++c) sum += targets[r * cols + c];
      for (std::size_t c = 0; c < cols; ++c) {
        targets[r * cols + c] =
            static_cast<float>(targets[r * cols + c] * 2.0 / sum);
      }
    }
    const float grad_scale = 0.3f;

    CrossEntropyOutputs expected{0.0, std::vector<float>(n),
                                 std::vector<float>(n)};
    expected.loss = kernels::SoftmaxCrossEntropyReference(
        logits.data(), targets.data(), rows, cols, grad_scale,
        expected.probs.data(), expected.dlogits.data());
    const float* logits_data = logits.data();
    const float* targets_data = targets.data();
    const auto results =
        EveryOutputCombination(n, [&](float* probs, float* dlogits) {
          return kernels::SoftmaxCrossEntropy(logits_data, targets_data, rows,
                                              cols, grad_scale, probs, dlogits);
        });
    for (const auto& actual : results) {
      ExpectCrossEntropyClose(actual, expected, logits.data(), rows, cols,
                              grad_scale, 2.0, ShapeName("soft", rows, cols));
    }
  }
}

// With one-hot targets both cross-entropies describe the same loss.
BOOST_DATA_TEST_CASE(one_hot_targets_match_sparse_labels,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  constexpr std::size_t kRows = 32, kCols = 10;
  std::vector<float> logits(kRows * kCols), one_hot(kRows * kCols, 0.0f);
  FillLogits(logits.data(), kRows, kCols, 15);
  const std::vector<std::int32_t> labels = RandomLabels(kRows, kCols, 16);
  for (std::size_t r = 0; r < kRows; ++r) one_hot[r * kCols + labels[r]] = 1;
  std::vector<float> sparse_grad(kRows * kCols), dense_grad(kRows * kCols);
  const double sparse = kernels::SparseSoftmaxCrossEntropy(
      logits.data(), labels.data(), kRows, kCols, 1.0f / kRows, nullptr,
      sparse_grad.data());
  const double dense =
      kernels::SoftmaxCrossEntropy(logits.data(), one_hot.data(), kRows, kCols,
                                   1.0f / kRows, nullptr, dense_grad.data());
  BOOST_TEST(sparse == dense, boost::test_tools::tolerance(1e-6));
  // Equal up to the rounding of p − 1 (with or without FMA): ≤ 1 ulp of 1.
  ExpectClose(dense_grad.data(), sparse_grad.data(), kRows * kCols,
              "one-hot vs sparse", [](std::size_t) { return 1.2e-7 / kRows; });
}

// A confident right answer has a loss far below float's epsilon relative to
// the logits; it must come out tiny and non-negative, not 0 − rounding noise.
BOOST_DATA_TEST_CASE(confident_predictions_stay_accurate,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  const float logits[] = {0.0f, 30.0f, 1000.0f, 0.0f};
  const std::int32_t labels[] = {1, 1};
  float dlogits[4];
  const double loss = kernels::SparseSoftmaxCrossEntropy(
      logits, labels, 2, 2, 1.0f, nullptr, dlogits);
  // Row 0: log(1 + e^−30) ≈ 9.4e-14; row 1: 1000 + log(1 + e^−1000) = 1000.
  BOOST_TEST(loss >= 1000.0);
  BOOST_TEST(loss <= 1000.0 + 1e-6);
  BOOST_TEST(dlogits[0] == 9.357623e-14f, boost::test_tools::tolerance(1e-5f));
  BOOST_TEST(dlogits[2] == 1.0f);
  BOOST_TEST(dlogits[3] == -1.0f);
}

BOOST_DATA_TEST_CASE(elementwise_losses_match_reference,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  for (const std::size_t n : kSizes) {
    MisalignedBuffer pred(n), truth(n), dpred(n);
    FillUniform(pred.data(), n, -3.0f, 3.0f, 17 + n);
    FillUniform(truth.data(), n, -3.0f, 3.0f, 18 + n);
    for (std::size_t i = 0; i < n; i += 7) truth[i] = pred[i];  // zero diffs
    const float grad_scale = 0.25f;
    std::vector<float> expected_grad(n);
    const std::string size = " n=" + std::to_string(n);

    using Loss =
        double (*)(const float*, const float*, std::size_t, float, float*);
    const std::pair<Loss, Loss> pairs[] = {
        {kernels::SquaredError, kernels::SquaredErrorReference},
        {kernels::AbsoluteError, kernels::AbsoluteErrorReference}};
    for (const auto& [loss, reference] : pairs) {
      const std::string what =
          (loss == pairs[0].first ? "squared" : "absolute") + size;
      const double expected = reference(pred.data(), truth.data(), n,
                                        grad_scale, expected_grad.data());
      // Float blocks of 4096 summed in double: ≲ 1e-6 relative measured.
      const double tolerance = 1e-5 * expected;
      BOOST_TEST(std::abs(loss(pred.data(), truth.data(), n, grad_scale,
                               dpred.data()) -
                          expected) <= tolerance,
                 what);
      BOOST_TEST(
          std::abs(loss(pred.data(), truth.data(), n, grad_scale, nullptr) -
                   expected) <= tolerance,
          what << " without gradient");
      // Each gradient element is one correctly rounded operation: exact.
      ExpectClose(dpred.data(), expected_grad.data(), n, what + " gradient",
                  [](std::size_t) { return 0.0; });
    }
  }
}

BOOST_DATA_TEST_CASE(argmax_matches_reference_and_takes_first_of_ties,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  for (const auto [rows, cols] : kShapes) {
    const std::size_t n = rows * cols;
    MisalignedBuffer scores(n);
    FillUniform(scores.data(), n, -1.0f, 1.0f, 19 + n);
    // Ties for the maximum: in the first vector, across vectors, in the
    // tail, and a constant row (answer 0).
    if (rows >= 3 && cols >= 3) {
      for (std::size_t c = 0; c < cols; ++c) scores[2 * cols + c] = 0.5f;
      scores[0] = scores[cols - 1] = 2.0f;
      scores[cols + cols / 2] = scores[cols + cols - 1] = 3.0f;
    }
    std::vector<std::int32_t> expected(rows), actual(rows, -1);
    kernels::ArgMaxRowsReference(scores.data(), rows, cols, expected.data());
    kernels::ArgMaxRows(scores.data(), rows, cols, actual.data());
    BOOST_TEST(actual == expected, boost::test_tools::per_element());
    if (rows >= 3 && cols >= 3) {
      BOOST_TEST(actual[0] == 0);
      BOOST_TEST(actual[1] == static_cast<std::int32_t>(cols / 2));
      BOOST_TEST(actual[2] == 0);
    }
  }
}
