// The register-blocked GEMM micro-kernel and its fused epilogue.
//
// One call computes a kRows × (kVecs·lanes) tile of C, keeping the whole
// tile in kRows·kVecs vector registers for the full K slice: per k step it
// loads kVecs vectors of a B row and broadcasts kRows values of an A column.

#if defined(SEQUENT_SRC_KERNELS_GEMM_MICROKERNEL_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_GEMM_MICROKERNEL_INL_H_
#undef SEQUENT_SRC_KERNELS_GEMM_MICROKERNEL_INL_H_
#else
#define SEQUENT_SRC_KERNELS_GEMM_MICROKERNEL_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "sequent/kernels/gemm.hpp"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Tile shapes. An FMA has 4 cycles of latency and two issue ports, so a
// tile needs at least 8 independent accumulators; beyond that, more rows
// per tile mean fewer B loads per FMA.
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
// 32 vector registers: 12×2 accumulators + 2 B vectors + 1 broadcast.
constexpr std::size_t kTileRows = 12;
constexpr std::size_t kTileVecs = 2;
// Matrix-vector tile (M ≤ 2): 2×8 accumulators, B streamed once.
constexpr std::size_t kVectorRows = 2;
constexpr std::size_t kVectorVecs = 8;
#else
// 16 vector registers: 6×2 accumulators + 2 B vectors + 1 broadcast.
constexpr std::size_t kTileRows = 6;
constexpr std::size_t kTileVecs = 2;
constexpr std::size_t kVectorRows = 2;
constexpr std::size_t kVectorVecs = 4;
#endif

// What one micro-kernel call reads and writes.
struct TileArgs {
  std::size_t k_len;  // depth of this K slice
  // op(A) element (r, k) of the tile is a[r·a_row_stride + k·a_k_stride].
  const float* a;
  std::size_t a_row_stride, a_k_stride;
  // op(B) element (k, c) of the tile is b[k·b_k_stride + c]; readable for
  // the whole kVecs·lanes width (zero padding beyond `cols`).
  const float* b;
  std::size_t b_k_stride;
  float* c;  // the tile's top-left element of C, row stride ldc
  std::size_t ldc;
  std::size_t cols;          // columns of the tile inside C (≤ kVecs·lanes)
  bool load_c;               // start from C's current values instead of zero
  const Epilogue* epilogue;  // set on the last K slice only
  const float* bias;         // epilogue bias at the tile's first column
};

// Activations cheap enough to apply to every accumulator in registers.
HWY_INLINE bool IsPiecewiseLinear(Activation activation) {
  return activation == Activation::kIdentity ||
         activation == Activation::kReLU ||
         activation == Activation::kLeakyReLU;
}

// f(x) of the activation, in registers.
template <class D, class V>
HWY_INLINE V Activate(D d, Activation activation, float alpha, V x) {
  switch (activation) {
    case Activation::kIdentity:
      return x;
    case Activation::kReLU:
      return hn::Max(hn::Zero(d), x);
    case Activation::kLeakyReLU:
      return hn::IfThenElse(x > hn::Zero(d), x, hn::Mul(hn::Set(d, alpha), x));
    case Activation::kSigmoid: {
      // Exp is only valid up to +104; e^88 already makes the result ~0.
      const V e = hn::Exp(d, hn::Min(hn::Set(d, 88.0f), hn::Neg(x)));
      const V one = hn::Set(d, 1.0f);
      return hn::Div(one, hn::Add(one, e));
    }
    case Activation::kTanh:
      return hn::Tanh(d, x);
  }
  return x;
}

// Applies a transcendental activation to `rows` rows of `cols` floats of C
// (row stride ldc) in place: the tile was just stored and is in L1. Kept
// out of the register-resident path because inlining Exp or Tanh for each
// of a tile's accumulators would multiply the kernels' code size.
template <class D>
HWY_NOINLINE void ActivateStoredTile(D d, Activation activation, float alpha,
                                     float* c, std::size_t ldc,
                                     std::size_t rows, std::size_t cols) {
  constexpr std::size_t kLanes = hn::MaxLanes(D());
  for (std::size_t r = 0; r < rows; ++r) {
    float* row = c + r * ldc;
    std::size_t col = 0;
    for (; col + kLanes <= cols; col += kLanes) {
      hn::StoreU(Activate(d, activation, alpha, hn::LoadU(d, row + col)), d,
                 row + col);
    }
    if (col < cols) {
      HWY_ALIGN float buffer[kLanes] = {};
      std::memcpy(buffer, row + col, (cols - col) * sizeof(float));
      hn::Store(Activate(d, activation, alpha, hn::Load(d, buffer)), d, buffer);
      std::memcpy(row + col, buffer, (cols - col) * sizeof(float));
    }
  }
}

// Loads `count` (≤ lanes) floats, zero-filling the rest without reading
// past p + count.
template <class D>
HWY_INLINE hn::Vec<D> LoadPartial(D d, const float* p, std::size_t count) {
  constexpr std::size_t kLanes = hn::MaxLanes(D());
  if (count >= kLanes) return hn::LoadU(d, p);
  HWY_ALIGN float buffer[kLanes] = {};
  std::memcpy(buffer, p, count * sizeof(float));
  return hn::Load(d, buffer);
}

// The part of the tile's epilogue (t.epilogue, not null) that runs on the
// accumulators of kRows rows × kVecs vectors of columns: the bias (zero
// past t.cols) and a piecewise-linear activation. Sigmoid and Tanh run on
// the stored tile instead (ActivateStoredTile).
template <class D, std::size_t kRows, std::size_t kVecs>
HWY_INLINE void EpilogueInRegisters(D d, const TileArgs& t,
                                    hn::Vec<D> (&acc)[kRows][kVecs]) {
  constexpr std::size_t kLanes = hn::MaxLanes(D());
  const Epilogue& epilogue = *t.epilogue;
  hn::Vec<D> bias[kVecs];
  HWY_UNROLL(8)
  for (std::size_t v = 0; v < kVecs; ++v) {
    bias[v] = t.bias == nullptr || t.cols <= v * kLanes
                  ? hn::Zero(d)
                  : LoadPartial(d, t.bias + v * kLanes, t.cols - v * kLanes);
  }
  const Activation activation = IsPiecewiseLinear(epilogue.activation)
                                    ? epilogue.activation
                                    : Activation::kIdentity;
  HWY_UNROLL(16)
  for (std::size_t r = 0; r < kRows; ++r) {
    HWY_UNROLL(8)
    for (std::size_t v = 0; v < kVecs; ++v) {
      acc[r][v] =
          Activate(d, activation, epilogue.alpha, hn::Add(acc[r][v], bias[v]));
    }
  }
}

// C tile (kRows × kVecs·lanes, row stride ldc) = [C +] A panel · B panel for
// one K slice, then the epilogue if this is the last slice. kRowsContiguous
// fixes a_row_step to 1 (packed or transposed A) so the kRows broadcasts
// of a k step use constant offsets from one pointer.
//
// Every loop over the accumulators is fully unrolled so that `acc` lives in
// registers throughout; a tile narrower than C's panel goes through the
// aligned `staged` copy instead of lane-count-dependent loads and stores.
template <std::size_t kRows, std::size_t kVecs, bool kRowsContiguous>
HWY_NOINLINE void MicroKernel(const TileArgs& t) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  constexpr std::size_t kLanes = hn::MaxLanes(d);
  constexpr std::size_t kWidth = kVecs * kLanes;
  const bool full_width = t.cols == kWidth;
  HWY_ALIGN float staged[kRows * kWidth];  // only for narrow tiles

  V acc[kRows][kVecs];
  if (t.load_c && !full_width) {
    for (std::size_t r = 0; r < kRows; ++r) {
      std::memset(staged + r * kWidth, 0, kWidth * sizeof(float));
      std::memcpy(staged + r * kWidth, t.c + r * t.ldc, t.cols * sizeof(float));
    }
  }
  HWY_UNROLL(16)
  for (std::size_t r = 0; r < kRows; ++r) {
    HWY_UNROLL(8)
    for (std::size_t v = 0; v < kVecs; ++v) {
      if (!t.load_c) {
        acc[r][v] = hn::Zero(d);
      } else if (full_width) {
        acc[r][v] = hn::LoadU(d, t.c + r * t.ldc + v * kLanes);
      } else {
        acc[r][v] = hn::Load(d, staged + r * kWidth + v * kLanes);
      }
    }
  }

  const float* HWY_RESTRICT a = t.a;
  const float* HWY_RESTRICT b = t.b;
  const std::size_t a_row_step = kRowsContiguous ? 1 : t.a_row_stride;
  const std::size_t a_k_step = kRowsContiguous ? t.a_k_stride : 1;
  const std::size_t b_k_stride = t.b_k_stride;
  for (std::size_t k = 0; k < t.k_len; ++k) {
    V b_row[kVecs];
    HWY_UNROLL(8)
    for (std::size_t v = 0; v < kVecs; ++v) {
      b_row[v] = hn::LoadU(d, b + v * kLanes);
    }
    HWY_UNROLL(16)
    for (std::size_t r = 0; r < kRows; ++r) {
      const V a_value = hn::Set(d, a[r * a_row_step]);
      HWY_UNROLL(8)
      for (std::size_t v = 0; v < kVecs; ++v) {
        acc[r][v] = hn::MulAdd(a_value, b_row[v], acc[r][v]);
      }
    }
    a += a_k_step;
    b += b_k_stride;
  }

  // Epilogue on the final sums: bias and piecewise-linear activations in
  // registers, the others on the stored tile below.
  const Epilogue* epilogue = t.epilogue;
  if (epilogue != nullptr) EpilogueInRegisters(d, t, acc);

  HWY_UNROLL(16)
  for (std::size_t r = 0; r < kRows; ++r) {
    HWY_UNROLL(8)
    for (std::size_t v = 0; v < kVecs; ++v) {
      if (full_width) {
        hn::StoreU(acc[r][v], d, t.c + r * t.ldc + v * kLanes);
      } else {
        hn::Store(acc[r][v], d, staged + r * kWidth + v * kLanes);
      }
    }
  }
  if (!full_width) {
    for (std::size_t r = 0; r < kRows; ++r) {
      std::memcpy(t.c + r * t.ldc, staged + r * kWidth, t.cols * sizeof(float));
    }
  }
  if (epilogue != nullptr && !IsPiecewiseLinear(epilogue->activation)) {
    ActivateStoredTile(d, epilogue->activation, epilogue->alpha, t.c, t.ldc,
                       kRows, t.cols);
  }
}

}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
