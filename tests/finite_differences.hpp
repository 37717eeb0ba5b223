// The whole-model gradient check: central differences of a loss against the
// gradient one SGD step with lr = 1 (no momentum) took, before − after.
// Include after <boost/test/unit_test.hpp>, in a Boost.Test program.
#pragma once

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstddef>
#include <vector>

namespace sequent::test {

// Checks every third parameter whose magnitude is at least `min_magnitude`
// (an L1 penalty has a kink at 0 that a difference straddling it would
// see) and returns how many were checked. `loss` reads the model's current
// parameters, which this restores to `before` first.
template <class M, class LossFunction>
std::size_t check_step_against_differences(M& model,
                                           const std::vector<float>& before,
                                           const std::vector<float>& after,
                                           const LossFunction& loss,
                                           float min_magnitude = 0.0f) {
  auto params = model.parameters();
  std::copy(before.begin(), before.end(), params.begin());
  const float h = 5e-3f;
  std::size_t checked = 0;
  for (std::size_t i = 0; i < params.size(); i += 3) {
    const float saved = params[i];
    if (std::fabs(saved) < min_magnitude) continue;
    params[i] = saved + h;
    const double up = loss();
    params[i] = saved - h;
    const double down = loss();
    params[i] = saved;
    const double numeric = (up - down) / (2.0 * h);
    const double analytic = double(before[i]) - after[i];
    BOOST_TEST(
        std::fabs(analytic - numeric) <= 2e-3 + 2e-2 * std::fabs(numeric),
        "parameter " << i << ": backward " << analytic << ", finite difference "
                     << numeric);
    ++checked;
  }
  return checked;
}

}  // namespace sequent::test
