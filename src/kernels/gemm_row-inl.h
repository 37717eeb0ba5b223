// One row of C: c = [c +] a · B, then the epilogue, with every column of
// the row in accumulators at once.
//
//   a: 1 × K (every entry, or only its non-zero ones), B: K × N (row
//   stride ldb), c: 1 × N.
//
// A single sample's product (a Dense layer at batch 1) does K·N
// multiply-adds on K·N weights and reuses none of them, so the row kernel
// spends every register on accumulators. The tile kernels cover a row
// with four vectors of columns per pass over K (eight with AVX-512), each
// an FMA chain: a narrow row (N = 10: a whole and a partial
// vector, in two passes) waits four cycles of FMA latency per step of K.
// Here one pass holds up to kRowVecs vectors, each its own chain, and the
// partial vector is loaded masked instead of from a zero-padded copy.
//
// A row is often mostly zero: half the pixels of a Fashion-MNIST image,
// four fifths of an MNIST digit, about half of the activations after a
// ReLU. A sparse row lists its non-zero entries, and every zero skips a
// whole row of B. Skipping is exact for finite B: a zero adds 0·b = 0 to
// the running sum, which changes no bit of it.
//
// Either way every column is one chain of FMAs over k in order, started
// from zero or from c, as in the tile kernels: a row gives the bits it
// would give as a row of a batch.

#if defined(SEQUENT_SRC_KERNELS_GEMM_ROW_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_GEMM_ROW_INL_H_
#undef SEQUENT_SRC_KERNELS_GEMM_ROW_INL_H_
#else
#define SEQUENT_SRC_KERNELS_GEMM_ROW_INL_H_
#endif

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "gemm_microkernel-inl.h"
#include "hwy/highway.h"
#include "partial_vector-inl.h"
#include "sequent/kernels/gemm.hpp"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {

// Vectors of columns in one pass. With AVX2's 16 registers two of the 16
// accumulators spill to the stack (a load and a store each per entry of a,
// beside 16 loads from B), yet one pass beats two of eight: each row of B
// streams as one run of cache lines, which the prefetcher follows. On one
// thread: 1x128x784 7.6 -> 6.3 us, 1x120x400 2.6 -> 2.4 us, MLP predict
// of one image 5.5 -> 4.9 us (medians of interleaved runs).
constexpr std::size_t kRowVecs = 16;

// The entries of a that the product reads: every one, `step` floats apart
// (1, or lda for a transposed A), or only the non-zero ones, listed with
// their indices in ascending order.
struct RowEntries {
  const float* values;  // entry i is values[i · step]
  std::size_t step;
  const std::uint32_t* rows;  // entry i is a[rows[i]]; null: a[i]
  std::size_t count;
};

// For each pattern of non-zero lanes of a vector of up to 8 (bit i: lane i),
// those lanes' indices in ascending order, four bits each.
inline constexpr std::array<std::uint32_t, 256> kNonZeroLanes = [] {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t bits = 0; bits < 256; ++bits) {
    std::uint32_t packed = 0, at = 0;
    for (std::uint32_t lane = 0; lane < 8; ++lane) {
      if (bits >> lane & 1) packed |= lane << (4 * at++);
    }
    table[bits] = packed;
  }
  return table;
}();

// Writes a's non-zero values and their indices (room for K of each) and
// returns how many there are. NaN counts as non-zero, so it propagates.
// With up to 8 lanes a vector's non-zero lanes are moved to its front by
// one permutation from kNonZeroLanes, and a whole vector is stored: there
// is room, as count ≤ k. (A branch per entry would mispredict on every
// other pixel, and Highway 1.0.3's CompressStore on AVX2 copies a 1 KiB
// table to the stack on every call: 6 µs for K = 784, three times the
// whole product.) Wider vectors go through a branch-free scalar loop.
inline std::size_t CompressNonZeros(const float* HWY_RESTRICT a, std::size_t K,
                                    float* HWY_RESTRICT values,
                                    std::uint32_t* HWY_RESTRICT rows) {
  const hn::ScalableTag<float> d;
  const hn::RebindToUnsigned<decltype(d)> du;
  constexpr std::size_t kLanes = hn::MaxLanes(d);
  std::size_t count = 0, k = 0;
  const auto keep = [&](std::size_t at) {
    rows[count] = static_cast<std::uint32_t>(at);
    values[count] = a[at];
    count += a[at] != 0.0f;
  };
  if constexpr (kLanes <= 8) {
    const auto lane_shifts = hn::Mul(hn::Iota(du, 0), hn::Set(du, 4));
    for (; k + kLanes <= K; k += kLanes) {
      const auto v = hn::LoadU(d, a + k);
      const auto non_zero = hn::Not(hn::Eq(v, hn::Zero(d)));
      std::uint8_t bits[8] = {};
      hn::StoreMaskBits(d, non_zero, bits);
      const auto lanes =
          hn::And(hn::Shr(hn::Set(du, kNonZeroLanes[bits[0]]), lane_shifts),
                  hn::Set(du, 15));
      hn::StoreU(hn::TableLookupLanes(v, hn::IndicesFromVec(d, lanes)), d,
                 values + count);
      hn::StoreU(hn::Add(lanes, hn::Set(du, static_cast<std::uint32_t>(k))), du,
                 rows + count);
      count += hn::CountTrue(d, non_zero);
    }
  } else {
    for (; k + kLanes <= K; k += kLanes) {
      if (hn::AllTrue(d, hn::Eq(hn::LoadU(d, a + k), hn::Zero(d)))) continue;
      for (std::size_t i = 0; i < kLanes; ++i) keep(k + i);
    }
  }
  for (; k < K; ++k) keep(k);
  return count;
}

// c[0, t.cols) for kVecs vectors of columns, the last one whole or
// partial: the sum over a's entries of value · B row, then the epilogue as
// the tile kernels apply it. `b` points at the tile's column 0 in B's row
// 0; no B or c past column t.cols is read or written. The last vector is
// always loaded masked: one masked load per entry of a is off the FMA
// chains' critical path, and one kernel per width halves the code.
template <std::size_t kVecs>
HWY_NOINLINE void RowTile(const RowEntries& a, const float* HWY_RESTRICT b,
                          std::size_t ldb, const TileArgs& t) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  constexpr std::size_t kLanes = hn::MaxLanes(d);
  constexpr std::size_t kLast = kVecs - 1;
  const std::size_t tail = t.cols - kLast * kLanes;  // 1..lanes
  const auto tail_mask = hn::FirstN(d, tail);        // once, not per load
  const auto load_last = [&](const float* p) HWY_ATTR {
    if constexpr (kMaskedFloatsStayInBounds) {
      return hn::MaskedLoad(tail_mask, d, p + kLast * kLanes);
    } else {
      return LoadFirst(d, p + kLast * kLanes, tail);
    }
  };

  V acc[kVecs];
  if (t.load_c) {
    HWY_UNROLL(16)
    for (std::size_t v = 0; v < kLast; ++v) {
      acc[v] = hn::LoadU(d, t.c + v * kLanes);
    }
    acc[kLast] = load_last(t.c);
  } else {
    HWY_UNROLL(16)
    for (std::size_t v = 0; v < kVecs; ++v) acc[v] = hn::Zero(d);
  }
  const auto add_row = [&](float value,
                           const float* HWY_RESTRICT row) HWY_ATTR {
    const V broadcast = hn::Set(d, value);
    HWY_UNROLL(16)
    for (std::size_t v = 0; v < kLast; ++v) {
      acc[v] = hn::MulAdd(broadcast, hn::LoadU(d, row + v * kLanes), acc[v]);
    }
    acc[kLast] = hn::MulAdd(broadcast, load_last(row), acc[kLast]);
  };
  if (a.rows != nullptr) {
    for (std::size_t i = 0; i < a.count; ++i) {
      add_row(a.values[i], b + a.rows[i] * ldb);
    }
  } else {
    for (std::size_t i = 0; i < a.count; ++i) {
      add_row(a.values[i * a.step], b + i * ldb);
    }
  }

  const Epilogue* epilogue = t.epilogue;
  if (epilogue != nullptr) {
    const Activation in_registers = IsPiecewiseLinear(epilogue->activation)
                                        ? epilogue->activation
                                        : Activation::kIdentity;
    HWY_UNROLL(16)
    for (std::size_t v = 0; v < kVecs; ++v) {
      if (t.bias != nullptr) {
        acc[v] = hn::Add(acc[v], v < kLast ? hn::LoadU(d, t.bias + v * kLanes)
                                           : load_last(t.bias));
      }
      acc[v] = Activate(d, in_registers, epilogue->alpha, acc[v]);
    }
  }
  HWY_UNROLL(16)
  for (std::size_t v = 0; v < kLast; ++v) {
    hn::StoreU(acc[v], d, t.c + v * kLanes);
  }
  if constexpr (kMaskedFloatsStayInBounds) {
    hn::BlendedStore(acc[kLast], tail_mask, d, t.c + kLast * kLanes);
  } else {
    StoreFirst(d, acc[kLast], t.c + kLast * kLanes, tail);
  }
  if (epilogue != nullptr && !IsPiecewiseLinear(epilogue->activation)) {
    ActivateStoredTile(d, epilogue->activation, epilogue->alpha, t.c, t.ldc, 1,
                       t.cols);
  }
}

using RowTileFn = void (*)(const RowEntries&, const float*, std::size_t,
                           const TileArgs&);

// RowTile for 1..kRowVecs vectors.
template <std::size_t... kIndex>
constexpr std::array<RowTileFn, sizeof...(kIndex)> RowTileTable(
    std::index_sequence<kIndex...>) {
  return {&RowTile<kIndex + 1>...};
}

// c[n0, n1) = [c +] a · B: in as few passes as fit kRowVecs vectors each,
// the vectors shared evenly between them (20 = 10 + 10, not 16 + 4: a pass
// of fewer than 8 vectors is bound by FMA latency, not by their number).
inline void RowProduct(const RowEntries& a, const float* B, std::size_t ldb,
                       float* c, bool accumulate, const Epilogue* epilogue,
                       std::size_t n0, std::size_t n1) {
  constexpr std::size_t kLanes = hn::MaxLanes(hn::ScalableTag<float>());
  static constexpr auto kTiles =
      RowTileTable(std::make_index_sequence<kRowVecs>());
  TileArgs t{};
  t.ldc = 1;
  t.load_c = accumulate;
  t.epilogue = epilogue;
  std::size_t vectors = (n1 - n0 + kLanes - 1) / kLanes;
  std::size_t passes = (vectors + kRowVecs - 1) / kRowVecs;
  for (std::size_t j = n0; j < n1; --passes) {
    const std::size_t vecs = (vectors + passes - 1) / passes;
    vectors -= vecs;
    t.c = c + j;
    t.cols = std::min(vecs * kLanes, n1 - j);
    t.bias = epilogue && epilogue->bias ? epilogue->bias + j : nullptr;
    kTiles[vecs - 1](a, B + j, ldb, t);
    j += t.cols;
  }
}

}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
