// Splitting element-wise work (activations, optimiser updates) over the
// OpenMP threads. Not per target: the bodies dispatch to the SIMD code.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstddef>

namespace sequent::kernels {

// Calls body(begin, end) over [0, n): once on this thread when n is below
// min_parallel, else once per OpenMP thread on contiguous chunks of whole
// 64-byte cache lines, so no two threads write the same line. Each element
// is computed by the same code whichever thread runs it, so results do not
// depend on the thread count.
template <class Body>
void ForEachChunk(std::size_t n, std::size_t min_parallel, const Body& body) {
  if (n < min_parallel) {
    body(std::size_t{0}, n);
    return;
  }
  constexpr std::size_t kFloatsPerLine = 16;
#pragma omp parallel
  {
    const auto threads = static_cast<std::size_t>(omp_get_num_threads());
    const auto thread = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t lines = (n + kFloatsPerLine - 1) / kFloatsPerLine;
    const std::size_t chunk = (lines + threads - 1) / threads * kFloatsPerLine;
    const std::size_t begin = std::min(n, thread * chunk);
    const std::size_t end = std::min(n, begin + chunk);
    if (begin < end) body(begin, end);
  }
}

}  // namespace sequent::kernels
