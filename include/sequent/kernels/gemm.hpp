// Matrix products for Dense layers (and, later, convolutions as implicit GEMM).
// Target-free declarations; the SIMD code lives in src/kernels/gemm-inl.h and
// is dispatched at run time to the best target the CPU supports.
#pragma once

#include <cstddef>

#include "sequent/kernels/activation.hpp"

namespace sequent::kernels {

enum class Transpose : bool { kNo = false, kYes = true };

// What happens to each output element after the product, in registers,
// before it is stored: add bias[col], then apply the activation.
struct Epilogue {
  const float* bias = nullptr;  // N values, one per output column, or null.
  Activation activation = Activation::kIdentity;
  float alpha = 0.0f;  // slope of LeakyReLU for negative inputs.
};

// C (M×N, row stride ldc) = [C +] op(A) · op(B), then the epilogue.
//   op(A) is M×K: A stored row-major M×K (lda ≥ K), or Aᵀ with A stored K×M
//   (lda ≥ M). op(B) is K×N: B stored K×N (ldb ≥ N), or Bᵀ with B stored N×K
//   (ldb ≥ K). With accumulate, the product is added to C's current values;
//   the epilogue applies to the final sum. K == 0 gives C = [C +] 0 then the
//   epilogue. Pointers need no alignment; C must not overlap A or B.
// Work is split over the OpenMP threads by output blocks only, never over K,
// so the result does not depend on the thread count.
void Gemm(Transpose trans_a, Transpose trans_b, std::size_t M, std::size_t N,
          std::size_t K, const float* A, std::size_t lda, const float* B,
          std::size_t ldb, float* C, std::size_t ldc, bool accumulate,
          const Epilogue& epilogue = {});

// The plain triple loop that is Gemm's specification (double accumulation).
void GemmReference(Transpose trans_a, Transpose trans_b, std::size_t M,
                   std::size_t N, std::size_t K, const float* A,
                   std::size_t lda, const float* B, std::size_t ldb, float* C,
                   std::size_t ldc, bool accumulate,
                   const Epilogue& epilogue = {});

// sums[c] = [sums[c] +] Σ_r X[r][c] for X rows×cols with row stride ldx:
// the bias gradient of a Dense layer from its output gradient.
void ColumnSums(const float* X, std::size_t rows, std::size_t cols,
                std::size_t ldx, float* sums, bool accumulate);
void ColumnSumsReference(const float* X, std::size_t rows, std::size_t cols,
                         std::size_t ldx, float* sums, bool accumulate);

}  // namespace sequent::kernels
