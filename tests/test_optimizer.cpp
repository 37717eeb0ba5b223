// The optimiser updates and the kernel-penalty pass: the scalar references
// against values worked out by hand, then every compiled SIMD target against
// the references over odd sizes, misaligned pointers, several steps and every
// option.
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

struct RmsPropConfig {
  float momentum;
  bool centered;
};

using AdamFn = void (*)(float*, const float*, float*, float*, std::size_t,
                        float, float, float, float, float, std::int64_t);
using RmsPropFn = void (*)(float*, const float*, float*, float*, float*,
                           std::size_t, float, float, float, float, bool);

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

// AdamW and RMSprop on one element, gradients (0.5, −0.25, 1) from p = 1,
// lr = 0.1, worked out by hand (in double; the floats agree to 1e-6).
BOOST_DATA_TEST_CASE(adamw_and_rmsprop_match_hand_computed_values,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  const float grads[] = {0.5f, -0.25f, 1.0f};
  const AdamFn adamw_versions[] = {kernels::AdamWUpdateReference,
                                   kernels::AdamWUpdate};
  const RmsPropFn rmsprop_versions[] = {kernels::RmsPropUpdateReference,
                                        kernels::RmsPropUpdate};
  for (int version = 0; version < 2; ++version) {
    BOOST_TEST_CONTEXT((version == 0 ? "reference" : "dispatched")) {
      // AdamW, β = (0.9, 0.999), ε = 1e-8, weight decay 0.1. The moments
      // see the raw gradients, so they are Adam's (m = 0.118, v as floats
      // hold 1 − 0.999 gives it) and each step is Adam's step plus
      // lr·0.1·p: step 1 p = 1 − 0.1·(0.5/(0.5 + ε) + 0.1·1) = 0.89;
      // step 2 p = 0.89 − 0.0266337 (Adam's step) − 0.0089 = 0.8544663;
      // step 3 p = 0.8544663 − 0.0658112 − 0.0085447 = 0.7801105.
      const auto run_adamw = [&](float decay, int steps, float* m, float* v) {
        float p = 1.0f;
        *m = *v = 0.0f;
        for (int s = 0; s < steps; ++s) {
          adamw_versions[version](&p, &grads[s], m, v, 1, 0.1f, 0.9f, 0.999f,
                                  1e-8f, decay, s + 1);
        }
        return p;
      };
      float m = 0, v = 0;
      BOOST_TEST(run_adamw(0.1f, 1, &m, &v) == 0.89f, tt::tolerance(1e-6f));
      BOOST_TEST(run_adamw(0.1f, 2, &m, &v) == 0.8544663f,
                 tt::tolerance(1e-6f));
      BOOST_TEST(run_adamw(0.1f, 3, &m, &v) == 0.7801105f,
                 tt::tolerance(1e-6f));
      BOOST_TEST(m == 0.11800003f, tt::tolerance(1e-6f));
      BOOST_TEST(v == 1.31192087e-3f, tt::tolerance(1e-6f));
      // Without decay it is Adam.
      BOOST_TEST(run_adamw(0.0f, 3, &m, &v) == 0.8075551f,
                 tt::tolerance(1e-6f));

      // RMSprop, ρ = 0.9, ε = 1e-7. Keras' own example first: p = 10,
      // loss p²/2 so g = 10, lr = 0.1: s = 10, p = 10 − 1/√(10 + ε).
      const auto rmsprop = rmsprop_versions[version];
      {
        float p = 10.0f, g = 10.0f, s = 0.0f;
        rmsprop(&p, &g, &s, nullptr, nullptr, 1, 0.1f, 0.9f, 0.0f, 1e-7f,
                false);
        BOOST_TEST(p == 9.683772f, tt::tolerance(1e-6f));
        BOOST_TEST(s == 10.0f, tt::tolerance(1e-6f));
      }
      struct Buffers {
        float s = 0, b = 0, a = 0;
      };
      const auto run_rmsprop = [&](float momentum, bool centered, int steps,
                                   Buffers* state) {
        float p = 1.0f;
        *state = {};
        for (int k = 0; k < steps; ++k) {
          rmsprop(&p, &grads[k], &state->s,
                  momentum != 0.0f ? &state->b : nullptr,
                  centered ? &state->a : nullptr, 1, 0.1f, 0.9f, momentum,
                  1e-7f, centered);
        }
        return p;
      };
      Buffers state;
      // Plain: s = 0.025, 0.02875, 0.125875; steps 0.1·g/√(s + ε) =
      // 0.3162271, −0.1474417, 0.2818578.
      BOOST_TEST(run_rmsprop(0.0f, false, 3, &state) == 0.5493567f,
                 tt::tolerance(1e-6f));
      BOOST_TEST(state.s == 0.125875f, tt::tolerance(1e-6f));
      // Momentum 0.9: b = 0.3162271, 0.1371627, 0.4053043.
      BOOST_TEST(run_rmsprop(0.9f, false, 2, &state) == 0.5466101f,
                 tt::tolerance(1e-6f));
      BOOST_TEST(run_rmsprop(0.9f, false, 3, &state) == 0.1413059f,
                 tt::tolerance(1e-5f));
      BOOST_TEST(state.b == 0.4053043f, tt::tolerance(1e-6f));
      // Centered: a = 0.05, 0.02, 0.118, so the first step divides by
      // √(0.025 − 0.0025) and is 0.3333326.
      BOOST_TEST(run_rmsprop(0.0f, true, 1, &state) == 0.6666674f,
                 tt::tolerance(1e-6f));
      BOOST_TEST(run_rmsprop(0.0f, true, 3, &state) == 0.5162732f,
                 tt::tolerance(1e-6f));
      BOOST_TEST(state.a == 0.118f, tt::tolerance(1e-6f));
      // Centered with momentum: b = 0.3333326, 0.1515211, 0.4352414.
      BOOST_TEST(run_rmsprop(0.9f, true, 3, &state) == 0.07990486f,
                 tt::tolerance(1e-5f));
      BOOST_TEST(state.b == 0.4352414f, tt::tolerance(1e-6f));
    }
  }
}

BOOST_DATA_TEST_CASE(adamw_matches_reference, sequent::test::targets(),
                     target) {
  sequent::test::TargetScope scope(target);
  const AdamConfig configs[] = {{4e-3f, 1}, {1e-1f, 2}, {0.0f, 1000}};
  for (const std::size_t n : kSizes) {
    for (const AdamConfig& config : configs) {
      const std::string what = "adamw n=" + std::to_string(n) +
                               " decay=" + std::to_string(config.weight_decay) +
                               " step=" + std::to_string(config.first_step);
      MisalignedBuffer params(n), grads(n), m(n), v(n);
      FillUniform(params.data(), n, -1.0f, 1.0f, 51 + n);
      std::vector<float> expected_params = params.copy();
      std::vector<float> expected_m(n, 0.0f), expected_v(n, 0.0f);
      std::vector<float> params_magnitude = Absolute(params.copy());
      std::vector<float> m_magnitude(n, 0.0f), v_magnitude(n, 0.0f);
      for (std::int64_t step = config.first_step; step < config.first_step + 3;
           ++step) {
        // The decay is decoupled: the gradients stay as drawn (nothing can
        // cancel inside the moments), and p·(1 − lr·wd) − step rounds like
        // its terms, which the magnitude run bounds.
        FillGradients(grads.data(), n, 52 + n + step);
        kernels::AdamWUpdateReference(expected_params.data(), grads.data(),
                                      expected_m.data(), expected_v.data(), n,
                                      kLearningRate, 0.9f, 0.999f, 1e-7f,
                                      config.weight_decay, step);
        const std::vector<float> grads_magnitude = Absolute(grads.copy());
        kernels::AdamWUpdateReference(
            params_magnitude.data(), grads_magnitude.data(), m_magnitude.data(),
            v_magnitude.data(), n, -kLearningRate, 0.9f, 0.999f, 1e-7f,
            -config.weight_decay, step);
        kernels::AdamWUpdate(params.data(), grads.data(), m.data(), v.data(), n,
                             kLearningRate, 0.9f, 0.999f, 1e-7f,
                             config.weight_decay, step);
      }
      ExpectClose(params.copy(), expected_params, params_magnitude,
                  what + " params");
      ExpectClose(m.copy(), expected_m, m_magnitude, what + " first moment");
      ExpectClose(v.copy(), expected_v, v_magnitude, what + " second moment");
    }
  }
}

BOOST_DATA_TEST_CASE(rmsprop_matches_reference, sequent::test::targets(),
                     target) {
  sequent::test::TargetScope scope(target);
  const RmsPropConfig configs[] = {
      {0.0f, false}, {0.9f, false}, {0.0f, true}, {0.9f, true}};
  for (const std::size_t n : kSizes) {
    for (const RmsPropConfig& config : configs) {
      const std::string what = "rmsprop n=" + std::to_string(n) +
                               " momentum=" + std::to_string(config.momentum) +
                               (config.centered ? " centered" : "");
      const bool with_momentum = config.momentum != 0.0f;
      MisalignedBuffer params(n), grads(n), s(n), b(n), a(n);
      FillUniform(params.data(), n, -1.0f, 1.0f, 61 + n);
      std::vector<float> expected_params = params.copy();
      std::vector<float> expected_s(n, 0.0f), expected_b(n, 0.0f),
          expected_a(n, 0.0f);
      std::vector<float> params_magnitude = Absolute(params.copy());
      std::vector<float> s_magnitude(n, 0.0f), b_magnitude(n, 0.0f),
          a_magnitude(n, 0.0f);
      for (int step = 0; step < 3; ++step) {
        FillGradients(grads.data(), n, 62 + n + step);
        kernels::RmsPropUpdateReference(
            expected_params.data(), grads.data(), expected_s.data(),
            expected_b.data(), expected_a.data(), n, kLearningRate, 0.9f,
            config.momentum, 1e-7f, config.centered);
        // On |g| the centred mean gradient only grows, so the variance
        // shrinks and every step is at least as large as the real one.
        const std::vector<float> grads_magnitude = Absolute(grads.copy());
        kernels::RmsPropUpdateReference(
            params_magnitude.data(), grads_magnitude.data(), s_magnitude.data(),
            b_magnitude.data(), a_magnitude.data(), n, -kLearningRate, 0.9f,
            config.momentum, 1e-7f, config.centered);
        // Unused slots must not be needed (nor touched).
        kernels::RmsPropUpdate(params.data(), grads.data(), s.data(),
                               with_momentum ? b.data() : nullptr,
                               config.centered ? a.data() : nullptr, n,
                               kLearningRate, 0.9f, config.momentum, 1e-7f,
                               config.centered);
      }
      ExpectClose(params.copy(), expected_params, params_magnitude,
                  what + " params");
      ExpectClose(s.copy(), expected_s, s_magnitude, what + " mean square");
      if (with_momentum) {
        // The buffer accumulates the −lr steps of the magnitude run.
        ExpectClose(b.copy(), expected_b, Absolute(b_magnitude),
                    what + " momentum");
      }
      if (config.centered) {
        ExpectClose(a.copy(), expected_a, a_magnitude, what + " mean grad");
      }
    }
  }
}

namespace {

// Ranges at odd offsets and of odd sizes in one misaligned buffer, with a gap
// between them that the pass must not touch; the large one spans more than
// one round of blocks and is split over threads. L2 alone, L1 alone, both,
// and neither.
std::vector<kernels::PenaltyRange> PenaltyRanges() {
  return {{3, 1000, 0.0f, 1e-2f},        {1005, 17, 0.3f, 0.5f},
          {1030, 0, 1.0f, 1.0f},         {1031, 1, 2e-3f, 3e-4f},
          {1100, 150'003, 1e-5f, 1e-4f}, {151'200, 33, 0.0f, 0.0f},
          {151'240, 41, 1e-3f, 0.0f}};
}
constexpr std::size_t kPenaltyBuffer = 151'300;

}  // namespace

// By hand: l2 = 0.5 on w = (1, −2, 3), l1 = 0.25 and l2 = 0.1 on w = (4, 0),
// l1 = 2 on w = (−0.5, −0): penalty 0.5·14 + 0.25·4 + 0.1·16 + 2·0.5 =
// 10.6; gradients 2·l2·w + l1·sign(w) (sign 0 at 0 and at −0) added to ones.
BOOST_DATA_TEST_CASE(penalty_matches_hand_computed_values,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  const kernels::PenaltyRange ranges[] = {
      {0, 3, 0.0f, 0.5f}, {4, 2, 0.25f, 0.1f}, {6, 2, 2.0f, 0.0f}};
  for (const auto penalty :
       {kernels::KernelPenaltyReference, kernels::KernelPenalty}) {
    const float params[] = {1.0f, -2.0f, 3.0f,  100.0f,
                            4.0f, 0.0f,  -0.5f, -0.0f};
    float grads[] = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
    BOOST_TEST(penalty(params, grads, ranges, 3) == 10.6, tt::tolerance(1e-6));
    const float expected[] = {2.0f,  -1.0f, 4.0f,  1.0f,
                              2.05f, 1.0f,  -1.0f, 1.0f};
    for (int i = 0; i < 8; ++i) {
      BOOST_TEST(grads[i] == expected[i], tt::tolerance(1e-6f));
    }
    BOOST_TEST(penalty(params, nullptr, ranges, 3) == 10.6,
               tt::tolerance(1e-6));
    BOOST_TEST(penalty(params, grads, ranges, 0) == 0.0);
  }
}

BOOST_DATA_TEST_CASE(penalty_matches_reference, sequent::test::targets(),
                     target) {
  sequent::test::TargetScope scope(target);
  const std::vector<kernels::PenaltyRange> ranges = PenaltyRanges();
  MisalignedBuffer params(kPenaltyBuffer), grads(kPenaltyBuffer);
  FillUniform(params.data(), kPenaltyBuffer, -1.0f, 1.0f, 71);
  // Some exact zeros of both signs, whose L1 subgradient is 0.
  for (std::size_t i = 1005; i < kPenaltyBuffer; i += 97) {
    params.data()[i] = (i / 97) % 2 == 0 ? 0.0f : -0.0f;
  }
  FillGradients(grads.data(), kPenaltyBuffer, 72);
  std::vector<float> expected = grads.copy();
  const double expected_penalty = kernels::KernelPenaltyReference(
      params.data(), expected.data(), ranges.data(), ranges.size());
  const std::vector<float> before = grads.copy();
  const double penalty = kernels::KernelPenalty(params.data(), grads.data(),
                                                ranges.data(), ranges.size());
  // Sums of positive terms in float blocks of 1024: at most ~256 rounding
  // steps per accumulator on a one-lane target, 1.5e-5 relative.
  BOOST_TEST(penalty == expected_penalty, tt::tolerance(2e-5));
  // Each gradient is at most an FMA and an add of the same terms.
  std::vector<float> magnitude = Absolute(before);
  kernels::KernelPenaltyReference(Absolute(params.copy()).data(),
                                  magnitude.data(), ranges.data(),
                                  ranges.size());
  ExpectClose(grads.copy(), expected, magnitude, "penalty gradients");
  // Outside the ranges (and in the all-zero one) nothing moved, bit for
  // bit; neither did the gradients of exact zeros under L1 alone.
  const std::vector<float> after = grads.copy();
  std::vector<bool> covered(kPenaltyBuffer, false);
  for (const auto& r : ranges) {
    if (r.l1 == 0.0f && r.l2 == 0.0f) continue;
    for (std::size_t i = r.offset; i < r.offset + r.count; ++i) {
      covered[i] = !(r.l2 == 0.0f && params.data()[i] == 0.0f);
    }
  }
  std::size_t untouched = 0;
  for (std::size_t i = 0; i < kPenaltyBuffer; ++i) {
    if (!covered[i]) {
      BOOST_TEST(after[i] == before[i], "element " << i);
      ++untouched;
    }
  }
  BOOST_TEST(untouched > 100u);
  // Without gradients: the same penalty, bit for bit.
  BOOST_TEST(kernels::KernelPenalty(params.data(), nullptr, ranges.data(),
                                    ranges.size()) == penalty);
}

// L1 alone on weights of both signs: the gradient moves by exactly ±l1
// (one add), the penalty is l1·Σ |w|.
BOOST_DATA_TEST_CASE(l1_gradient_is_the_sign, sequent::test::targets(),
                     target) {
  sequent::test::TargetScope scope(target);
  constexpr std::size_t kCount = 45;  // whole vectors and a tail
  MisalignedBuffer params(kCount), grads(kCount);
  double sum = 0.0;
  for (std::size_t i = 0; i < kCount; ++i) {
    params.data()[i] = (i % 3 == 0 ? -1.0f : 1.0f) * (0.25f + i);
    grads.data()[i] = 0.5f;
    sum += 0.25 + i;
  }
  const kernels::PenaltyRange range{0, kCount, 0.125f, 0.0f};
  BOOST_TEST(kernels::KernelPenalty(params.data(), grads.data(), &range, 1) ==
                 0.125 * sum,
             tt::tolerance(1e-6));
  for (std::size_t i = 0; i < kCount; ++i) {
    BOOST_TEST(grads.data()[i] == (i % 3 == 0 ? 0.375f : 0.625f),
               "element " << i);
  }
}

// AdamW, RMSprop and the penalty pass split large buffers over threads; the
// split must not change a bit, the penalty (a reduction) included.
BOOST_AUTO_TEST_CASE(new_updates_do_not_depend_on_thread_count) {
  constexpr std::size_t kCount = 300'001;
  std::vector<float> initial(kCount), grads(kCount);
  FillUniform(initial.data(), kCount, -1.0f, 1.0f, 81);
  FillGradients(grads.data(), kCount, 82);
  const std::vector<kernels::PenaltyRange> ranges = {
      {5, 250'000, 1e-4f, 1e-3f}, {250'100, 49'000, 0.0f, 2e-2f}};
  const int max_threads = omp_get_max_threads();
  std::vector<float> results[2];
  double penalties[2];
  for (const int threads : {1, std::max(2, max_threads)}) {
    omp_set_num_threads(threads);
    std::vector<float> params = initial, g = grads, m(kCount, 0.1f),
                       v(kCount, 0.2f), s(kCount, 0.3f), b(kCount, 0.4f),
                       a(kCount, 0.01f);
    const int slot = threads == 1 ? 0 : 1;
    penalties[slot] = kernels::KernelPenalty(params.data(), g.data(),
                                             ranges.data(), ranges.size());
    kernels::AdamWUpdate(params.data(), g.data(), m.data(), v.data(), kCount,
                         1e-3f, 0.9f, 0.999f, 1e-7f, 4e-3f, 5);
    kernels::RmsPropUpdate(params.data(), g.data(), s.data(), b.data(),
                           a.data(), kCount, 1e-3f, 0.9f, 0.9f, 1e-7f, true);
    results[slot] = params;
  }
  omp_set_num_threads(max_threads);
  BOOST_TEST(results[0] == results[1]);
  BOOST_TEST(penalties[0] == penalties[1]);
}
