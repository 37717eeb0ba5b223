// Packing of GEMM operands into the contiguous panels the micro-kernel reads,
// and the per-thread scratch memory that holds them.
//
// A packed A panel holds `rows` (≤ kPanelRows) rows of op(A) for k_len steps,
// k-major: panel[k * kPanelRows + r] = op(A)[r][k]. The micro-kernel then
// broadcasts kPanelRows consecutive floats per k step from one cache line.
//
// A packed B block holds op(B) for k_len steps and a range of columns, cut
// into panels of kPanelCols columns, each k-major and zero-padded on the right:
// panel p, element [k][c] = op(B)[k][p * kPanelCols + c]. The micro-kernel
// loads whole vectors from it, so a partial panel needs no masked loads.

#include <cstddef>
#include <cstring>

#include "thread_scratch.hpp"

// Target-independent part, compiled once.
#ifndef SEQUENT_SRC_KERNELS_GEMM_SCRATCH_H_
#define SEQUENT_SRC_KERNELS_GEMM_SCRATCH_H_

namespace sequent::kernels::gemm_detail {

enum class ScratchSlot : int {
  kPackedA = 0,
  kPackedB = 1,
  kEdgeB = 2,
  kSparseRow = 3,  // a sparse row's values, then its indices
  kCount = 4
};

using ::sequent::kernels::ThreadScratch;

}  // namespace sequent::kernels::gemm_detail

#endif  // SEQUENT_SRC_KERNELS_GEMM_SCRATCH_H_

// Per-target part, compiled once per SIMD target.
#if defined(SEQUENT_SRC_KERNELS_GEMM_PACK_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_GEMM_PACK_INL_H_
#undef SEQUENT_SRC_KERNELS_GEMM_PACK_INL_H_
#else
#define SEQUENT_SRC_KERNELS_GEMM_PACK_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {

// Packs rows [0, rows) × steps [0, k_len) of op(A), starting at `a` (already
// offset to the first row and step), into `panel` with row stride
// kPanelRows. With trans_a, A is stored K×M, so each k step is `rows`
// consecutive floats; otherwise each row is k_len consecutive floats.
template <std::size_t kPanelRows>
HWY_INLINE void PackAPanel(bool trans_a, const float* HWY_RESTRICT a,
                           std::size_t lda, std::size_t rows, std::size_t k_len,
                           float* HWY_RESTRICT panel) {
  if (trans_a) {
    for (std::size_t k = 0; k < k_len; ++k) {
      std::memcpy(panel + k * kPanelRows, a + k * lda, rows * sizeof(float));
    }
    return;
  }
  // Read each row contiguously; the strided writes land in the panel, which
  // is small enough (kPanelRows × kc floats) to stay in L1.
  for (std::size_t r = 0; r < rows; ++r) {
    const float* HWY_RESTRICT row = a + r * lda;
    for (std::size_t k = 0; k < k_len; ++k) {
      panel[k * kPanelRows + r] = row[k];
    }
  }
}

// Packs steps [0, k_len) × columns [0, cols) of op(B), starting at `b`
// (already offset to the first step and column), into panels of kPanelCols
// columns, each k_len × kPanelCols and zero-padded on the right.
// With trans_b, B is stored N×K: column j of op(B) is row j of storage.
template <std::size_t kPanelCols>
HWY_INLINE void PackBBlock(bool trans_b, const float* HWY_RESTRICT b,
                           std::size_t ldb, std::size_t k_len, std::size_t cols,
                           float* HWY_RESTRICT packed) {
  for (std::size_t col0 = 0; col0 < cols; col0 += kPanelCols) {
    const std::size_t width =
        cols - col0 < kPanelCols ? cols - col0 : kPanelCols;
    float* HWY_RESTRICT panel =
        packed + (col0 / kPanelCols) * k_len * kPanelCols;
    if (width < kPanelCols) {
      std::memset(panel, 0, k_len * kPanelCols * sizeof(float));
    }
    if (trans_b) {
      // Contiguous reads along storage rows, strided writes into the panel
      // (k_len × kPanelCols floats, L1-resident).
      for (std::size_t c = 0; c < width; ++c) {
        const float* HWY_RESTRICT column = b + (col0 + c) * ldb;
        for (std::size_t k = 0; k < k_len; ++k) {
          panel[k * kPanelCols + c] = column[k];
        }
      }
    } else {
      for (std::size_t k = 0; k < k_len; ++k) {
        std::memcpy(panel + k * kPanelCols, b + k * ldb + col0,
                    width * sizeof(float));
      }
    }
  }
}

}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
