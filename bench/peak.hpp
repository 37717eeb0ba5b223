// The machine's FP32 fused-multiply-add peak, measured rather than looked up:
// every benchmark reports its GFLOP/s as a fraction of this figure.
#pragma once

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace sequent::bench {
namespace peak_detail {

// Each kernel runs `iterations` rounds of kChains independent FMA chains and
// returns the FLOPs done. An FMA has ~4 cycles of latency on 2 ports, so at
// least 8 chains are needed to saturate them; 12 leave margin.
constexpr int kChains = 12;

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx512f"))) inline double FmaAvx512(
    std::int64_t iterations, float* sink) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  for (std::int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = _mm512_add_ps(sum, acc[i]);
  *sink = _mm512_reduce_add_ps(sum);
  return 2.0 * 16 * kChains * static_cast<double>(iterations);
}

__attribute__((target("avx2,fma"))) inline double FmaAvx2(
    std::int64_t iterations, float* sink) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(0.001f * i);
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  for (std::int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  }
  alignas(32) float lanes[8];
  __m256 sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = _mm256_add_ps(sum, acc[i]);
  _mm256_store_ps(lanes, sum);
  *sink = lanes[0];
  return 2.0 * 8 * kChains * static_cast<double>(iterations);
}
#endif

// Portable fallback: scalar multiply-adds (what the compiler makes of them).
inline double FmaScalar(std::int64_t iterations, float* sink) {
  float acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = 0.001f * i;
  for (std::int64_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < kChains; ++i) acc[i] = acc[i] * 0.999999f + 1e-7f;
  }
  *sink = acc[0];
  return 2.0 * kChains * static_cast<double>(iterations);
}

inline double RunWidestFma(std::int64_t iterations, float* sink) {
#if defined(__x86_64__) || defined(__i386__)
  if (__builtin_cpu_supports("avx512f")) return FmaAvx512(iterations, sink);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return FmaAvx2(iterations, sink);
  }
#endif
  return FmaScalar(iterations, sink);
}

}  // namespace peak_detail

// GFLOP/s of `threads` threads each running independent FMA chains on the
// widest vectors the CPU has; best of ten ~30 ms runs, because other
// processes may share the cores.
inline double measure_fma_peak_gflops(int threads) {
  constexpr std::int64_t kIterations = 8'000'000;  // ~30 ms at 1 FMA/cycle
  constexpr int kRuns = 10;
  double best = 0.0;
  for (int run = 0; run < kRuns; ++run) {
    double flops = 0.0;
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
    {
      float sink;
      flops += peak_detail::RunWidestFma(kIterations, &sink);
      // Keep the chains alive without printing anything.
      if (sink == 12345.0f) flops += 1.0;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    best = std::max(best, flops / seconds * 1e-9);
  }
  return best;
}

}  // namespace sequent::bench
