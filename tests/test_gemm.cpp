// Gemm and ColumnSums on every compiled SIMD target against their scalar
// references: all transposes, sizes 0/1/odd/large, padded leading
// dimensions, misaligned pointers, accumulation, every epilogue, and bitwise
// independence from the thread count.
#define BOOST_TEST_MODULE gemm
#include <omp.h>

#include <algorithm>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include "hwy_targets.hpp"
#include "sequent/kernels/gemm.hpp"

namespace {

using sequent::kernels::Activation;
using sequent::kernels::Epilogue;
using sequent::kernels::Transpose;

constexpr float kSentinel = -12345.0f;  // marks C's padding, must survive

struct GemmCase {
  Transpose trans_a = Transpose::kNo, trans_b = Transpose::kNo;
  std::size_t M = 0, N = 0, K = 0;
  std::size_t pad = 0;      // added to every leading dimension
  bool misaligned = false;  // offset every base pointer by one float
  bool accumulate = false;
  bool bias = false;
  Activation activation = Activation::kIdentity;
  double zero_fraction = 0;  // of A's entries, set to exactly 0
};

std::ostream& operator<<(std::ostream& os, const GemmCase& c) {
  return os << "M=" << c.M << " N=" << c.N << " K=" << c.K
            << " ta=" << (c.trans_a == Transpose::kYes)
            << " tb=" << (c.trans_b == Transpose::kYes) << " pad=" << c.pad
            << " misaligned=" << c.misaligned << " acc=" << c.accumulate
            << " bias=" << c.bias << " act=" << static_cast<int>(c.activation)
            << " zeros=" << c.zero_fraction;
}

std::vector<float> RandomVector(std::size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Operands of one case with their storage shapes and leading dimensions.
struct GemmOperands {
  std::size_t lda, ldb, ldc, offset;
  std::vector<float> a, b, bias, c_initial;

  GemmOperands(const GemmCase& c, std::mt19937& rng) {
    const bool ta = c.trans_a == Transpose::kYes;
    const bool tb = c.trans_b == Transpose::kYes;
    lda = (ta ? c.M : c.K) + c.pad;
    ldb = (tb ? c.K : c.N) + c.pad;
    ldc = c.N + c.pad;
    offset = c.misaligned ? 1 : 0;
    a = RandomVector(offset + (ta ? c.K : c.M) * lda + 1, rng);
    std::bernoulli_distribution zero(c.zero_fraction);
    for (float& v : a) v = zero(rng) ? 0.0f : v;
    b = RandomVector(offset + (tb ? c.N : c.K) * ldb + 1, rng);
    bias = RandomVector(offset + c.N, rng);
    c_initial = RandomVector(offset + c.M * ldc + 1, rng);
    for (std::size_t i = 0; i < c.M; ++i) {
      for (std::size_t j = c.N; j < ldc; ++j) {
        c_initial[offset + i * ldc + j] = kSentinel;
      }
    }
  }

  // C after Gemm (fast = true) or GemmReference.
  std::vector<float> Run(const GemmCase& c, bool fast) const {
    std::vector<float> out = c_initial;
    Epilogue epilogue;
    epilogue.bias = c.bias ? bias.data() + offset : nullptr;
    epilogue.activation = c.activation;
    epilogue.alpha = 0.1f;
    auto* gemm =
        fast ? &sequent::kernels::Gemm : &sequent::kernels::GemmReference;
    gemm(c.trans_a, c.trans_b, c.M, c.N, c.K, a.data() + offset, lda,
         b.data() + offset, ldb, out.data() + offset, ldc, c.accumulate,
         epilogue);
    return out;
  }
};

// Float sums of K products of values in [-1, 1] drift by O(K·ε) relative to
// the double-accumulated reference.
void CheckGemmCase(const GemmCase& c, std::mt19937& rng) {
  const GemmOperands operands(c, rng);
  const std::vector<float> got = operands.Run(c, /*fast=*/true);
  const std::vector<float> want = operands.Run(c, /*fast=*/false);
  const double tolerance = 1e-6 * static_cast<double>(c.K + 4);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double scale = std::max(1.0, std::fabs(double{want[i]}));
    if (!(std::fabs(double{got[i]} - want[i]) <= tolerance * scale)) {
      if (++bad <= 3) {
        BOOST_ERROR(c << ": element " << i << " is " << got[i] << ", expected "
                      << want[i]);
      }
    }
  }
  BOOST_CHECK_MESSAGE(bad == 0, c << ": " << bad << " wrong elements");
}

const Transpose kBoth[] = {Transpose::kNo, Transpose::kYes};

}  // namespace

BOOST_DATA_TEST_CASE(gemm_small_shapes_all_transposes, sequent::test::targets(),
                     target) {
  sequent::test::TargetScope scope(target);
  std::mt19937 rng(1);
  const std::size_t sizes[] = {0, 1, 2, 3, 7, 17, 33};
  for (Transpose ta : kBoth) {
    for (Transpose tb : kBoth) {
      for (std::size_t M : sizes) {
        for (std::size_t N : sizes) {
          for (std::size_t K : sizes) {
            GemmCase c{ta, tb, M, N, K};
            c.pad = (M + N + K) % 3;
            c.misaligned = (M + K) % 2 == 1;
            c.accumulate = (N + K) % 2 == 1;
            CheckGemmCase(c, rng);
          }
        }
      }
    }
  }
}

// Shapes that reach every blocking path: several K slices (K > 256), several
// column blocks (N > 512), packed and in-place A and B, row and column
// remainders of every width, the matrix-vector tile and the threaded split.
BOOST_DATA_TEST_CASE(gemm_large_shapes_all_transposes, sequent::test::targets(),
                     target) {
  sequent::test::TargetScope scope(target);
  std::mt19937 rng(2);
  struct Shape {
    std::size_t M, N, K;
  };
  const Shape shapes[] = {{300, 257, 513}, {130, 1100, 300}, {1, 1000, 300},
                          {2, 77, 1025},   {1, 10, 128},     {32, 128, 784},
                          {97, 45, 260},   {784, 128, 32},   {11, 203, 600},
                          {257, 530, 70}};
  for (Transpose ta : kBoth) {
    for (Transpose tb : kBoth) {
      for (const Shape& s : shapes) {
        for (int variant = 0; variant < 2; ++variant) {
          GemmCase c{ta, tb, s.M, s.N, s.K};
          c.pad = variant == 0 ? 0 : 5;
          c.misaligned = variant == 1;
          c.accumulate = variant == 1;
          CheckGemmCase(c, rng);
        }
      }
    }
  }
}

BOOST_DATA_TEST_CASE(gemm_bias_and_every_activation, sequent::test::targets(),
                     target) {
  sequent::test::TargetScope scope(target);
  std::mt19937 rng(3);
  const Activation activations[] = {Activation::kIdentity, Activation::kReLU,
                                    Activation::kLeakyReLU,
                                    Activation::kSigmoid, Activation::kTanh};
  struct Shape {
    std::size_t M, N, K;
  };
  const Shape shapes[] = {{32, 128, 784}, {32, 10, 128}, {1, 128, 784},
                          {7, 33, 300},   {5, 3, 0},     {300, 257, 513}};
  for (Activation activation : activations) {
    for (const Shape& s : shapes) {
      for (Transpose ta : kBoth) {
        for (int variant = 0; variant < 3; ++variant) {
          GemmCase c{ta, Transpose::kNo, s.M, s.N, s.K};
          c.activation = activation;
          c.bias = variant != 1;
          c.accumulate = variant == 2;
          c.misaligned = variant == 2;
          c.pad = variant;
          CheckGemmCase(c, rng);
        }
      }
    }
  }
}

// Up to 4 rows times a transposed B run as dot products along K (a Dense
// layer's backward data at a small batch): every row count, K shorter than
// a vector and with a remainder, column counts that leave partial column
// blocks, the epilogue, and a product large enough to use every thread.
BOOST_DATA_TEST_CASE(gemm_few_rows_times_transposed_b, sequent::test::targets(),
                     target) {
  sequent::test::TargetScope scope(target);
  std::mt19937 rng(5);
  const Activation activations[] = {Activation::kIdentity, Activation::kReLU,
                                    Activation::kTanh};
  struct Shape {
    std::size_t M, N, K;
  };
  const Shape shapes[] = {{1, 9, 5},   {2, 120, 400}, {3, 85, 120},
                          {4, 11, 17}, {2, 401, 333}, {4, 400, 120},
                          {3, 1, 1},   {1, 700, 250}};
  std::size_t index = 0;
  for (const Shape& s : shapes) {
    for (Activation activation : activations) {
      GemmCase c{Transpose::kNo, Transpose::kYes, s.M, s.N, s.K};
      c.activation = activation;
      c.bias = index % 2 == 0;
      c.accumulate = index % 3 == 1;
      c.misaligned = index % 2 == 1;
      c.pad = index % 4;
      CheckGemmCase(c, rng);
      ++index;
    }
  }
  // Threads split the columns: the same bits on 1 and 2 threads.
  const int saved = omp_get_max_threads();
  std::vector<float> a(4 * 400), b(700 * 400), out[2];
  for (float& v : a) v = std::uniform_real_distribution<float>(-1, 1)(rng);
  for (float& v : b) v = std::uniform_real_distribution<float>(-1, 1)(rng);
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    out[threads - 1].assign(4 * 700, 0.0f);
    sequent::kernels::Gemm(Transpose::kNo, Transpose::kYes, 4, 700, 400,
                           a.data(), 400, b.data(), 400,
                           out[threads - 1].data(), 700, false, {});
  }
  omp_set_num_threads(saved);
  BOOST_TEST(out[0] == out[1]);
}

// A single row of A with zeros skips B's rows for them (gemm_row-inl.h):
// every width of the column tiles and their remainders, every epilogue, and
// rows from a few zeros to all zeros; widths below 32 and rows with few
// zeros take the dense path, which must agree as well.
BOOST_DATA_TEST_CASE(gemm_single_sparse_row_matches_reference,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  std::mt19937 rng(6);
  const Activation activations[] = {Activation::kIdentity, Activation::kReLU,
                                    Activation::kLeakyReLU, Activation::kTanh};
  const std::size_t widths[] = {1, 7, 10, 16, 33, 64, 128, 130, 257};
  const std::size_t depths[] = {64, 65, 131, 784};
  const double zero_fractions[] = {0.1, 0.5, 0.8, 1.0};
  std::size_t index = 0;
  for (std::size_t N : widths) {
    for (std::size_t K : depths) {
      for (double zeros : zero_fractions) {
        GemmCase c{Transpose::kNo, Transpose::kNo, 1, N, K};
        c.zero_fraction = zeros;
        c.activation = activations[index % 4];
        c.bias = index % 2 == 0;
        c.accumulate = index % 3 == 1;
        c.misaligned = index % 5 == 1;
        c.pad = index % 3;
        CheckGemmCase(c, rng);
        ++index;
      }
    }
  }
}

// A single row of C (the row kernel, dense or sparse) has the bits it has
// as the first row of a two-row product (the tile kernels): every pass
// count and partial last vector of the row kernel on every target, a
// transposed A, accumulation, every epilogue, zeros skipped or not, and
// the split over 2 threads.
BOOST_DATA_TEST_CASE(gemm_single_row_equals_batch_row_bits,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  std::mt19937 rng(7);
  const Activation activations[] = {Activation::kIdentity, Activation::kReLU,
                                    Activation::kLeakyReLU, Activation::kTanh,
                                    Activation::kSigmoid};
  struct Shape {
    std::size_t N, K;
  };
  const Shape shapes[] = {{1, 5},     {10, 128},  {33, 64},  {84, 120},
                          {97, 70},   {120, 400}, {128, 784}, {200, 65},
                          {257, 100}, {300, 33},  {1000, 700}};
  std::bernoulli_distribution zero(0.5);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int saved = omp_get_max_threads();
  std::size_t index = 0;
  for (const Shape& s : shapes) {
    for (Transpose ta : kBoth) {
      const std::size_t N = s.N, K = s.K;
      const bool transposed = ta == Transpose::kYes;
      const std::size_t lda = transposed ? 2 : K;
      std::vector<float> a(2 * K), b(K * N), bias(N), c_initial(2 * N);
      for (std::size_t k = 0; k < K; ++k) {
        a[transposed ? 2 * k : k] = zero(rng) ? 0.0f : dist(rng);
        a[transposed ? 2 * k + 1 : K + k] = dist(rng);
      }
      for (float& v : b) v = dist(rng);
      for (float& v : bias) v = dist(rng);
      for (float& v : c_initial) v = dist(rng);
      const Epilogue epilogue{index % 2 == 0 ? bias.data() : nullptr,
                              activations[index % 5], 0.1f};
      const bool accumulate = index % 3 == 1;
      for (int threads : {1, 2}) {
        omp_set_num_threads(threads);
        std::vector<float> one(c_initial.begin(), c_initial.begin() + N);
        std::vector<float> two = c_initial;
        sequent::kernels::Gemm(ta, Transpose::kNo, 1, N, K, a.data(), lda,
                               b.data(), N, one.data(), N, accumulate,
                               epilogue);
        sequent::kernels::Gemm(ta, Transpose::kNo, 2, N, K, a.data(), lda,
                               b.data(), N, two.data(), N, accumulate,
                               epilogue);
        BOOST_CHECK_MESSAGE(
            std::memcmp(one.data(), two.data(), N * sizeof(float)) == 0,
            "N=" << N << " K=" << K << " ta=" << transposed << ", " << threads
                 << " threads: the single row differs from the batch row");
      }
      ++index;
    }
  }
  omp_set_num_threads(saved);
}

// Skipping zeros must not skip a NaN: it reaches every output, as it does
// through the dense kernels, wherever it sits among the zeros.
BOOST_DATA_TEST_CASE(gemm_sparse_row_propagates_nan, sequent::test::targets(),
                     target) {
  sequent::test::TargetScope scope(target);
  const std::size_t K = 784, N = 128;
  std::vector<float> b(K * N, 0.5f), c(N);
  for (std::size_t at : {0u, 5u, 8u, 399u, 783u}) {
    std::vector<float> a(K, 0.0f);
    for (std::size_t k = 0; k < K; k += 7) a[k] = 1.0f;  // sparse enough
    a[at] = std::nanf("");
    sequent::kernels::Gemm(Transpose::kNo, Transpose::kNo, 1, N, K, a.data(),
                           K, b.data(), N, c.data(), N, false, {});
    BOOST_TEST(std::all_of(c.begin(), c.end(),
                           [](float x) { return std::isnan(x); }),
               "NaN at " << at << " did not reach every output");
  }
}

// Work is split by output blocks only, so 1 and 2 threads must agree to
// the bit.
BOOST_DATA_TEST_CASE(gemm_is_independent_of_thread_count,
                     sequent::test::targets(), target) {
  sequent::test::TargetScope scope(target);
  std::mt19937 rng(4);
  struct Shape {
    std::size_t M, N, K;
  };
  const Shape shapes[] = {
      {300, 257, 513}, {32, 128, 784}, {784, 128, 32}, {1, 1000, 700}};
  const int saved_threads = omp_get_max_threads();
  for (Transpose ta : kBoth) {
    for (Transpose tb : kBoth) {
      for (const Shape& s : shapes) {
        GemmCase c{ta, tb, s.M, s.N, s.K};
        c.bias = true;
        c.activation = Activation::kTanh;
        c.accumulate = true;
        const GemmOperands operands(c, rng);
        omp_set_num_threads(1);
        const std::vector<float> one = operands.Run(c, true);
        omp_set_num_threads(2);
        const std::vector<float> two = operands.Run(c, true);
        BOOST_CHECK_MESSAGE(std::memcmp(one.data(), two.data(),
                                        one.size() * sizeof(float)) == 0,
                            c << ": 1 and 2 threads differ");
      }
    }
  }
  omp_set_num_threads(saved_threads);
}

BOOST_DATA_TEST_CASE(column_sums_match_reference, sequent::test::targets(),
                     target) {
  sequent::test::TargetScope scope(target);
  std::mt19937 rng(5);
  const std::size_t row_counts[] = {0, 1, 3, 32, 100};
  const std::size_t col_counts[] = {0, 1, 7, 16, 17, 63, 128, 1000};
  for (std::size_t rows : row_counts) {
    for (std::size_t cols : col_counts) {
      for (int variant = 0; variant < 2; ++variant) {
        const std::size_t ldx = cols + (variant == 0 ? 0 : 3);
        const std::size_t offset = variant;  // misaligned on variant 1
        const bool accumulate = variant == 1;
        const std::vector<float> x = RandomVector(offset + rows * ldx + 1, rng);
        std::vector<float> got = RandomVector(offset + cols + 1, rng);
        std::vector<float> want = got;
        sequent::kernels::ColumnSums(x.data() + offset, rows, cols, ldx,
                                     got.data() + offset, accumulate);
        sequent::kernels::ColumnSumsReference(x.data() + offset, rows, cols,
                                              ldx, want.data() + offset,
                                              accumulate);
        const double tolerance = 1e-6 * static_cast<double>(rows + 4);
        for (std::size_t i = 0; i < got.size(); ++i) {
          BOOST_TEST(std::fabs(double{got[i]} - want[i]) <= tolerance,
                     "rows=" << rows << " cols=" << cols
                             << " variant=" << variant << " element " << i
                             << ": " << got[i] << " vs " << want[i]);
        }
      }
    }
  }
}
