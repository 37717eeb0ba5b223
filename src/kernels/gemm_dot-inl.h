// C = [C +] A · Bᵀ for a few rows of A, as dot products along K.
//
// A Dense layer's backward data at a small batch is exactly this shape:
// dX (batch × in) = dY (batch × out) · Wᵀ with W stored in × out, i.e. B
// stored N×K with K contiguous. The tiled GEMM needs B's columns as
// contiguous rows, so it would pack (transpose) all of B for a product of
// only a few rows — at batch 2 the packing cost 4× the arithmetic. Here
// each output C[m, j] is a dot product of A's row m with B's storage row j,
// both contiguous: kCols storage rows × kRows rows of A accumulate in
// vectors along K, then each accumulator is summed across its lanes.
//
//   A: M × K (row stride lda), B: N × K (row stride ldb), C: M × N (ldc).

#if defined(SEQUENT_SRC_KERNELS_GEMM_DOT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_GEMM_DOT_INL_H_
#undef SEQUENT_SRC_KERNELS_GEMM_DOT_INL_H_
#else
#define SEQUENT_SRC_KERNELS_GEMM_DOT_INL_H_
#endif

#include <cstddef>

#include "gemm_microkernel-inl.h"
#include "hwy/highway.h"
#include "sequent/kernels/gemm.hpp"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {

// Rows of A the dot-product path takes; beyond, packing B pays for itself.
constexpr std::size_t kDotMaxRows = 4;

// C[0, kRows) × [j0, j0 + kCols) without the epilogue: kRows · kCols = 8
// accumulators (8 FMAs in flight hide the latency on two FMA ports) and
// kRows + kCols loads per 8 FMAs.
template <std::size_t kRows, std::size_t kCols, class D>
HWY_INLINE void DotTile(D d, std::size_t K, const float* HWY_RESTRICT A,
                        std::size_t lda, const float* HWY_RESTRICT B,
                        std::size_t ldb, float* HWY_RESTRICT C, std::size_t ldc,
                        std::size_t j0, std::size_t cols, bool accumulate) {
  using V = hn::Vec<D>;
  const std::size_t lanes = hn::Lanes(d);
  V acc[kRows][kCols];
  // Unrolled: a loop over the array became `rep stos` of the stack.
  HWY_UNROLL(4)
  for (std::size_t r = 0; r < kRows; ++r) {
    HWY_UNROLL(8)
    for (std::size_t c = 0; c < kCols; ++c) acc[r][c] = hn::Zero(d);
  }
  const float* b[kCols];
  for (std::size_t c = 0; c < kCols; ++c) {
    b[c] = B + (j0 + (c < cols ? c : 0)) * ldb;  // columns past N repeat
  }
  std::size_t k = 0;
  for (; k + lanes <= K; k += lanes) {
    V a[kRows];
    HWY_UNROLL(4)
    for (std::size_t r = 0; r < kRows; ++r)
      a[r] = hn::LoadU(d, A + r * lda + k);
    HWY_UNROLL(4)
    for (std::size_t c = 0; c < kCols; ++c) {
      const V bv = hn::LoadU(d, b[c] + k);
      HWY_UNROLL(4)
      for (std::size_t r = 0; r < kRows; ++r) {
        acc[r][c] = hn::MulAdd(a[r], bv, acc[r][c]);
      }
    }
  }
  for (std::size_t r = 0; r < kRows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      float sum = hn::GetLane(hn::SumOfLanes(d, acc[r][c]));
      for (std::size_t t = k; t < K; ++t) sum += A[r * lda + t] * b[c][t];
      float* out = C + r * ldc + j0 + c;
      *out = accumulate ? *out + sum : sum;
    }
  }
}

// Rows [0, kRows) of C, columns [n0, n1).
template <std::size_t kRows>
void DotRows(std::size_t K, const float* A, std::size_t lda, const float* B,
             std::size_t ldb, float* C, std::size_t ldc, std::size_t n0,
             std::size_t n1, bool accumulate) {
  const hn::ScalableTag<float> d;
  constexpr std::size_t kCols = 8 / kRows;
  for (std::size_t j = n0; j < n1; j += kCols) {
    const std::size_t cols = n1 - j < kCols ? n1 - j : kCols;
    DotTile<kRows, kCols>(d, K, A, lda, B, ldb, C, ldc, j, cols, accumulate);
  }
}

// C (M ≤ kDotMaxRows rows) = [C +] A · Bᵀ, then the epilogue, on columns
// [n0, n1) on the calling thread. The epilogue runs over the finished rows.
inline void DotProductRows(std::size_t M, std::size_t K, const float* A,
                           std::size_t lda, const float* B, std::size_t ldb,
                           float* C, std::size_t ldc, bool accumulate,
                           const Epilogue* epilogue, std::size_t n0,
                           std::size_t n1) {
  switch (M) {
    case 1:
      DotRows<1>(K, A, lda, B, ldb, C, ldc, n0, n1, accumulate);
      break;
    case 2:
      DotRows<2>(K, A, lda, B, ldb, C, ldc, n0, n1, accumulate);
      break;
    case 3:  // 2 + 1
      DotRows<2>(K, A, lda, B, ldb, C, ldc, n0, n1, accumulate);
      DotRows<1>(K, A + 2 * lda, lda, B, ldb, C + 2 * ldc, ldc, n0, n1,
                 accumulate);
      break;
    default:
      DotRows<4>(K, A, lda, B, ldb, C, ldc, n0, n1, accumulate);
      break;
  }
  if (epilogue == nullptr) return;
  const hn::ScalableTag<float> d;
  const std::size_t lanes = hn::Lanes(d);
  for (std::size_t r = 0; r < M; ++r) {
    float* row = C + r * ldc;
    std::size_t j = n0;
    for (; j + lanes <= n1; j += lanes) {
      auto v = hn::LoadU(d, row + j);
      if (epilogue->bias != nullptr) {
        v = hn::Add(v, hn::LoadU(d, epilogue->bias + j));
      }
      hn::StoreU(Activate(d, epilogue->activation, epilogue->alpha, v), d,
                 row + j);
    }
    const hn::CappedTag<float, 1> d1;
    for (; j < n1; ++j) {
      auto v = hn::Set(d1, row[j]);
      if (epilogue->bias != nullptr) {
        v = hn::Add(v, hn::Set(d1, epilogue->bias[j]));
      }
      row[j] =
          hn::GetLane(Activate(d1, epilogue->activation, epilogue->alpha, v));
    }
  }
}

}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
