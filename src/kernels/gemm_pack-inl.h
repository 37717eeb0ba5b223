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
//
// The panel is written in order, one k step (all rows) at a time, so that
// A's rows are read side by side: a large A comes from L3 or memory, and
// reading its rows one after another left a single short stream in flight
// (at 1024³ the packing took 14% of the time, waiting on misses).
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
  if (rows == kPanelRows) {
    for (std::size_t k = 0; k < k_len; ++k) {
      HWY_UNROLL(16)
      for (std::size_t r = 0; r < kPanelRows; ++r) {
        panel[k * kPanelRows + r] = a[r * lda + k];
      }
    }
    return;
  }
  for (std::size_t k = 0; k < k_len; ++k) {
    for (std::size_t r = 0; r < rows; ++r) {
      panel[k * kPanelRows + r] = a[r * lda + k];
    }
  }
}

// Packs steps [0, k_len) × columns [0, cols) of op(B), starting at `b`
// (already offset to the first step and column), into panels of kPanelCols
// columns, each k_len × kPanelCols and zero-padded on the right.
// With trans_b, B is stored N×K: column j of op(B) is row j of storage.
//
// B is read along its storage rows, all the panels of a row before the next
// row: reading one panel's k_len short pieces down B instead cost a miss per
// piece (at 1024³ the packing took 11% of the time). The writes scatter over
// the packed block, which is written once and then read from L2 anyway.
template <std::size_t kPanelCols>
HWY_INLINE void PackBBlock(bool trans_b, const float* HWY_RESTRICT b,
                           std::size_t ldb, std::size_t k_len, std::size_t cols,
                           float* HWY_RESTRICT packed) {
  const std::size_t full_cols = cols / kPanelCols * kPanelCols;
  const std::size_t width = cols - full_cols;  // of the last, partial panel
  const std::size_t panel_floats = k_len * kPanelCols;
  // Not restrict: the trans_b loop below writes it through `panel` too.
  float* last_panel = packed + (full_cols / kPanelCols) * panel_floats;
  if (width != 0) std::memset(last_panel, 0, panel_floats * sizeof(float));
  if (trans_b) {
    // Storage row c is column c of op(B): k_len contiguous floats, read a
    // group of kPanelCols rows side by side, a k step at a time.
    for (std::size_t col0 = 0; col0 < cols; col0 += kPanelCols) {
      float* HWY_RESTRICT panel = packed + (col0 / kPanelCols) * panel_floats;
      const float* HWY_RESTRICT rows = b + col0 * ldb;
      if (col0 < full_cols) {
        for (std::size_t k = 0; k < k_len; ++k) {
          HWY_UNROLL(32)
          for (std::size_t c = 0; c < kPanelCols; ++c) {
            panel[k * kPanelCols + c] = rows[c * ldb + k];
          }
        }
      } else {
        for (std::size_t k = 0; k < k_len; ++k) {
          for (std::size_t c = 0; c < width; ++c) {
            panel[k * kPanelCols + c] = rows[c * ldb + k];
          }
        }
      }
    }
    return;
  }
  for (std::size_t k = 0; k < k_len; ++k) {
    const float* HWY_RESTRICT row = b + k * ldb;
    for (std::size_t col0 = 0; col0 < full_cols; col0 += kPanelCols) {
      std::memcpy(packed + (col0 / kPanelCols) * panel_floats + k * kPanelCols,
                  row + col0, kPanelCols * sizeof(float));
    }
    if (width != 0) {
      std::memcpy(last_panel + k * kPanelCols, row + full_cols,
                  width * sizeof(float));
    }
  }
}

}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
