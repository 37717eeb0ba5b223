// Per-target SIMD code for the activation family; see
// include/sequent/kernels/activation.hpp for the contract and activation.cc
// for the scalar references. Included once per target by foreach_target.h;
// loss-inl.h and optimizer-inl.h reuse ForEachVector and the row helpers, so
// every function here is a template or inline (one definition per target).

// Include guard that toggles per target (Highway's skeleton pattern).
#if defined(SEQUENT_SRC_KERNELS_ACTIVATION_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_ACTIVATION_INL_H_
#undef SEQUENT_SRC_KERNELS_ACTIVATION_INL_H_
#else
#define SEQUENT_SRC_KERNELS_ACTIVATION_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "partial_vector-inl.h"
#include "sequent/kernels/activation.hpp"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// ----------------------------------------------------------------------------
// Loop helpers

// Calls op(d, i) for each full vector of d starting at element i < n, then
// covers the fewer-than-Lanes(d) leftover elements with narrower descriptors
// of 8, 4, 2 and 1 lanes (each used at most once), so a 10-element row costs
// two calls rather than ten. Every piece runs exactly the lane arithmetic of
// the body (same Exp, same FMA), never touches memory past n, and needs no
// masked stores, which are slow on AMD and on SSE4 and EMU128 a whole load
// and store that may fault past the end of the allocation.
template <std::size_t kPieceLanes, class D, class Op>
HWY_INLINE void TailPiece(D /*d*/, std::size_t n, std::size_t& i,
                          const Op& op) {
  // Only pieces narrower than d: with more lanes, CappedTag would not have
  // exactly kPieceLanes lanes, and the body has covered that much anyway.
  if constexpr (kPieceLanes < hn::MaxLanes(D())) {
    if (n - i >= kPieceLanes) {
      op(hn::CappedTag<hn::TFromD<D>, kPieceLanes>(), i);
      i += kPieceLanes;
    }
  }
}

template <class D, class Op>
HWY_INLINE void ForEachVector(D d, std::size_t n, const Op& op) {
  const std::size_t lanes = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) op(d, i);
  TailPiece<8>(d, n, i, op);
  TailPiece<4>(d, n, i, op);
  TailPiece<2>(d, n, i, op);
  TailPiece<1>(d, n, i, op);
}

// The count < Lanes(d) floats at p as a vector whose other lanes hold pad
// (−∞ for a maximum, 0 for a sum), never touching memory past p + count.
template <class D>
HWY_INLINE hn::Vec<D> LoadPadded(D d, const float* p, std::size_t count,
                                 float pad) {
  return hn::IfThenElse(hn::FirstN(d, count), LoadFirst(d, p, count),
                        hn::Set(d, pad));
}

// Largest of x[0..cols), or −∞ when cols == 0.
template <class D>
HWY_INLINE float RowMax(D d, const float* x, std::size_t cols) {
  const std::size_t lanes = hn::Lanes(d);
  constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();
  auto max_vec = hn::Set(d, kMinusInfinity);
  std::size_t c = 0;
  for (; c + lanes <= cols; c += lanes) {
    max_vec = hn::Max(max_vec, hn::LoadU(d, x + c));
  }
  if (c < cols) {
    max_vec = hn::Max(max_vec, LoadPadded(d, x + c, cols - c, kMinusInfinity));
  }
  return hn::GetLane(hn::MaxOfLanes(d, max_vec));
}

// Σ_c exp(x[c] − shift) for a row of cols floats; also stores each term to
// exps[c] unless exps is null. exps may equal x. With shift = max(x) every
// term is in (0, 1], so the sum cannot overflow: the stable softmax.
template <class D>
HWY_INLINE float SumExpShifted(D d, const float* x, float shift, float* exps,
                               std::size_t cols) {
  const std::size_t lanes = hn::Lanes(d);
  const auto shift_vec = hn::Set(d, shift);
  auto sum_vec = hn::Zero(d);
  std::size_t c = 0;
  for (; c + lanes <= cols; c += lanes) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, x + c), shift_vec));
    if (exps != nullptr) hn::StoreU(e, d, exps + c);
    sum_vec = hn::Add(sum_vec, e);
  }
  if (c < cols) {
    // The last cols − c < lanes elements as one vector, padded with `shift`
    // (a harmless exp(0)) that is masked out of the sum: a 10-class row
    // costs one Exp, not ten.
    const std::size_t remaining = cols - c;
    const auto e =
        hn::Exp(d, hn::Sub(LoadPadded(d, x + c, remaining, shift), shift_vec));
    sum_vec = hn::Add(sum_vec, hn::IfThenElseZero(hn::FirstN(d, remaining), e));
    if (exps != nullptr) StoreFirst(d, e, exps + c, remaining);
  }
  return hn::GetLane(hn::SumOfLanes(d, sum_vec));
}

// Σ_c a[c]·b[c] over one row, accumulated in float.
template <class D>
HWY_INLINE float RowDot(D d, const float* a, const float* b, std::size_t cols) {
  const std::size_t lanes = hn::Lanes(d);
  auto sum_vec = hn::Zero(d);
  std::size_t c = 0;
  for (; c + lanes <= cols; c += lanes) {
    sum_vec = hn::MulAdd(hn::LoadU(d, a + c), hn::LoadU(d, b + c), sum_vec);
  }
  if (c < cols) {
    const std::size_t remaining = cols - c;
    sum_vec = hn::MulAdd(LoadPadded(d, a + c, remaining, 0.0f),
                         LoadPadded(d, b + c, remaining, 0.0f), sum_vec);
  }
  return hn::GetLane(hn::SumOfLanes(d, sum_vec));
}

// ----------------------------------------------------------------------------
// Element-wise activations, usable on their own by other kernels (e.g. a GEMM
// epilogue) as ApplyActivation<kind>(d, x, alpha).

// 1 / (1 + e^−x), evaluated as e/(1 + e) with e = exp(−|x|) ≤ 1 for x < 0 so
// that large |x| neither overflows exp nor loses the tiny result.
template <class D, class V>
HWY_INLINE V Sigmoid(D d, V x) {
  const V e = hn::Exp(d, hn::Neg(hn::Abs(x)));
  const V positive_result =
      hn::Div(hn::Set(d, 1.0f), hn::Add(hn::Set(d, 1.0f), e));
  return hn::IfThenElse(hn::Lt(x, hn::Zero(d)), hn::Mul(e, positive_result),
                        positive_result);
}

template <Activation kind, class D, class V>
HWY_INLINE V ApplyActivation(D d, V x, V alpha) {
  if constexpr (kind == Activation::kIdentity) {
    return x;
  } else if constexpr (kind == Activation::kReLU) {
    return hn::IfThenElseZero(hn::Gt(x, hn::Zero(d)), x);
  } else if constexpr (kind == Activation::kLeakyReLU) {
    return hn::IfThenElse(hn::Gt(x, hn::Zero(d)), x, hn::Mul(alpha, x));
  } else if constexpr (kind == Activation::kSigmoid) {
    return Sigmoid(d, x);
  } else {
    static_assert(kind == Activation::kTanh);
    return hn::Tanh(d, x);
  }
}

// dy·f'(x), with f' expressed through the forward output y = f(x).
template <Activation kind, class D, class V>
HWY_INLINE V ActivationGradient(D d, V y, V dy, V alpha) {
  if constexpr (kind == Activation::kIdentity) {
    return dy;
  } else if constexpr (kind == Activation::kReLU) {
    return hn::IfThenElseZero(hn::Gt(y, hn::Zero(d)), dy);
  } else if constexpr (kind == Activation::kLeakyReLU) {
    return hn::IfThenElse(hn::Gt(y, hn::Zero(d)), dy, hn::Mul(alpha, dy));
  } else if constexpr (kind == Activation::kSigmoid) {
    return hn::Mul(dy, hn::Mul(y, hn::Sub(hn::Set(d, 1.0f), y)));
  } else {
    static_assert(kind == Activation::kTanh);
    return hn::Mul(dy, hn::NegMulAdd(y, y, hn::Set(d, 1.0f)));  // 1 − y²
  }
}

template <Activation kind>
HWY_INLINE void ActivationForwardLoop(float alpha, const float* x, float* y,
                                      std::size_t n) {
  const hn::ScalableTag<float> d;
  ForEachVector(d, n, [&](auto d, std::size_t i) HWY_ATTR {
    const auto result =
        ApplyActivation<kind>(d, hn::LoadU(d, x + i), hn::Set(d, alpha));
    hn::StoreU(result, d, y + i);
  });
}

template <Activation kind>
HWY_INLINE void ActivationBackwardLoop(float alpha, const float* y,
                                       const float* dy, float* dx,
                                       std::size_t n) {
  const hn::ScalableTag<float> d;
  ForEachVector(d, n, [&](auto d, std::size_t i) HWY_ATTR {
    const auto result = ActivationGradient<kind>(
        d, hn::LoadU(d, y + i), hn::LoadU(d, dy + i), hn::Set(d, alpha));
    hn::StoreU(result, d, dx + i);
  });
}

// ----------------------------------------------------------------------------
// Entry points (exported by activation.cc; signatures as in activation.hpp).

// x, y hold n elements; y may equal x.
inline void ActivationForward(Activation act, float alpha, const float* x,
                              float* y, std::size_t n) {
  switch (act) {
    case Activation::kIdentity:
      return ActivationForwardLoop<Activation::kIdentity>(alpha, x, y, n);
    case Activation::kReLU:
      return ActivationForwardLoop<Activation::kReLU>(alpha, x, y, n);
    case Activation::kLeakyReLU:
      return ActivationForwardLoop<Activation::kLeakyReLU>(alpha, x, y, n);
    case Activation::kSigmoid:
      return ActivationForwardLoop<Activation::kSigmoid>(alpha, x, y, n);
    case Activation::kTanh:
      return ActivationForwardLoop<Activation::kTanh>(alpha, x, y, n);
  }
}

// y, dy, dx hold n elements; dx may equal dy.
inline void ActivationBackward(Activation act, float alpha, const float* y,
                               const float* dy, float* dx, std::size_t n) {
  switch (act) {
    case Activation::kIdentity:
      return ActivationBackwardLoop<Activation::kIdentity>(alpha, y, dy, dx, n);
    case Activation::kReLU:
      return ActivationBackwardLoop<Activation::kReLU>(alpha, y, dy, dx, n);
    case Activation::kLeakyReLU:
      return ActivationBackwardLoop<Activation::kLeakyReLU>(alpha, y, dy, dx,
                                                            n);
    case Activation::kSigmoid:
      return ActivationBackwardLoop<Activation::kSigmoid>(alpha, y, dy, dx, n);
    case Activation::kTanh:
      return ActivationBackwardLoop<Activation::kTanh>(alpha, y, dy, dx, n);
  }
}

// x, y are rows×cols, row-major; y may equal x (each row is read for its max
// before it is overwritten).
inline void SoftmaxForward(const float* x, float* y, std::size_t rows,
                           std::size_t cols) {
  const hn::ScalableTag<float> d;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* x_row = x + r * cols;
    float* y_row = y + r * cols;
    const float sum =
        SumExpShifted(d, x_row, RowMax(d, x_row, cols), y_row, cols);
    const float inverse_sum = 1.0f / sum;
    ForEachVector(d, cols, [&](auto d, std::size_t c) HWY_ATTR {
      hn::StoreU(hn::Mul(hn::LoadU(d, y_row + c), hn::Set(d, inverse_sum)), d,
                 y_row + c);
    });
  }
}

// y, dy, dx are rows×cols, row-major; dx may equal dy (the row's dot product
// is complete before the row is written).
inline void SoftmaxBackward(const float* y, const float* dy, float* dx,
                            std::size_t rows, std::size_t cols) {
  const hn::ScalableTag<float> d;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* y_row = y + r * cols;
    const float* dy_row = dy + r * cols;
    float* dx_row = dx + r * cols;
    const float dot = RowDot(d, dy_row, y_row, cols);
    ForEachVector(d, cols, [&](auto d, std::size_t c) HWY_ATTR {
      const auto centred = hn::Sub(hn::LoadU(d, dy_row + c), hn::Set(d, dot));
      hn::StoreU(hn::Mul(hn::LoadU(d, y_row + c), centred), d, dx_row + c);
    });
  }
}

// murmur3's 32-bit finaliser: every input bit affects every output bit, and it
// is a bijection, so distinct counters never collide. Mirrors MixBits32 in
// activation.cc bit for bit.
template <class DU, class VU>
HWY_INLINE VU MixBits32(DU du, VU x) {
  x = hn::Xor(x, hn::ShiftRight<16>(x));
  x = hn::Mul(x, hn::Set(du, 0x85EBCA6Bu));
  x = hn::Xor(x, hn::ShiftRight<13>(x));
  x = hn::Mul(x, hn::Set(du, 0xC2B2AE35u));
  return hn::Xor(x, hn::ShiftRight<16>(x));
}

// The dropout draws for counters first_counter + [0, n), which must not wrap
// past 2^32: activation.cc splits calls at those boundaries and derives the
// two keys from (seed, counter bits 32..63). Element i is dropped when the top
// 24 bits of its hash are below drop_threshold (= rate·2^24); kept elements
// get keep_value (= 1/(1 − rate)).
inline void DropoutMaskBlock(std::uint32_t key_a, std::uint32_t key_b,
                             std::uint32_t first_counter,
                             std::uint32_t drop_threshold, float keep_value,
                             float* mask, std::size_t n) {
  const hn::ScalableTag<float> d;
  ForEachVector(d, n, [&](auto d, std::size_t i) HWY_ATTR {
    const hn::RebindToUnsigned<decltype(d)> du;
    const hn::RebindToSigned<decltype(d)> di;
    const auto counter =
        hn::Iota(du, static_cast<std::uint32_t>(first_counter + i));
    const auto once = MixBits32(du, hn::Xor(counter, hn::Set(du, key_a)));
    const auto hash = MixBits32(du, hn::Xor(once, hn::Set(du, key_b)));
    // 24-bit draws fit int32, so a signed compare works on every target.
    const auto draw = hn::BitCast(di, hn::ShiftRight<8>(hash));
    const auto drop =
        hn::Lt(draw, hn::Set(di, static_cast<std::int32_t>(drop_threshold)));
    hn::StoreU(
        hn::IfThenZeroElse(hn::RebindMask(d, drop), hn::Set(d, keep_value)), d,
        mask + i);
  });
}

// a, b, out hold n elements; out may equal a or b.
inline void Multiply(const float* a, const float* b, float* out,
                     std::size_t n) {
  const hn::ScalableTag<float> d;
  ForEachVector(d, n, [&](auto d, std::size_t i) HWY_ATTR {
    hn::StoreU(hn::Mul(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i);
  });
}

// sum (n) += x (n).
inline void Accumulate(const float* HWY_RESTRICT x, float* HWY_RESTRICT sum,
                       std::size_t n) {
  const hn::ScalableTag<float> d;
  ForEachVector(d, n, [&](auto d, std::size_t i) HWY_ATTR {
    hn::StoreU(hn::Add(hn::LoadU(d, sum + i), hn::LoadU(d, x + i)), d, sum + i);
  });
}

}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SEQUENT_SRC_KERNELS_ACTIVATION_INL_H_
