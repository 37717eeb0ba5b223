// The register-blocked micro-kernel of the convolutions, and its epilogue.
//
// One call computes a kRows × (kVecs·lanes) tile of a product C = A · B over
// `depth` steps, keeping the whole tile in kRows·kVecs vector registers:
// per step it loads kVecs vectors of a row of B and broadcasts kRows values
// of a column of A. A is a packed patch block whose layout is fixed at
// compile time, so the kRows broadcasts of a step are constant offsets from
// one pointer (an x86 displacement each, no extra index registers):
//   forward, backward data: rows are pixels, A(r, k) = a[r·stride + k]
//   backward weights:       rows are patch columns, the depth runs over
//                           pixels, A(r, m) = a[r + m·stride]

#if defined(SEQUENT_SRC_KERNELS_CONV_MICROKERNEL_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_CONV_MICROKERNEL_INL_H_
#undef SEQUENT_SRC_KERNELS_CONV_MICROKERNEL_INL_H_
#else
#define SEQUENT_SRC_KERNELS_CONV_MICROKERNEL_INL_H_
#endif

#include <omp.h>

#include <cstddef>
#include <cstring>

#include "activation-inl.h"  // ApplyActivation
#include "hwy/highway.h"
#include "partial_vector-inl.h"
#include "sequent/kernels/gemm.hpp"  // Epilogue

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {
namespace conv_internal {
namespace hn = hwy::HWY_NAMESPACE;

// Tile shapes. An FMA has 4 cycles of latency and up to two issue ports, so
// a tile needs at least 8 independent accumulators; more rows per tile then
// mean fewer loads of B per FMA.
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
// 32 vector registers: 12×2 accumulators + 2 B vectors + 1 broadcast
// (+ 2 column sums in backward weights).
constexpr std::size_t kConvTileRows = 12;
#else
// 16 vector registers: 6×2 accumulators + 2 B vectors + 1 broadcast.
constexpr std::size_t kConvTileRows = 6;
#endif
constexpr std::size_t kConvTileVecs = 2;

// Row stride of a packed patch block, in floats: one K slice of a patch row
// (forward) fits in it. 12 rows of it (18 KiB) stay in L1 while the tile
// sweeps the output channels; a 3×3 kernel over 32 channels (288 columns)
// fits in one slice, 64 and 128 channels take two and three.
constexpr std::size_t kPatchStride = 384;

// What one micro-kernel call reads and writes.
struct ConvTile {
  const float* a;  // packed patch block, layout fixed by the kernel template
  // B(k, j) = b[k·b_stride + j], readable over the full kVecs·lanes width.
  const float* b;
  std::size_t b_stride;
  std::size_t depth;  // steps of the product (per depth row)
  // The steps may come in several rows, A and B jumping from one row's
  // start to the next: the kernel rows of a direct convolution, read from
  // the image itself. One row by default.
  std::size_t depth_rows = 1;
  std::size_t a_row_jump = 0, b_row_jump = 0;
  float* c;  // tile's top-left element of C, row stride c_stride
  std::size_t c_stride;
  std::size_t rows;  // rows of the tile inside C (≤ kRows); the others are
                     // computed from readable padding and dropped
  std::size_t cols;  // columns inside C (≤ kVecs·lanes)
  bool load_c;       // start from C's current values instead of zero
  const Epilogue* epilogue;  // bias + activation on the final sums, or null
  const float* bias;         // epilogue bias at the tile's first column
  // Backward weights: column_sums[0, cols) (+)= Σ_k B(k, :), the bias
  // gradient, from the B rows the tile loads anyway; null otherwise.
  float* column_sums;
  bool load_column_sums;
};

// Valid columns of vector v of a tile `cols` wide: all lanes, some or none.
template <class D>
HWY_INLINE std::size_t ValidLanes(D d, std::size_t cols, std::size_t v) {
  const std::size_t start = v * hn::Lanes(d);
  const std::size_t lanes = hn::Lanes(d);
  return cols <= start ? 0 : (cols - start < lanes ? cols - start : lanes);
}

template <Activation kind, class D, std::size_t kRows, std::size_t kVecs>
HWY_INLINE void ActivateTile(D d, float alpha,
                             hn::Vec<D> (&acc)[kRows][kVecs]) {
  const hn::Vec<D> alpha_vec = hn::Set(d, alpha);
  HWY_UNROLL(8)
  for (std::size_t r = 0; r < kRows; ++r) {
    HWY_UNROLL(4)
    for (std::size_t v = 0; v < kVecs; ++v) {
      acc[r][v] = ApplyActivation<kind>(d, acc[r][v], alpha_vec);
    }
  }
}

// values = f(values) for the epilogue's activation, in registers.
template <class D, std::size_t kRows, std::size_t kVecs>
HWY_INLINE void Activate(D d, const Epilogue& epilogue,
                         hn::Vec<D> (&values)[kRows][kVecs]) {
  const float alpha = epilogue.alpha;
  switch (epilogue.activation) {
    case Activation::kIdentity:
      return;
    case Activation::kReLU:
      return ActivateTile<Activation::kReLU>(d, alpha, values);
    case Activation::kLeakyReLU:
      return ActivateTile<Activation::kLeakyReLU>(d, alpha, values);
    case Activation::kSigmoid:
      return ActivateTile<Activation::kSigmoid>(d, alpha, values);
    case Activation::kTanh:
      return ActivateTile<Activation::kTanh>(d, alpha, values);
  }
}

// acc = f(acc + bias), in registers, before the single store of the tile.
template <class D, std::size_t kRows, std::size_t kVecs>
HWY_INLINE void ApplyEpilogue(D d, const ConvTile& t,
                              hn::Vec<D> (&acc)[kRows][kVecs]) {
  if (t.bias != nullptr) {
    for (std::size_t v = 0; v < kVecs; ++v) {
      const std::size_t valid = ValidLanes(d, t.cols, v);
      if (valid == 0) continue;
      const hn::Vec<D> bias = LoadFirst(d, t.bias + v * hn::Lanes(d), valid);
      for (std::size_t r = 0; r < kRows; ++r) {
        acc[r][v] = hn::Add(acc[r][v], bias);
      }
    }
  }
  Activate(d, *t.epilogue, acc);
}

// C tile (kRows × kVecs·lanes of D, row stride c_stride) = [C +] A · B over
// t.depth steps, then the epilogue. A(r, s) = t.a[r·kRowStep + s·kDepthStep].
// Each output is one FMA chain over the steps in order, so the blocking
// around this call never changes a result.
template <class D, std::size_t kRows, std::size_t kVecs, std::size_t kRowStep,
          std::size_t kDepthStep, bool kColumnSums>
HWY_NOINLINE void ConvMicroKernel(D d, const ConvTile& t) {
  // Direct convolutions read A straight from an image, where one step's
  // broadcasts overlap the next ones'; left visible, GCC keeps them in
  // registers across steps and rotates them, which spills and runs at half
  // speed, so the pointer is hidden from it after each step.
  constexpr bool kOverlappingSteps = kRowStep < kRows && kDepthStep < kRows;
  using V = hn::Vec<D>;
  const std::size_t lanes = hn::Lanes(d);

  std::size_t valid[kVecs];
  for (std::size_t v = 0; v < kVecs; ++v) valid[v] = ValidLanes(d, t.cols, v);

  V acc[kRows][kVecs];
  for (std::size_t r = 0; r < kRows; ++r) {
    for (std::size_t v = 0; v < kVecs; ++v) {
      acc[r][v] = t.load_c && r < t.rows && valid[v] != 0
                      ? LoadFirst(d, t.c + r * t.c_stride + v * lanes, valid[v])
                      : hn::Zero(d);
    }
  }
  V sums[kVecs];
  if constexpr (kColumnSums) {
    for (std::size_t v = 0; v < kVecs; ++v) {
      sums[v] = t.load_column_sums && valid[v] != 0
                    ? LoadFirst(d, t.column_sums + v * lanes, valid[v])
                    : hn::Zero(d);
    }
  }

  const std::size_t b_stride = t.b_stride;
  for (std::size_t row = 0; row < t.depth_rows; ++row) {
    const float* HWY_RESTRICT a = t.a + row * t.a_row_jump;
    const float* HWY_RESTRICT b = t.b + row * t.b_row_jump;
    for (std::size_t step = 0; step < t.depth; ++step) {
      V b_row[kVecs];
      HWY_UNROLL(4)
      for (std::size_t v = 0; v < kVecs; ++v) {
        b_row[v] = hn::LoadU(d, b + v * lanes);
        if constexpr (kColumnSums) sums[v] = hn::Add(sums[v], b_row[v]);
      }
      HWY_UNROLL(16)
      for (std::size_t r = 0; r < kRows; ++r) {
        const V a_value = hn::Set(d, a[r * kRowStep]);
        HWY_UNROLL(4)
        for (std::size_t v = 0; v < kVecs; ++v) {
          acc[r][v] = hn::MulAdd(a_value, b_row[v], acc[r][v]);
        }
      }
      a += kDepthStep;
      b += b_stride;
#if HWY_COMPILER_GCC || HWY_COMPILER_CLANG
      // An empty statement that "changes" a as far as the compiler knows.
      if constexpr (kOverlappingSteps) asm volatile("" : "+r"(a));
#endif
    }
  }

  if (t.epilogue != nullptr) ApplyEpilogue(d, t, acc);
  for (std::size_t r = 0; r < kRows; ++r) {
    if (r >= t.rows) break;
    for (std::size_t v = 0; v < kVecs; ++v) {
      if (valid[v] != 0) {
        StoreFirst(d, acc[r][v], t.c + r * t.c_stride + v * lanes, valid[v]);
      }
    }
  }
  if constexpr (kColumnSums) {
    for (std::size_t v = 0; v < kVecs; ++v) {
      if (valid[v] != 0) {
        StoreFirst(d, sums[v], t.column_sums + v * lanes, valid[v]);
      }
    }
  }
}

constexpr std::size_t kConvLanes = hn::MaxLanes(hn::ScalableTag<float>());
constexpr std::size_t kConvPanelCols = kConvTileVecs * kConvLanes;

constexpr std::size_t RoundUp(std::size_t n, std::size_t multiple) {
  return (n + multiple - 1) / multiple * multiple;
}

// Runs the micro-kernel on a tile `cols` (≤ kConvPanelCols) wide: the full
// panel kernel, a one-vector kernel for a narrower remainder, and on wide
// vectors a half-width one for channel counts of 8 or fewer (LeNet's 6),
// which would otherwise waste most lanes.
template <std::size_t kRowStep, std::size_t kDepthStep, bool kColumnSums>
HWY_INLINE void RunTile(std::size_t cols, const ConvTile& tile) {
  const hn::ScalableTag<float> d;
  if (cols > kConvLanes) {
    ConvMicroKernel<decltype(d), kConvTileRows, kConvTileVecs, kRowStep,
                    kDepthStep, kColumnSums>(d, tile);
    return;
  }
  if constexpr (kConvLanes > 8) {
    if (cols <= 8) {
      const hn::CappedTag<float, 8> d8;
      ConvMicroKernel<decltype(d8), kConvTileRows, 1, kRowStep, kDepthStep,
                      kColumnSums>(d8, tile);
      return;
    }
  }
  ConvMicroKernel<decltype(d), kConvTileRows, 1, kRowStep, kDepthStep,
                  kColumnSums>(d, tile);
}

// Below this many multiply-adds a pass runs on the calling thread: waking
// the OpenMP team costs about as much as the work. (Above it, measured:
// LeNet's second layer for one image, 240K, takes 6.6 µs on one thread and
// 4.5 on two.)
constexpr std::size_t kParallelMinMacs = std::size_t{128} * 1024;

// The number of threads worth waking for `macs` multiply-adds.
inline int ThreadsFor(std::size_t macs) {
  if (macs < kParallelMinMacs || omp_in_parallel()) return 1;
  return omp_get_max_threads();
}

// Splits `row_units` × `col_units` of output into one block per thread
// along rows or columns, whichever leaves the busiest thread less work, and
// calls block(row_begin, row_end, col_begin, col_end) in units.
//
// Rows win ties and near-ties (up to an eighth more work for the busiest
// thread): a column split makes every thread pack the same rows of
// patches and run narrower tiles, costs the unit count does not show.
// (LeNet's second layer has 25 row tiles × 2 column vectors of weight
// gradient: split by columns, two threads were no faster than one.)
template <class Block>
void SplitOverThreads(int threads, std::size_t row_units, std::size_t col_units,
                      const Block& block) {
  if (threads <= 1) {
    block(std::size_t{0}, row_units, std::size_t{0}, col_units);
    return;
  }
  const std::size_t t = static_cast<std::size_t>(threads);
  const bool split_rows = (row_units + t - 1) / t * col_units * 8 <=
                          (col_units + t - 1) / t * row_units * 9;
  const std::size_t units = split_rows ? row_units : col_units;
#pragma omp parallel num_threads(threads)
  {
    const std::size_t team = static_cast<std::size_t>(omp_get_num_threads());
    const std::size_t id = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t first = units * id / team;
    const std::size_t last = units * (id + 1) / team;
    if (first < last) {
      if (split_rows) {
        block(first, last, std::size_t{0}, col_units);
      } else {
        block(std::size_t{0}, row_units, first, last);
      }
    }
  }
}

}  // namespace conv_internal
}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
