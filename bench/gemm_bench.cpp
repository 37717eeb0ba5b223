// GEMM throughput against the measured FMA peak, for a large square product
// and for the small shapes of an MLP (784→128→10) training at batch 32.
// Prints `key: value` lines; asserts nothing. Timings are the best of many
// repetitions because other processes may share the cores.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "peak.hpp"
#include "sequent/kernels/gemm.hpp"

namespace {

using sequent::kernels::Activation;
using sequent::kernels::Epilogue;
using sequent::kernels::Transpose;

struct Shape {
  const char* name;
  Transpose trans_a, trans_b;
  std::size_t M, N, K;
  Activation activation;
  bool bias;
};

std::vector<float> RandomVector(std::size_t n) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Best seconds per call of `fn`: calls are grouped in batches of about
// `batch_seconds`, and the fastest batch's mean is kept.
template <class Fn>
double BestSecondsPerCall(Fn&& fn, double batch_seconds, int batches) {
  fn();  // warm caches, scratch buffers and the OpenMP team
  std::size_t calls = 1;
  for (;;) {  // size the batch
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < calls; ++i) fn();
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (s >= batch_seconds / 4 || calls >= (1u << 24)) break;
    calls *= 2;
  }
  calls *= 4;
  double best = 1e30;
  for (int b = 0; b < batches; ++b) {
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < calls; ++i) fn();
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    best = std::min(best, s / static_cast<double>(calls));
  }
  return best;
}

// Seconds per Gemm call of `shape` on `threads` threads.
double TimeGemm(const Shape& shape, int threads, double batch_seconds,
                int batches) {
  const bool ta = shape.trans_a == Transpose::kYes;
  const bool tb = shape.trans_b == Transpose::kYes;
  const std::size_t lda = ta ? shape.M : shape.K;
  const std::size_t ldb = tb ? shape.K : shape.N;
  const std::vector<float> a = RandomVector(shape.M * shape.K);
  const std::vector<float> b = RandomVector(shape.K * shape.N);
  const std::vector<float> bias = RandomVector(shape.N);
  std::vector<float> c(shape.M * shape.N);
  Epilogue epilogue;
  epilogue.activation = shape.activation;
  epilogue.bias = shape.bias ? bias.data() : nullptr;
  omp_set_num_threads(threads);
  return BestSecondsPerCall(
      [&] {
        sequent::kernels::Gemm(shape.trans_a, shape.trans_b, shape.M, shape.N,
                               shape.K, a.data(), lda, b.data(), ldb, c.data(),
                               shape.N, false, epilogue);
      },
      batch_seconds, batches);
}

double Gflops(const Shape& s, double seconds) {
  return 2.0 * s.M * s.N * s.K / seconds * 1e-9;
}

}  // namespace

int main() {
  const int threads = omp_get_max_threads();
  const double peak_one = sequent::bench::measure_fma_peak_gflops(1);
  const double peak_all = sequent::bench::measure_fma_peak_gflops(threads);
  std::printf("threads: %d\n", threads);
  std::printf("fma_peak_gflops_1_thread: %.1f\n", peak_one);
  std::printf("fma_peak_gflops: %.1f\n", peak_all);

  const Shape square{"gemm_1024", Transpose::kNo, Transpose::kNo,        1024,
                     1024,        1024,           Activation::kIdentity, false};
  const double square_seconds = TimeGemm(square, threads, 0.2, 10);
  const double square_gflops = Gflops(square, square_seconds);
  std::printf("gemm_1024_gflops: %.1f\n", square_gflops);
  std::printf("gemm_1024_peak_pct: %.1f\n", 100.0 * square_gflops / peak_all);
  const double square_one = Gflops(square, TimeGemm(square, 1, 0.2, 5));
  std::printf("gemm_1024_1_thread_gflops: %.1f\n", square_one);
  std::printf("gemm_1024_1_thread_peak_pct: %.1f\n",
              100.0 * square_one / peak_one);

  // One training step of a 784→128→10 MLP at batch 32, plus inference.
  const Shape mlp[] = {
      {"mlp_fwd1_32x128x784_bias_relu", Transpose::kNo, Transpose::kNo, 32, 128,
       784, Activation::kReLU, true},
      {"mlp_fwd2_32x10x128_bias", Transpose::kNo, Transpose::kNo, 32, 10, 128,
       Activation::kIdentity, true},
      {"mlp_dw1_784x128x32_ta", Transpose::kYes, Transpose::kNo, 784, 128, 32,
       Activation::kIdentity, false},
      {"mlp_dw2_128x10x32_ta", Transpose::kYes, Transpose::kNo, 128, 10, 32,
       Activation::kIdentity, false},
      {"mlp_dx2_32x128x10_tb", Transpose::kNo, Transpose::kYes, 32, 128, 10,
       Activation::kIdentity, false},
      {"mlp_infer1_1x128x784_bias_relu", Transpose::kNo, Transpose::kNo, 1, 128,
       784, Activation::kReLU, true},
      {"mlp_infer2_1x10x128_bias", Transpose::kNo, Transpose::kNo, 1, 10, 128,
       Activation::kIdentity, true},
  };
  for (const Shape& s : mlp) {
    for (int t : {1, threads}) {
      const double seconds = TimeGemm(s, t, 0.02, 30);
      const std::string key = std::string(s.name) + "_" + std::to_string(t) +
                              (t == 1 ? "_thread" : "_threads");
      std::printf("%s_us: %.2f\n", key.c_str(), seconds * 1e6);
      std::printf("%s_gflops: %.1f\n", key.c_str(), Gflops(s, seconds));
      if (t == threads) break;
    }
  }
  omp_set_num_threads(threads);

  const std::vector<float> x = RandomVector(32 * 128);
  std::vector<float> sums(128);
  const double sums_seconds = BestSecondsPerCall(
      [&] {
        sequent::kernels::ColumnSums(x.data(), 32, 128, 128, sums.data(),
                                     false);
      },
      0.02, 30);
  std::printf("column_sums_32x128_us: %.3f\n", sums_seconds * 1e6);
  return 0;
}
