// Seeded uniform test values, the same on every standard library (drawn
// with sequent's own generator).
#pragma once

#include <cstddef>
#include <cstdint>
#include <sequent/random.hpp>
#include <vector>

namespace sequent::test {

// n values uniform in [lo, hi).
inline std::vector<float> random_vector(std::size_t n, std::uint64_t seed,
                                        float lo = -1.0f, float hi = 1.0f) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = rng.uniform(lo, hi);
  return v;
}

}  // namespace sequent::test
