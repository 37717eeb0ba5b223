// GEMM for every SIMD target: C (M×N, row-major, stride ldc) = [C +] op(A) ·
// op(B), then bias + activation, following the classic Goto/BLIS design:
//
//   for each nc-wide column block of C           (B block ≤ ½ L2)
//     for each kc-deep slice of K                (kc·MR floats of A fit L1)
//       pack the B block (or read B in place)
//       for each MR-row panel of C: pack its A panel (or read A in place)
//         for each NR-column panel: micro-kernel on an MR×NR tile
//
// Every output element is one chain of fused multiply-adds over k in order,
// started from zero or from C, whatever the blocking, tile shape or thread
// split: a later K slice reloads the partial sums from C. So results are
// bitwise independent of the thread count (within one target).

#if defined(SEQUENT_SRC_KERNELS_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_GEMM_INL_H_
#undef SEQUENT_SRC_KERNELS_GEMM_INL_H_
#else
#define SEQUENT_SRC_KERNELS_GEMM_INL_H_
#endif

#include <omp.h>

#include <algorithm>
#include <cstddef>

#include "gemm_dot-inl.h"
#include "gemm_microkernel-inl.h"
#include "gemm_pack-inl.h"
#include "gemm_row-inl.h"
#include "hwy/highway.h"
#include "sequent/kernels/gemm.hpp"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {

namespace gemm_tuning {
// K slice: an A panel of MR×kc floats (12 KiB at MR=12) stays in L1 while
// the B panels stream past it from L2.
constexpr std::size_t kDepth = 256;
// Column block: a packed B block of kDepth×nc floats (512 KiB). On the
// EPYC (512 KiB of L2 per core) 256 columns made no clear difference at
// 1024³: best of 10 alternating runs 69 (256) vs 75 (512) GFLOP/s on one
// thread, 133 vs 125 on two, in one noisy hour.
constexpr std::size_t kBlockCols = 512;
// Up to this many rows of C, B is read in place (unless transposed): the
// packing copy does not repay itself. Measured on the EPYC (1 thread):
// 128×128×784 101 vs 92 GFLOP/s and 256×512×784 99 vs 85 in place vs
// packed; at 1024³ both are equal, and packing protects against leading
// dimensions that alias in the caches.
constexpr std::size_t kInPlaceBMaxRows = 256;
// A is read in place while it is this small (it then sits in L2 and its
// leading dimension cannot thrash L1 for long).
constexpr std::size_t kInPlaceAMaxFloats = std::size_t{64} * 1024;
// Below this many multiply-adds a problem runs on the calling thread: an
// OpenMP fork/join costs 1-1.5 µs here. Measured 1 vs 2 threads: 32×32×32
// 0.84 vs 1.03 µs, 32×64×32 1.72 vs 1.64, 32×128×32 3.3 vs 2.8.
constexpr std::size_t kParallelMinMacs = std::size_t{96} * 1024;
// Matrix-vector products stream B from L2, so a split pays only once B
// outgrows one core's L2 (512 KiB): 1×256×784 9.6 vs 5.6 µs on 1 vs 2
// threads, but the MLP's 1×128×784 (392 KiB), 3.8 vs 4.3 µs median of a
// single image's prediction. The whole of B counts, even when a sparse row
// reads only some of it: what stays in L2 between calls is all of it.
constexpr std::size_t kParallelMinVectorFloats = std::size_t{128} * 1024;
// A single row of A at most this dense (non-zero entries per entry) skips
// the rows of B its zeros select; denser, the dense kernel streams B.
constexpr double kSparseMaxDensity = 0.75;
// Rows of B below which a product is too small for the compression to pay.
constexpr std::size_t kSparseMinDepth = 64;
// Columns below which the dense kernel runs whatever the density: a
// skipped row saves only N / lanes loads and FMAs, not enough to repay the
// compression when most entries are non-zero. Measured on one thread,
// 1×N×128, N = 1 to 16: at half density skipping is 0–25% faster, at three
// quarters 0–40% slower, and a narrow layer's whole product is 0.2 µs.
constexpr std::size_t kSparseMinColumns = 32;
}  // namespace gemm_tuning

// The whole problem plus the packing decisions, shared by all threads.
struct GemmProblem {
  bool trans_a, trans_b;
  std::size_t M, N, K;
  const float* A;
  std::size_t lda;
  const float* B;
  std::size_t ldb;
  float* C;
  std::size_t ldc;
  bool accumulate;
  const Epilogue* epilogue;  // null when it is the identity without bias
  bool pack_a, pack_b;
};

// Runs the tile(s) covering `rows` (≤ kRows) rows of one column panel:
// rows == kRows takes the full kernel, a shorter remainder is covered by
// power-of-two kernels (11 = 8 + 2 + 1), since kRows ≤ 2 × the largest.
template <std::size_t kChunk, std::size_t kVecs, bool kRowsContiguous>
HWY_INLINE void RunRemainderRows(std::size_t rows, std::size_t a_row_step,
                                 TileArgs& tile) {
  if (rows & kChunk) {
    MicroKernel<kChunk, kVecs, kRowsContiguous>(tile);
    tile.a += kChunk * a_row_step;
    tile.c += kChunk * tile.ldc;
  }
  if constexpr (kChunk > 1) {
    RunRemainderRows<kChunk / 2, kVecs, kRowsContiguous>(rows, a_row_step,
                                                         tile);
  }
}

constexpr std::size_t LargestPowerOfTwoBelow(std::size_t n) {
  std::size_t p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}

template <std::size_t kRows, std::size_t kVecs, bool kRowsContiguous>
HWY_INLINE void RunRows(std::size_t rows, std::size_t a_row_step,
                        TileArgs tile) {
  if (rows == kRows) {
    MicroKernel<kRows, kVecs, kRowsContiguous>(tile);
  } else if constexpr (kRows > 1) {
    RunRemainderRows<LargestPowerOfTwoBelow(kRows), kVecs, kRowsContiguous>(
        rows, a_row_step, tile);
  }
}

template <std::size_t kRows, std::size_t kVecs>
HWY_INLINE void RunRowsAnyLayout(bool rows_contiguous, std::size_t rows,
                                 std::size_t a_row_step, const TileArgs& tile) {
  if (rows_contiguous) {
    RunRows<kRows, kVecs, true>(rows, a_row_step, tile);
  } else {
    RunRows<kRows, kVecs, false>(rows, a_row_step, tile);
  }
}

// Columns left over after the full-width panels: whole vectors by
// power-of-two widths (3 = 2 + 1), so a narrow C (N = 10) is not computed
// at full panel width, then the last partial vector from `edge`, a
// zero-padded copy (B read in place must not be read past column N: on its
// last row that could leave the allocation).
struct EdgeStrip {
  const float* b;
  std::size_t k_stride;
};

template <std::size_t kRows, std::size_t kVecs>
HWY_INLINE void RunRemainderColumns(std::size_t rows, std::size_t cols,
                                    bool rows_contiguous,
                                    std::size_t a_row_step, EdgeStrip edge,
                                    TileArgs tile) {
  constexpr std::size_t kLanes = hn::MaxLanes(hn::ScalableTag<float>());
  if constexpr (kVecs > 1) {
    constexpr std::size_t kChunk = LargestPowerOfTwoBelow(kVecs);
    if (cols >= kChunk * kLanes) {
      tile.cols = kChunk * kLanes;
      RunRowsAnyLayout<kRows, kChunk>(rows_contiguous, rows, a_row_step, tile);
      tile.b += kChunk * kLanes;
      tile.c += kChunk * kLanes;
      if (tile.bias) tile.bias += kChunk * kLanes;
      cols -= kChunk * kLanes;
    }
    RunRemainderColumns<kRows, kChunk>(rows, cols, rows_contiguous, a_row_step,
                                       edge, tile);
  } else if (cols != 0) {
    tile.b = edge.b;
    tile.b_k_stride = edge.k_stride;
    tile.cols = cols;
    RunRowsAnyLayout<kRows, 1>(rows_contiguous, rows, a_row_step, tile);
  }
}

// Computes C[m0:m1, n0:n1] of problem p on the calling thread with
// kRows×(kVecs vectors) tiles.
template <std::size_t kRows, std::size_t kVecs>
void GemmBlock(const GemmProblem& p, std::size_t m0, std::size_t m1,
               std::size_t n0, std::size_t n1) {
  using gemm_detail::ScratchSlot;
  using gemm_detail::ThreadScratch;
  constexpr std::size_t kLanes = hn::MaxLanes(hn::ScalableTag<float>());
  constexpr std::size_t kPanelCols = kVecs * kLanes;
  constexpr std::size_t kDepth = gemm_tuning::kDepth;
  constexpr std::size_t kBlockCols =
      (gemm_tuning::kBlockCols + kPanelCols - 1) / kPanelCols * kPanelCols;

  float* packed_a =
      p.pack_a ? ThreadScratch(ScratchSlot::kPackedA, kRows * kDepth) : nullptr;
  const std::size_t block_cols = p.pack_b ? kBlockCols : n1 - n0;
  float* packed_b =
      p.pack_b ? ThreadScratch(ScratchSlot::kPackedB, kDepth * block_cols)
               : ThreadScratch(ScratchSlot::kEdgeB, kDepth * kLanes);

  for (std::size_t jc = n0; jc < n1; jc += block_cols) {
    const std::size_t nb = std::min(block_cols, n1 - jc);
    // K == 0 still makes one pass: C = [C +] 0, then the epilogue.
    std::size_t pc = 0;
    do {
      const std::size_t kb = std::min(kDepth, p.K - pc);
      TileArgs tile;
      tile.k_len = kb;
      tile.ldc = p.ldc;
      tile.load_c = p.accumulate || pc > 0;
      tile.epilogue = pc + kb == p.K ? p.epilogue : nullptr;

      // Where the B panels of this block are, and how to step through them.
      const std::size_t full_cols = nb / kPanelCols * kPanelCols;
      const std::size_t partial = nb % kLanes;  // of the last vector
      const float* b_block;
      std::size_t b_k_stride, b_panel_step;
      EdgeStrip edge;
      if (p.pack_b) {
        PackBBlock<kPanelCols>(
            p.trans_b, p.B + (p.trans_b ? jc * p.ldb + pc : pc * p.ldb + jc),
            p.ldb, kb, nb, packed_b);
        b_block = packed_b;
        b_k_stride = kPanelCols;
        b_panel_step = kb * kPanelCols;
        // The packed remainder panel is already zero-padded.
        edge.b = packed_b + (full_cols / kPanelCols) * b_panel_step +
                 (nb - full_cols - partial);
        edge.k_stride = kPanelCols;
      } else {
        b_block = p.B + pc * p.ldb + jc;
        b_k_stride = p.ldb;
        b_panel_step = kPanelCols;
        if (partial != 0) {
          PackBBlock<kLanes>(false, b_block + (nb - partial), p.ldb, kb,
                             partial, packed_b);
        }
        edge.b = packed_b;
        edge.k_stride = kLanes;
      }

      for (std::size_t ir = m0; ir < m1; ir += kRows) {
        const std::size_t rows = std::min(kRows, m1 - ir);
        // The A panel as the micro-kernel sees it: a[r·row_step + k·k_step].
        std::size_t a_row_step = 1, a_k_step;
        bool rows_contiguous = true;
        if (p.pack_a) {
          PackAPanel<kRows>(
              p.trans_a, p.A + (p.trans_a ? pc * p.lda + ir : ir * p.lda + pc),
              p.lda, rows, kb, packed_a);
          tile.a = packed_a;
          a_k_step = kRows;
        } else if (p.trans_a) {
          tile.a = p.A + pc * p.lda + ir;
          a_k_step = p.lda;
        } else {
          tile.a = p.A + ir * p.lda + pc;
          a_row_step = p.lda;
          a_k_step = 1;
          rows_contiguous = false;
        }
        tile.a_row_stride = a_row_step;
        tile.a_k_stride = a_k_step;
        tile.b_k_stride = b_k_stride;

        std::size_t col = 0;
        for (; col < full_cols; col += kPanelCols) {
          tile.b = b_block + (col / kPanelCols) * b_panel_step;
          tile.c = p.C + ir * p.ldc + jc + col;
          tile.cols = kPanelCols;
          tile.bias = p.epilogue && p.epilogue->bias
                          ? p.epilogue->bias + jc + col
                          : nullptr;
          RunRowsAnyLayout<kRows, kVecs>(rows_contiguous, rows, a_row_step,
                                         tile);
        }
        if (col < nb) {
          tile.b = b_block + (col / kPanelCols) * b_panel_step;
          tile.c = p.C + ir * p.ldc + jc + col;
          tile.bias = p.epilogue && p.epilogue->bias
                          ? p.epilogue->bias + jc + col
                          : nullptr;
          RunRemainderColumns<kRows, kVecs>(rows, nb - col, rows_contiguous,
                                            a_row_step, edge, tile);
        }
      }
      pc += kb;
    } while (pc < p.K);
  }
}

// Splits C into one block per thread, along M (in whole row tiles) or N (in
// whole vectors), whichever has more tiles, and runs GemmBlock on each.
template <std::size_t kRows, std::size_t kVecs>
void GemmParallel(const GemmProblem& p, bool worth_threads) {
  constexpr std::size_t kLanes = hn::MaxLanes(hn::ScalableTag<float>());
  const int threads =
      worth_threads && !omp_in_parallel() ? omp_get_max_threads() : 1;
  if (threads <= 1) {
    GemmBlock<kRows, kVecs>(p, 0, p.M, 0, p.N);
    return;
  }
  const std::size_t row_tiles = (p.M + kRows - 1) / kRows;
  const std::size_t col_vectors = (p.N + kLanes - 1) / kLanes;
  const bool split_rows = row_tiles > col_vectors / kVecs;
  const std::size_t units = split_rows ? row_tiles : col_vectors;
#pragma omp parallel num_threads(threads)
  {
    const std::size_t team = static_cast<std::size_t>(omp_get_num_threads());
    const std::size_t t = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t first = units * t / team, last = units * (t + 1) / team;
    if (first < last) {
      if (split_rows) {
        GemmBlock<kRows, kVecs>(p, first * kRows, std::min(p.M, last * kRows),
                                0, p.N);
      } else {
        GemmBlock<kRows, kVecs>(p, 0, p.M, first * kLanes,
                                std::min(p.N, last * kLanes));
      }
    }
  }
}

// Calls body(n0, n1) on columns [0, N): once on this thread, or, when
// worth_threads and not already inside a parallel region, once per thread
// on consecutive shares of whole `granule`s of columns (the last share ends
// at N). Each column is computed the same way whoever computes it.
template <class Body>
void SplitColumns(std::size_t N, std::size_t granule, bool worth_threads,
                  const Body& body) {
  const int threads =
      worth_threads && !omp_in_parallel() ? omp_get_max_threads() : 1;
  if (threads <= 1) {
    body(std::size_t{0}, N);
    return;
  }
  const std::size_t units = (N + granule - 1) / granule;
#pragma omp parallel num_threads(threads)
  {
    const std::size_t team = static_cast<std::size_t>(omp_get_num_threads());
    const std::size_t t = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t first = units * t / team * granule;
    const std::size_t last = std::min(N, units * (t + 1) / team * granule);
    if (first < last) body(first, last);
  }
}

// RowProduct over all N columns of p, in whole vectors of columns per
// thread (each streams its share of B).
void RowProductParallel(const RowEntries& a, const GemmProblem& p,
                        bool worth_threads) {
  constexpr std::size_t kLanes = hn::MaxLanes(hn::ScalableTag<float>());
  SplitColumns(
      p.N, kLanes, worth_threads, [&](std::size_t first, std::size_t last) {
        RowProduct(a, p.B, p.ldb, p.C, p.accumulate, p.epilogue, first, last);
      });
}

// C (1 × N) = [C +] a · B for B stored K × N, when a is sparse enough that
// skipping B's rows for its zeros pays (see gemm_row-inl.h); returns false,
// having computed nothing, when it is too dense.
bool SparseRowGemm(const GemmProblem& p) {
  float* scratch =
      gemm_detail::ThreadScratch(gemm_detail::ScratchSlot::kSparseRow, 2 * p.K);
  float* values = scratch;
  auto* rows = reinterpret_cast<std::uint32_t*>(scratch + p.K);
  const std::size_t count = CompressNonZeros(p.A, p.K, values, rows);
  if (static_cast<double>(count) >
      gemm_tuning::kSparseMaxDensity * static_cast<double>(p.K)) {
    return false;
  }
  RowProductParallel(RowEntries{values, 1, rows, count}, p,
                     p.K * p.N >= gemm_tuning::kParallelMinVectorFloats);
  return true;
}

void GemmImpl(Transpose trans_a, Transpose trans_b, std::size_t M,
              std::size_t N, std::size_t K, const float* A, std::size_t lda,
              const float* B, std::size_t ldb, float* C, std::size_t ldc,
              bool accumulate, const Epilogue& epilogue) {
  if (M == 0 || N == 0) return;
  const bool trivial_epilogue =
      epilogue.bias == nullptr && epilogue.activation == Activation::kIdentity;
  GemmProblem p{trans_a == Transpose::kYes,
                trans_b == Transpose::kYes,
                M,
                N,
                K,
                A,
                lda,
                B,
                ldb,
                C,
                ldc,
                accumulate,
                trivial_epilogue ? nullptr : &epilogue,
                /*pack_a=*/false,
                /*pack_b=*/false};
  if (p.trans_b && !p.trans_a && M <= kDotMaxRows) {
    // A few rows times a transposed B: dot products along K, never packing
    // (transposing) B. Split over threads by columns, like the GEMM.
    SplitColumns(N, 1, K * N >= gemm_tuning::kParallelMinVectorFloats,
                 [&](std::size_t first, std::size_t last) {
                   DotProductRows(M, K, A, lda, B, ldb, C, ldc, accumulate,
                                  p.epilogue, first, last);
                 });
    return;
  }
  if (M == 1 && !p.trans_b) {
    // One row of C (a single sample): see gemm_row-inl.h.
    if (!p.trans_a && K >= gemm_tuning::kSparseMinDepth &&
        N >= gemm_tuning::kSparseMinColumns && SparseRowGemm(p)) {
      return;
    }
    RowProductParallel(RowEntries{A, p.trans_a ? lda : 1, nullptr, K}, p,
                       K * N >= gemm_tuning::kParallelMinVectorFloats);
    return;
  }
  if (M <= kVectorRows) {
    // Matrix-vector shapes: B streams once through wide tiles, limited by
    // L2 bandwidth, so a large B is split between the cores' caches.
    p.pack_b = p.trans_b;
    GemmParallel<kVectorRows, kVectorVecs>(
        p, K * N >= gemm_tuning::kParallelMinVectorFloats);
    return;
  }
  p.pack_b = p.trans_b || M > gemm_tuning::kInPlaceBMaxRows;
  p.pack_a = M * K > gemm_tuning::kInPlaceAMaxFloats;
  GemmParallel<kTileRows, kTileVecs>(
      p, M * N * K >= gemm_tuning::kParallelMinMacs);
}

// sums[c] = [sums[c] +] Σ_r X[r][c]; X is rows×cols, row stride ldx.
// Four column vectors at a time: four independent add chains hide the
// add latency, and each row contributes in order, as in the reference.
void ColumnSumsImpl(const float* HWY_RESTRICT X, std::size_t rows,
                    std::size_t cols, std::size_t ldx, float* HWY_RESTRICT sums,
                    bool accumulate) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  constexpr std::size_t kLanes = hn::MaxLanes(d);
  constexpr std::size_t kVecs = 4;
  std::size_t c = 0;
  for (; c + kVecs * kLanes <= cols; c += kVecs * kLanes) {
    V acc[kVecs];
    for (std::size_t v = 0; v < kVecs; ++v) {
      acc[v] = accumulate ? hn::LoadU(d, sums + c + v * kLanes) : hn::Zero(d);
    }
    for (std::size_t r = 0; r < rows; ++r) {
      const float* row = X + r * ldx + c;
      for (std::size_t v = 0; v < kVecs; ++v) {
        acc[v] = hn::Add(acc[v], hn::LoadU(d, row + v * kLanes));
      }
    }
    for (std::size_t v = 0; v < kVecs; ++v) {
      hn::StoreU(acc[v], d, sums + c + v * kLanes);
    }
  }
  for (; c + kLanes <= cols; c += kLanes) {
    V acc = accumulate ? hn::LoadU(d, sums + c) : hn::Zero(d);
    for (std::size_t r = 0; r < rows; ++r) {
      acc = hn::Add(acc, hn::LoadU(d, X + r * ldx + c));
    }
    hn::StoreU(acc, d, sums + c);
  }
  for (; c < cols; ++c) {
    float sum = accumulate ? sums[c] : 0.0f;
    for (std::size_t r = 0; r < rows; ++r) sum += X[r * ldx + c];
    sums[c] = sum;
  }
}

}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
