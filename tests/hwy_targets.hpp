// Runs a Boost.Test data case once per SIMD target compiled into the binary
// and supported by this CPU (scalar/EMU128, SSSE3, SSE4, AVX2, AVX-512 ...).
//
//   BOOST_DATA_TEST_CASE(gemm_matches_reference, sequent::test::targets(), t) {
//     sequent::test::TargetScope scope(t);
//     ... call the dispatched kernel, compare with the reference ...
//   }
#pragma once

#include <boost/test/data/monomorphic.hpp>
#include <cstdint>
#include <ostream>
#include <vector>

#include "hwy/targets.h"

namespace sequent::test {

// A target bit with a readable name in Boost.Test's output.
struct Target {
  std::int64_t bits;
};
inline std::ostream& operator<<(std::ostream& os, Target t) {
  return os << hwy::TargetName(t.bits);
}

inline std::vector<Target> target_list() {
  std::vector<Target> out;
  for (std::int64_t bits : hwy::SupportedAndGeneratedTargets()) {
    out.push_back({bits});
  }
  return out;
}
inline auto targets() { return boost::unit_test::data::make(target_list()); }

// While alive, HWY_DYNAMIC_DISPATCH calls go to `target` only.
class TargetScope {
 public:
  explicit TargetScope(Target t) { hwy::SetSupportedTargetsForTest(t.bits); }
  ~TargetScope() { hwy::SetSupportedTargetsForTest(0); }
  TargetScope(const TargetScope&) = delete;
  TargetScope& operator=(const TargetScope&) = delete;
};

}  // namespace sequent::test
