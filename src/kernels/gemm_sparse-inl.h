// One row of C from a mostly-zero row of A: c = [c +] a · B, then the
// epilogue, reading only the rows of B where a is non-zero.
//
// A single sample's product (a Dense layer at batch 1) does K·N
// multiply-adds on K·N weights, so it runs at the speed B streams from L2,
// not at the FMA units'. Its input is often mostly zero: half the pixels of
// a Fashion-MNIST image, four fifths of an MNIST digit, about half of the
// activations after a ReLU. Every zero of a skips a whole row of B.
//
// Skipping is exact for finite B: a zero adds 0·b = 0 to the running sum,
// which changes no bit of it, and the non-zero terms are summed along K in
// the order the dense micro-kernel sums them, so both give the same bits.
//
//   a: 1 × K, B: K × N (row stride ldb), c: 1 × N.

#if defined(SEQUENT_SRC_KERNELS_GEMM_SPARSE_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_GEMM_SPARSE_INL_H_
#undef SEQUENT_SRC_KERNELS_GEMM_SPARSE_INL_H_
#else
#define SEQUENT_SRC_KERNELS_GEMM_SPARSE_INL_H_
#endif

#include <cstddef>
#include <cstdint>

#include "gemm_microkernel-inl.h"
#include "hwy/highway.h"
#include "sequent/kernels/gemm.hpp"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {

// The non-zero entries of a row: values[i] = a[rows[i]], rows ascending.
struct SparseRow {
  const float* values;
  const std::uint32_t* rows;
  std::size_t count;
};

// Writes a's non-zero values and their indices (room for K of each) and
// returns how many there are. A vector of zeros (an image's background, a
// dead stretch of ReLUs) is skipped with one compare; the others go through
// a branch-free scalar loop, since a branch per entry would mispredict on
// every other pixel and Highway 1.0.3's CompressStore on AVX2 copies a 1 KiB
// table to the stack on every call (measured: 6 µs for K = 784, three times
// the whole product).
inline std::size_t CompressNonZeros(const float* HWY_RESTRICT a, std::size_t K,
                                    float* HWY_RESTRICT values,
                                    std::uint32_t* HWY_RESTRICT rows) {
  const hn::ScalableTag<float> d;
  const std::size_t lanes = hn::Lanes(d);
  std::size_t count = 0, k = 0;
  const auto keep = [&](std::size_t at) {
    rows[count] = static_cast<std::uint32_t>(at);
    values[count] = a[at];
    count += a[at] != 0.0f;
  };
  for (; k + lanes <= K; k += lanes) {
    if (hn::AllTrue(d, hn::Eq(hn::LoadU(d, a + k), hn::Zero(d)))) continue;
    for (std::size_t i = 0; i < lanes; ++i) keep(k + i);
  }
  for (; k < K; ++k) keep(k);
  return count;
}

// c[0, t.cols) for the tile's kVecs vectors of columns: the sum over the
// sparse row's entries of value · B row, then the epilogue as the dense
// micro-kernel applies it. `b` points at column 0 of the tile in B's row 0;
// a narrow tile (t.cols < kVecs · lanes) reads no B past its last column.
template <std::size_t kVecs>
HWY_NOINLINE void SparseRowTile(const SparseRow& a, const float* b,
                                std::size_t ldb, const TileArgs& t) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  constexpr std::size_t kLanes = hn::MaxLanes(d);
  constexpr std::size_t kWidth = kVecs * kLanes;
  const bool full_width = t.cols == kWidth;
  HWY_ALIGN float staged[kWidth] = {};

  V acc[1][kVecs];  // one row, in the micro-kernel's layout
  if (t.load_c) {
    std::memcpy(staged, t.c, t.cols * sizeof(float));
  }
  HWY_UNROLL(8)
  for (std::size_t v = 0; v < kVecs; ++v) {
    acc[0][v] = hn::Load(d, staged + v * kLanes);
  }
  if (full_width) {
    for (std::size_t i = 0; i < a.count; ++i) {
      const float* HWY_RESTRICT row = b + a.rows[i] * ldb;
      const V value = hn::Set(d, a.values[i]);
      HWY_UNROLL(8)
      for (std::size_t v = 0; v < kVecs; ++v) {
        acc[0][v] =
            hn::MulAdd(value, hn::LoadU(d, row + v * kLanes), acc[0][v]);
      }
    }
  } else {
    for (std::size_t i = 0; i < a.count; ++i) {
      const float* HWY_RESTRICT row = b + a.rows[i] * ldb;
      const V value = hn::Set(d, a.values[i]);
      HWY_UNROLL(8)
      for (std::size_t v = 0; v < kVecs; ++v) {
        if (v * kLanes < t.cols) {
          acc[0][v] = hn::MulAdd(
              value, LoadPartial(d, row + v * kLanes, t.cols - v * kLanes),
              acc[0][v]);
        }
      }
    }
  }

  const Epilogue* epilogue = t.epilogue;
  if (epilogue != nullptr) EpilogueInRegisters(d, t, acc);
  HWY_UNROLL(8)
  for (std::size_t v = 0; v < kVecs; ++v) {
    hn::Store(acc[0][v], d, staged + v * kLanes);
  }
  std::memcpy(t.c, staged, t.cols * sizeof(float));
  if (epilogue != nullptr && !IsPiecewiseLinear(epilogue->activation)) {
    ActivateStoredTile(d, epilogue->activation, epilogue->alpha, t.c, t.ldc, 1,
                       t.cols);
  }
}

// c[n0, n1) of the sparse row times B, in tiles of kVecs vectors, the
// columns past the last whole tile by a narrower one.
template <std::size_t kVecs>
void SparseRowProduct(const SparseRow& a, const float* B, std::size_t ldb,
                      float* c, bool accumulate, const Epilogue* epilogue,
                      std::size_t n0, std::size_t n1) {
  constexpr std::size_t kWidth = kVecs * hn::MaxLanes(hn::ScalableTag<float>());
  TileArgs t{};
  t.ldc = 1;
  t.load_c = accumulate;
  t.epilogue = epilogue;
  for (std::size_t j = n0; j < n1; j += kWidth) {
    t.c = c + j;
    t.cols = std::min(kWidth, n1 - j);
    t.bias = epilogue && epilogue->bias ? epilogue->bias + j : nullptr;
    SparseRowTile<kVecs>(a, B + j, ldb, t);
  }
}

}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
