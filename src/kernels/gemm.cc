// GEMM and column sums: run-time dispatch to the per-target code in
// gemm-inl.h, and the scalar references that specify them.

// foreach_target.h re-includes this file once per target; it is found
// through the public include directory (include/), hence the relative path.
// The order below is Highway's and must survive include sorting.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/kernels/gemm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "gemm-inl.h"
// clang-format on

#if HWY_ONCE

#include "sequent/kernels/gemm.hpp"

#include <cmath>
#include <cstddef>

namespace sequent::kernels {

HWY_EXPORT(GemmImpl);
HWY_EXPORT(ColumnSumsImpl);

void Gemm(Transpose trans_a, Transpose trans_b, std::size_t M, std::size_t N,
          std::size_t K, const float* A, std::size_t lda, const float* B,
          std::size_t ldb, float* C, std::size_t ldc, bool accumulate,
          const Epilogue& epilogue) {
  HWY_DYNAMIC_DISPATCH(GemmImpl)
  (trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate, epilogue);
}

void ColumnSums(const float* X, std::size_t rows, std::size_t cols,
                std::size_t ldx, float* sums, bool accumulate) {
  HWY_DYNAMIC_DISPATCH(ColumnSumsImpl)(X, rows, cols, ldx, sums, accumulate);
}

namespace {

double ActivateReference(Activation activation, float alpha, double x) {
  switch (activation) {
    case Activation::kIdentity:
      return x;
    case Activation::kReLU:
      return x > 0.0 ? x : 0.0;
    case Activation::kLeakyReLU:
      return x > 0.0 ? x : alpha * x;
    case Activation::kSigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case Activation::kTanh:
      return std::tanh(x);
  }
  return x;
}

}  // namespace

void GemmReference(Transpose trans_a, Transpose trans_b, std::size_t M,
                   std::size_t N, std::size_t K, const float* A,
                   std::size_t lda, const float* B, std::size_t ldb, float* C,
                   std::size_t ldc, bool accumulate, const Epilogue& epilogue) {
  for (std::size_t i = 0; i < M; ++i) {
    for (std::size_t j = 0; j < N; ++j) {
      double sum = 0.0;
      for (std::size_t k = 0; k < K; ++k) {
        const float a =
            trans_a == Transpose::kYes ? A[k * lda + i] : A[i * lda + k];
        const float b =
            trans_b == Transpose::kYes ? B[j * ldb + k] : B[k * ldb + j];
        sum += static_cast<double>(a) * b;
      }
      float& c = C[i * ldc + j];
      // The product is rounded to float before the epilogue, as Gemm does.
      float value = static_cast<float>(accumulate ? c + sum : sum);
      if (epilogue.bias != nullptr) value += epilogue.bias[j];
      c = static_cast<float>(
          ActivateReference(epilogue.activation, epilogue.alpha, value));
    }
  }
}

void ColumnSumsReference(const float* X, std::size_t rows, std::size_t cols,
                         std::size_t ldx, float* sums, bool accumulate) {
  for (std::size_t c = 0; c < cols; ++c) {
    double sum = accumulate ? sums[c] : 0.0;
    for (std::size_t r = 0; r < rows; ++r) sum += X[r * ldx + c];
    sums[c] = static_cast<float>(sum);
  }
}

}  // namespace sequent::kernels

#endif  // HWY_ONCE
