// The optimiser updates: the scalar references against values worked out by
// hand, then every compiled SIMD target against the references over odd
// sizes, misaligned pointers, several steps and every option.
#define BOOST_TEST_MODULE optimizer
#include <omp.h>

#include <algorithm>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "hwy_targets.hpp"
#include "sequent/kernels/optimizer.hpp"

namespace {

namespace kernels = sequent::kernels;
namespace tt = boost::test_tools;

// Odd sizes exercise the vector tails; 101'770 is the MLP's parameter count
// and, like 300'001, is above the size at which the updates use threads.
const std::size_t kSizes[] = {0, 1, 3, 17, 33, 1000, 100'003, 101'770, 300'001};

// n floats starting one float past a 16-byte-aligned allocation.
class MisalignedBuffer {
 public:
  explicit MisalignedBuffer(std::size_t n, float value = 0.0f)
      : storage_(n + 1, value) {}
  float* data() { return storage_.data() + 1; }
  std::vector<float> copy() const {
    return {storage_.begin() + 1, storage_.end()};
  }

 private:
  std::vector<float> storage_;
};

void FillUniform(float* x, std::size_t n, float low, float high,
                 std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(low, high);
  for (std::size_t i = 0; i < n; ++i) x[i] = dist(rng);
}

// Gradients spanning six decades, so Adam's ε and SGD's weight decay matter
// for some elements and not for others.
void FillGradients(float* g, std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> sign_and_size(-1.0f, 1.0f);
  std::uniform_real_distribution<float> decades(-6.0f, 0.0f);
  for (std::size_t i = 0; i < n; ++i) {
    g[i] = sign_and_size(rng) * std::pow(10.0f, decades(rng));
  }
}

// Checks |actual − expected| ≤ kRelative·magnitude everywhere and reports
// the first failure only.
//
// SIMD and reference differ only in rounding (FMA on some targets, Adam's
// bias corrections folded into two float scalars), but the updates cancel:
// v·momentum + g, g + decay·p and p − lr·step can all be far smaller than
// their terms. A rounding error is bounded by a few ulp of the sum of the
// terms' absolute values, so `magnitude` is the same update run on absolute
// values with lr negated (p + lr·|step|), and the bound is ~16 ulp of it.
constexpr double kRelative = 1e-6;
void ExpectClose(const std::vector<float>& actual,
                 const std::vector<float>& expected,
                 const std::vector<float>& magnitude, const std::string& what) {
  BOOST_REQUIRE_EQUAL(actual.size(), expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double error = std::abs(double{actual[i]} - expected[i]);
    const double tolerance = kRelative * magnitude[i] + 1e-37;
    if (!(error <= tolerance)) {  // also catches NaN
      BOOST_ERROR(what << ": element " << i << " is " << actual[i]
                       << ", expected " << expected[i] << " (tolerance "
                       << tolerance << ")");
      return;
    }
  }
}

std::vector<float> Absolute(std::vector<float> values) {
  for (float& value : values) value = std::abs(value);
  return values;
}

constexpr float kLearningRate = 0.05f;

struct SgdConfig {
  float momentum;
  bool nesterov;
  float weight_decay;
};

struct AdamConfig {
  float weight_decay;
  std::int64_t first_step;
};

}  // namespace

// One element, three steps of gradients (0.5, −0.25, 1) from p = 1 with
// lr = 0.1, worked out by hand, for both the references and the dispatched
// kernels of every target.
BOOST_DATA_TEST_CASE(updates_match_hand_computed_values,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  const float grads[] = {0.5f, -0.25f, 1.0f};
  using Sgd = void (*)(float*, const float*, float*, std::size_t, float, float,
                       bool, float);
  using Adam = void (*)(float*, const float*, float*, float*, std::size_t,
                        float, float, float, float, float, std::int64_t);
  const Sgd sgd_versions[] = {kernels::SgdUpdateReference, kernels::SgdUpdate};
  const Adam adam_versions[] = {kernels::AdamUpdateReference,
                                kernels::AdamUpdate};
  for (int version = 0; version < 2; ++version) {
    const Sgd sgd = sgd_versions[version];
    const Adam adam = adam_versions[version];
    BOOST_TEST_CONTEXT((version == 0 ? "reference" : "dispatched")) {
      const auto run_sgd = [&](float momentum, bool nesterov, float decay,
                               int steps) {
        float p = 1.0f, velocity = 0.0f;
        for (int s = 0; s < steps; ++s) {
          sgd(&p, &grads[s], &velocity, 1, 0.1f, momentum, nesterov, decay);
        }
        return p;
      };
      // Plain: 1 − 0.1·(0.5 − 0.25 + 1).
      BOOST_TEST(run_sgd(0, false, 0, 3) == 0.875f, tt::tolerance(1e-6f));
      // Weight decay 0.1: g = 0.5 + 0.1·1 = 0.6, so p = 1 − 0.06.
      BOOST_TEST(run_sgd(0, false, 0.1f, 1) == 0.94f, tt::tolerance(1e-6f));
      // Momentum 0.9: v = 0.5, 0.2, 1.18; p = 0.95, 0.93, 0.812.
      BOOST_TEST(run_sgd(0.9f, false, 0, 2) == 0.93f, tt::tolerance(1e-6f));
      BOOST_TEST(run_sgd(0.9f, false, 0, 3) == 0.812f, tt::tolerance(1e-6f));
      // Nesterov: steps g + 0.9·v = 0.95, −0.07, 2.062; p = 0.905, 0.912,
      // 0.7058.
      BOOST_TEST(run_sgd(0.9f, true, 0, 2) == 0.912f, tt::tolerance(1e-6f));
      BOOST_TEST(run_sgd(0.9f, true, 0, 3) == 0.7058f, tt::tolerance(1e-6f));

      // Adam, β = (0.9, 0.999), ε = 1e-8. Step 1: m̂ = g, v̂ = g², so
      // p = 1 − 0.1·0.5/(0.5 + ε). Step 2: m = 0.02, v = 3.1225e-4,
      // m̂ = 0.02/0.19, v̂ = 3.1225e-4/1.999e-3, p = 0.87336630. The moments
      // are checked with β as floats hold them: 1 − 0.999f = 0.99998713e-3,
      // which moves v by 1.3e-5 relative (and p, through v/(1 − β2^t), by
      // far less).
      const auto run_adam = [&](float decay, int steps, float* m, float* v) {
        float p = 1.0f;
        *m = *v = 0.0f;
        for (int s = 0; s < steps; ++s) {
          adam(&p, &grads[s], m, v, 1, 0.1f, 0.9f, 0.999f, 1e-8f, decay, s + 1);
        }
        return p;
      };
      float m = 0, v = 0;
      BOOST_TEST(run_adam(0, 1, &m, &v) == 0.9f, tt::tolerance(1e-6f));
      BOOST_TEST(run_adam(0, 2, &m, &v) == 0.8733663f, tt::tolerance(1e-6f));
      BOOST_TEST(run_adam(0, 3, &m, &v) == 0.8075551f, tt::tolerance(1e-6f));
      BOOST_TEST(m == 0.11800003f, tt::tolerance(1e-6f));
      BOOST_TEST(v == 1.31192087e-3f, tt::tolerance(1e-6f));
      // Weight decay 0.1 enters the gradient before both moments.
      BOOST_TEST(run_adam(0.1f, 3, &m, &v) == 0.7815044f, tt::tolerance(1e-6f));
      BOOST_TEST(m == 0.14274445f, tt::tolerance(1e-6f));
      BOOST_TEST(v == 1.56302362e-3f, tt::tolerance(1e-6f));
    }
  }
}

BOOST_DATA_TEST_CASE(sgd_matches_reference, sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  const SgdConfig configs[] = {{0.0f, false, 0.0f},
                               {0.0f, false, 1e-2f},
                               {0.9f, false, 0.0f},
                               {0.9f, true, 0.0f},
                               {0.9f, true, 1e-2f}};
  for (const std::size_t n : kSizes) {
    for (const SgdConfig& config : configs) {
      const std::string what = "sgd n=" + std::to_string(n) +
                               " momentum=" + std::to_string(config.momentum) +
                               (config.nesterov ? " nesterov" : "") +
                               " decay=" + std::to_string(config.weight_decay);
      MisalignedBuffer params(n), grads(n), velocity(n);
      FillUniform(params.data(), n, -1.0f, 1.0f, 21 + n);
      std::vector<float> expected_params = params.copy();
      std::vector<float> expected_velocity(n, 0.0f);
      std::vector<float> params_magnitude = Absolute(params.copy());
      std::vector<float> velocity_magnitude(n, 0.0f);
      const bool uses_velocity = config.momentum != 0.0f;
      for (int step = 0; step < 3; ++step) {
        FillGradients(grads.data(), n, 22 + n + step);
        kernels::SgdUpdateReference(expected_params.data(), grads.data(),
                                    expected_velocity.data(), n, kLearningRate,
                                    config.momentum, config.nesterov,
                                    config.weight_decay);
        const std::vector<float> grads_magnitude = Absolute(grads.copy());
        kernels::SgdUpdateReference(
            params_magnitude.data(), grads_magnitude.data(),
            velocity_magnitude.data(), n, -kLearningRate, config.momentum,
            config.nesterov, config.weight_decay);
        // Plain SGD must not need (or touch) a velocity buffer.
        kernels::SgdUpdate(params.data(), grads.data(),
                           uses_velocity ? velocity.data() : nullptr, n,
                           kLearningRate, config.momentum, config.nesterov,
                           config.weight_decay);
      }
      ExpectClose(params.copy(), expected_params, params_magnitude,
                  what + " params");
      if (uses_velocity) {
        ExpectClose(velocity.copy(), expected_velocity, velocity_magnitude,
                    what + " velocity");
      }
    }
  }
}

BOOST_DATA_TEST_CASE(adam_matches_reference, sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  // Early steps, where the bias corrections are large, and a late one.
  const AdamConfig configs[] = {{0.0f, 1}, {1e-2f, 1}, {0.0f, 1000}};
  for (const std::size_t n : kSizes) {
    for (const AdamConfig& config : configs) {
      const std::string what = "adam n=" + std::to_string(n) +
                               " decay=" + std::to_string(config.weight_decay) +
                               " step=" + std::to_string(config.first_step);
      MisalignedBuffer params(n), grads(n), m(n), v(n);
      FillUniform(params.data(), n, -1.0f, 1.0f, 31 + n);
      std::vector<float> expected_params = params.copy();
      std::vector<float> expected_m(n, 0.0f), expected_v(n, 0.0f);
      std::vector<float> params_magnitude = Absolute(params.copy());
      std::vector<float> m_magnitude(n, 0.0f), v_magnitude(n, 0.0f);
      for (std::int64_t step = config.first_step; step < config.first_step + 3;
           ++step) {
        FillGradients(grads.data(), n, 32 + n + step);
        // Adam divides by √v, so it does not shrink a rounding error of
        // g + decay·p when g nearly cancels decay·p: the update's relative
        // error becomes ulp(decay·p)/|g + decay·p|, unbounded. Such elements
        // are ill-conditioned for any implementation, so with decay the
        // gradients take p's sign and the test checks the formula instead.
        for (std::size_t i = 0; config.weight_decay != 0.0f && i < n; ++i) {
          grads.data()[i] = std::copysign(grads.data()[i], expected_params[i]);
        }
        kernels::AdamUpdateReference(expected_params.data(), grads.data(),
                                     expected_m.data(), expected_v.data(), n,
                                     kLearningRate, 0.9f, 0.999f, 1e-8f,
                                     config.weight_decay, step);
        const std::vector<float> grads_magnitude = Absolute(grads.copy());
        kernels::AdamUpdateReference(
            params_magnitude.data(), grads_magnitude.data(), m_magnitude.data(),
            v_magnitude.data(), n, -kLearningRate, 0.9f, 0.999f, 1e-8f,
            config.weight_decay, step);
        kernels::AdamUpdate(params.data(), grads.data(), m.data(), v.data(), n,
                            kLearningRate, 0.9f, 0.999f, 1e-8f,
                            config.weight_decay, step);
      }
      ExpectClose(params.copy(), expected_params, params_magnitude,
                  what + " params");
      ExpectClose(m.copy(), expected_m, m_magnitude, what + " first moment");
      ExpectClose(v.copy(), expected_v, v_magnitude, what + " second moment");
    }
  }
}

// Large buffers are split over threads; the split must not change a bit.
BOOST_AUTO_TEST_CASE(results_do_not_depend_on_thread_count) {
  constexpr std::size_t kCount = 300'001;
  std::vector<float> initial(kCount), grads(kCount);
  FillUniform(initial.data(), kCount, -1.0f, 1.0f, 41);
  FillGradients(grads.data(), kCount, 42);
  const int max_threads = omp_get_max_threads();
  std::vector<float> results[2];
  for (const int threads : {1, std::max(2, max_threads)}) {
    omp_set_num_threads(threads);
    std::vector<float> params = initial, m(kCount, 0.1f), v(kCount, 0.2f),
                       velocity(kCount, 0.3f);
    kernels::AdamUpdate(params.data(), grads.data(), m.data(), v.data(), kCount,
                        1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f, 5);
    kernels::SgdUpdate(params.data(), grads.data(), velocity.data(), kCount,
                       1e-2f, 0.9f, true, 1e-4f);
    results[threads == 1 ? 0 : 1] = params;
  }
  omp_set_num_threads(max_threads);
  BOOST_TEST(results[0] == results[1]);
}
